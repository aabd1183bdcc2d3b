/*
 * arith.cu: element-wise RNS kernels, one thread per coefficient, over nlimbs
 * consecutive limbs of N = 2^logN words whose moduli are chain entries
 * limb0 .. limb0+nlimbs-1. Each reproduces a Lattigo ring/vec_ops.go loop.
 */
#include "fhec_cuda.h"

#define FHEC_ELEMWISE_PROLOGUE                                                                      \
	u64 k = fhec_tid();                                                                             \
	if (k >= (nlimbs << logN)) {                                                                    \
		return;                                                                                     \
	}                                                                                               \
	u64 c = limb0 + (k >> logN);                                                                    \
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);

/* addvec: d = CRed(a + b). */
FHEC_KERNEL fhec_add(u64 *d, const u64 *a, const u64 *b, const u64 *C, u64 L, u64 logN, u64 limb0,
                     u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_cred(a[k] + b[k], q);
}

/* subvec: d = CRed(a + q - b). */
FHEC_KERNEL fhec_sub(u64 *d, const u64 *a, const u64 *b, const u64 *C, u64 L, u64 logN, u64 limb0,
                     u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_cred(a[k] + q - b[k], q);
}

/* negvec: d = q - a. */
FHEC_KERNEL fhec_neg(u64 *d, const u64 *a, const u64 *C, u64 L, u64 logN, u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = q - a[k];
}

/* mformvec: d = a * 2^64 mod q. */
FHEC_KERNEL fhec_to_mform(u64 *d, const u64 *a, const u64 *C, u64 L, u64 logN, u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_mform(a[k], q, FHEC_CONST(C, L, FHEC_C_BHI, c), FHEC_CONST(C, L, FHEC_C_BLO, c));
}

/* mulcoeffsmontgomeryvec: d = MRed(a, b). */
FHEC_KERNEL fhec_mul_mont(u64 *d, const u64 *a, const u64 *b, const u64 *C, u64 L, u64 logN, u64 limb0,
                          u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_mred(a[k], b[k], q, FHEC_CONST(C, L, FHEC_C_QINV, c));
}

/* mulcoeffsmontgomerythenaddvec: d = CRed(d + MRed(a, b)). */
FHEC_KERNEL fhec_mul_mont_add(u64 *d, const u64 *a, const u64 *b, const u64 *C, u64 L, u64 logN,
                              u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_cred(d[k] + fhec_mred(a[k], b[k], q, FHEC_CONST(C, L, FHEC_C_QINV, c)), q);
}

/*
 * Fused ciphertext x plaintext (ckks Evaluator.Mul, plaintext case):
 * for each of npolys ciphertext polynomials (stride words apart),
 * d_p = MRed(MForm(pt), ct_p). MForm is computed once per coefficient and
 * kept in a register instead of the Lattigo buffer: same bits, one pass.
 */
FHEC_KERNEL fhec_mul_plain(u64 *d, u64 dstride, const u64 *ct, u64 stride, const u64 *pt, u64 npolys,
                           const u64 *C, u64 L, u64 logN, u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
	u64 m = fhec_mform(pt[k], q, FHEC_CONST(C, L, FHEC_C_BHI, c), FHEC_CONST(C, L, FHEC_C_BLO, c));
	for (u64 p = 0; p < npolys; p++) {
		d[p * dstride + k] = fhec_mred(m, ct[p * stride + k], q, qinv);
	}
}

/*
 * Fused degree-1 x degree-1 tensor product (ckks Evaluator.Mul, ciphertext
 * case, no relinearization): with a0m = MForm(a0), a1m = MForm(a1),
 *   d0 = MRed(a0m, b0), d1 = CRed(MRed(a0m, b1) + MRed(a1m, b0)), d2 = MRed(a1m, b1).
 * Reads 4 polynomials and writes 3 once, where Lattigo makes 7 passes.
 */
FHEC_KERNEL fhec_tensor(u64 *d, u64 dstride, const u64 *a, u64 astride, const u64 *b, u64 bstride,
                        const u64 *C, u64 L, u64 logN, u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
	u64 bhi = FHEC_CONST(C, L, FHEC_C_BHI, c);
	u64 blo = FHEC_CONST(C, L, FHEC_C_BLO, c);
	u64 a0 = fhec_mform(a[k], q, bhi, blo);
	u64 a1 = fhec_mform(a[astride + k], q, bhi, blo);
	u64 b0 = b[k];
	u64 b1 = b[bstride + k];
	d[k] = fhec_mred(a0, b0, q, qinv);
	d[2 * dstride + k] = fhec_mred(a1, b1, q, qinv);
	u64 t = fhec_mred(a0, b1, q, qinv);
	d[dstride + k] = fhec_cred(t + fhec_mred(a1, b0, q, qinv), q);
}

/*
 * Rescale, step 2 of ring.DivRoundByLastModulusNTT (after INTTLazy of the
 * last limb into `last`): for limbs i < level,
 *   buff_i = CRed(last + pHalf, q_level) + (q_i - BRedAdd(pHalf, q_i))
 * (AddScalar then AddScalarLazy, fused). limb0 must be 0; `level` is the
 * chain index of the modulus being dropped.
 */
FHEC_KERNEL fhec_rescale_prep(u64 *buff, const u64 *last, u64 level, const u64 *C, u64 L, u64 logN,
                              u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	u64 ql = FHEC_CONST(C, L, FHEC_C_Q, level);
	u64 pHalf = (ql - 1) >> 1;
	u64 v = fhec_cred(last[k & (((u64)1 << logN) - 1)] + pHalf, ql);
	buff[k] = v + (q - fhec_bred_add(pHalf, q, FHEC_CONST(C, L, FHEC_C_BHI, c)));
}

/*
 * Rescale, last step (SubThenMulScalarMontgomeryTwoModulus):
 * d_i = MRed(2 q_i - p0_i + buff_i, rc_i) with rc = RescaleConstants[level-1].
 */
FHEC_KERNEL fhec_rescale_finish(u64 *d, const u64 *p0, const u64 *buff, const u64 *rc, const u64 *C,
                                u64 L, u64 logN, u64 limb0, u64 nlimbs) {
	FHEC_ELEMWISE_PROLOGUE
	d[k] = fhec_mred(2 * q - p0[k] + buff[k], rc[c], q, FHEC_CONST(C, L, FHEC_C_QINV, c));
}
