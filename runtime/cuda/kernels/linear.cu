/*
 * linear.cu: the pieces of Lattigo v5.0.7's double-hoisted baby-step
 * giant-step linear transformation (he.MultiplyByDiagMatrixBSGS and
 * rlwe.Evaluator.AutomorphismHoistedLazy) that the key-switching kernels
 * do not already cover. One thread per coefficient of one limb; QP
 * polynomials are compact (split Q limbs from chain 0, then P limbs from
 * chain limb1), as in keyswitch.cu.
 *
 *   fhec_mul_scalar_mont  ring.MulScalarBigint(c, P): MRed(c, MForm(P mod q))
 *   fhec_lin_mac          MulCoeffsMontgomeryLazy / ...ThenAddLazy of a QP
 *                         diagonal with both polynomials of a QP ciphertext
 *                         (or of (P c0, P c1) on the Q limbs only, the i == 0
 *                         branch), then Reduce where Lattigo's schedule does
 *   fhec_lin_giant        the outer loop's accumulation: AutomorphismNTT-
 *                         WithIndex (ThenAddLazy), CopyLvl or AddLazy, the
 *                         preceding ringQP.Add fused, then Reduce
 */
#include "fhec_cuda.h"

/* mode bits of fhec_lin_mac and fhec_lin_giant */
#define FHEC_LIN_FIRST 1    /* assign instead of accumulate */
#define FHEC_LIN_REDUCE_Q 2 /* Reduce (BRedAdd) the Q limbs at the end */
#define FHEC_LIN_REDUCE_P 4 /* Reduce the P limbs at the end */
#define FHEC_LIN_QONLY 8    /* lin_mac: inputs on the Q limbs only; lin_giant: b0 added on the Q limbs only */

/*
 * MulScalarMontgomery by a per-modulus scalar: d = MRed(a, s[c]) with s a
 * table indexed by chain index (s[c] = MForm(P mod q_c), what
 * ring.MulScalarBigint computes on the fly). d may alias a.
 */
FHEC_KERNEL fhec_mul_scalar_mont(u64 *d, const u64 *a, const u64 *s, const u64 *C, u64 L, u64 logN, u64 limb0,
                                 u64 nlimbs) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 c = limb0 + (k >> logN);
	d[k] = fhec_mred(a[k], s[c], FHEC_CONST(C, L, FHEC_C_Q, c), FHEC_CONST(C, L, FHEC_C_QINV, c));
}

/*
 * One baby step of the inner loop: acc_b (+)= MRedLazy(pt, x_b), b = 0, 1.
 * pt's Q limb l is at pt + l*N, its P limb l - split at ptp. With
 * FHEC_LIN_QONLY, x_b hold Q limbs only and the P limbs of acc are zeroed
 * (FIRST) or left as they are, as Lattigo's i == 0 branch. Then the
 * requested reductions.
 */
FHEC_KERNEL fhec_lin_mac(u64 *acc0, u64 *acc1, const u64 *x0, const u64 *x1, const u64 *pt, const u64 *ptp,
                         const u64 *C, u64 L, u64 logN, u64 nlimbs, u64 split, u64 limb1, u64 mode) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 l = k >> logN;
	u64 j = k & (((u64)1 << logN) - 1);
	u64 c = fhec_chain(l, 0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 a0, a1;
	if (l >= split && (mode & FHEC_LIN_QONLY)) {
		a0 = (mode & FHEC_LIN_FIRST) ? 0 : acc0[k];
		a1 = (mode & FHEC_LIN_FIRST) ? 0 : acc1[k];
	} else {
		u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
		u64 p = l < split ? pt[k] : ptp[((l - split) << logN) + j];
		a0 = fhec_mred_lazy(p, x0[k], q, qinv);
		a1 = fhec_mred_lazy(p, x1[k], q, qinv);
		if (!(mode & FHEC_LIN_FIRST)) {
			a0 += acc0[k];
			a1 += acc1[k];
		}
	}
	if (mode & (l < split ? FHEC_LIN_REDUCE_Q : FHEC_LIN_REDUCE_P)) {
		u64 bhi = FHEC_CONST(C, L, FHEC_C_BHI, c);
		a0 = fhec_bred_add(a0, q, bhi);
		a1 = fhec_bred_add(a1, q, bhi);
	}
	acc0[k] = a0;
	acc1[k] = a1;
}

/*
 * Outer-loop accumulation: with s the source of coefficient k (the NTT
 * automorphism index, or k itself when index is null),
 *   v0 = a0[s], CRed(a0[s] + b0[s]) when b0 is not null (ringQP.Add before
 *        the automorphism; on the Q limbs only with FHEC_LIN_QONLY),
 *   v1 = a1[s],
 *   out_b = v_b (FIRST) or out_b + v_b (lazy), then the reductions.
 * out must not alias a0, a1 or b0 when index is not null.
 */
FHEC_KERNEL fhec_lin_giant(u64 *out0, u64 *out1, const u64 *a0, const u64 *a1, const u64 *b0, const u64 *index,
                           const u64 *C, u64 L, u64 logN, u64 nlimbs, u64 split, u64 limb1, u64 mode) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 l = k >> logN;
	u64 mask = ((u64)1 << logN) - 1;
	u64 c = fhec_chain(l, 0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 s = index ? (k & ~mask) + index[k & mask] : k;
	u64 v0 = a0[s];
	u64 v1 = a1[s];
	if (b0 && (l < split || !(mode & FHEC_LIN_QONLY))) {
		v0 = fhec_cred(v0 + b0[s], q);
	}
	if (!(mode & FHEC_LIN_FIRST)) {
		v0 += out0[k];
		v1 += out1[k];
	}
	if (mode & (l < split ? FHEC_LIN_REDUCE_Q : FHEC_LIN_REDUCE_P)) {
		u64 bhi = FHEC_CONST(C, L, FHEC_C_BHI, c);
		v0 = fhec_bred_add(v0, q, bhi);
		v1 = fhec_bred_add(v1, q, bhi);
	}
	out0[k] = v0;
	out1[k] = v1;
}
