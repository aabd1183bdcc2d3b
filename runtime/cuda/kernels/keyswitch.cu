/*
 * keyswitch.cu: Lattigo v5.0.7's hybrid key switching (rlwe.Evaluator
 * GadgetProduct), one thread per coefficient of one output limb:
 *
 *   decomposition  Decomposer.DecomposeAndSplit: digit i of the INTT'd input,
 *                  lifted to every limb of QP (fhec_decompose_copy for a
 *                  one-limb digit, fhec_decompose_ext for the centred fast
 *                  basis conversion of a several-limb digit);
 *   inner product  MulCoeffsMontgomeryLazy(ThenAddLazy) with the gadget
 *                  key, and Reduce where Lattigo reduces (fhec_ks_dot);
 *   ModDown        BasisExtender.ModDownQPtoQNTT: ModUpPtoQ of the INTT'd P
 *                  part (fhec_moddown_ext), then (P^-1)(a - b) mod q
 *                  (fhec_moddown_finish), fused with the final ciphertext add.
 *
 * QP polynomials are compact: the `split` Q limbs (chain 0..split-1), then
 * the P limbs (chain limb1..). Constant tables are Lattigo's own
 * (ModUpConstants, modDownConstants), read from its structures on the host
 * and laid out as documented at each kernel. The correction term v of the
 * basis extension is computed in double precision with the same operations
 * in the same order as Lattigo (y/q summed, truncated), so it agrees.
 */
#include "fhec_cuda.h"

/*
 * One-limb digit (DecomposeAndSplit with decompLvl < 0): the centred
 * coefficient of limb s of x (N words at x), reduced into every QP limb.
 */
FHEC_KERNEL fhec_decompose_copy(u64 *d, const u64 *x, u64 s, const u64 *C, u64 L, u64 logN, u64 nlimbs,
                                u64 split, u64 limb1) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 c = fhec_chain(k >> logN, 0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 qs = FHEC_CONST(C, L, FHEC_C_Q, s);
	u64 coeff = x[k & (((u64)1 << logN) - 1)];
	u64 neg = 0;
	if (coeff >= (qs >> 1)) {
		coeff = qs - coeff;
		neg = 1;
	}
	u64 t = fhec_bred_add(coeff, q, FHEC_CONST(C, L, FHEC_C_BHI, c));
	d[k] = neg ? q - t : t;
}

/*
 * Several-limb digit (DecomposeAndSplit, fast basis conversion): limbs
 * start .. start+count-1 of x (the INTT'd input, Q limbs from chain 0)
 * extended to every other QP limb, then QHalf subtracted (SubScalarBigint).
 * The digit's own limbs get x itself: Lattigo copies the NTT-domain input
 * there, and NTT(INTT(cx)) = cx bit for bit (both reduced).
 * T: qoverqiinvqi[count], QHalf mod q_start+i [count], then one row of
 * 2*count+2 words per chain index t: qoverqimodp[t][count],
 * vtimesqmodp[t][count+1], QHalf mod t.
 */
FHEC_KERNEL fhec_decompose_ext(u64 *d, const u64 *x, const u64 *T, const u64 *C, u64 L, u64 logN, u64 nlimbs,
                               u64 split, u64 limb1, u64 start, u64 count) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 l = k >> logN;
	u64 j = k & (((u64)1 << logN) - 1);
	if (l < split && l >= start && l < start + count) {
		d[k] = x[k];
		return;
	}
	u64 c = fhec_chain(l, 0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	const u64 *row = T + 2 * count + c * (2 * count + 2);
	/* reconstructRNSCentered: y_i, and v = floor(sum y_i / q_i) */
	double vi = 0;
	for (u64 i = 0; i < count; i++) {
		u64 s = start + i;
		u64 qs = FHEC_CONST(C, L, FHEC_C_Q, s);
		u64 y = fhec_mred(x[(s << logN) + j] + T[count + i], T[i], qs, FHEC_CONST(C, L, FHEC_C_QINV, s));
		vi += (double)y / (double)qs;
	}
	u64 v = (u64)vi;
	if (v > count) {
		v = count; /* unreachable (each y_i/q_i < 1); keeps the read in the table */
	}
	/* multSum: 128-bit sum of y_i * (Q/q_i mod t), lazy Montgomery reduction */
	u64 hi = 0, lo = 0;
	for (u64 i = 0; i < count; i++) {
		u64 s = start + i;
		u64 qs = FHEC_CONST(C, L, FHEC_C_Q, s);
		u64 y = fhec_mred(x[(s << logN) + j] + T[count + i], T[i], qs, FHEC_CONST(C, L, FHEC_C_QINV, s));
		fhec_mac128(&hi, &lo, y, row[i]);
	}
	u64 h = fhec_mulhi(lo * FHEC_CONST(C, L, FHEC_C_QINV, c), q);
	u64 r = hi - h + q + row[count + v];
	d[k] = fhec_cred(r + q - row[2 * count + 1], q);
}

/* mode bits for fhec_ks_dot */
#define FHEC_KS_FIRST 1    /* first digit: assign instead of accumulate */
#define FHEC_KS_REDUCE_Q 2 /* Reduce (BRedAdd) the Q limbs after this digit */
#define FHEC_KS_REDUCE_P 4 /* Reduce the P limbs after this digit */

/*
 * One digit of the inner product (MulCoeffsMontgomeryLazy, then
 * ...ThenAddLazy): acc_b (+)= MRedLazy(key_b, d) for b = 0, 1, reduced
 * where Lattigo's schedule reduces. key_b holds the chain's limbs at
 * chain index * N (Q from 0, P from NQ).
 */
FHEC_KERNEL fhec_ks_dot(u64 *acc0, u64 *acc1, const u64 *d, const u64 *key0, const u64 *key1, const u64 *C,
                        u64 L, u64 logN, u64 nlimbs, u64 split, u64 limb1, u64 mode) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 l = k >> logN;
	u64 c = fhec_chain(l, 0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
	u64 kk = (c << logN) + (k & (((u64)1 << logN) - 1));
	u64 a0 = fhec_mred_lazy(key0[kk], d[k], q, qinv);
	u64 a1 = fhec_mred_lazy(key1[kk], d[k], q, qinv);
	if (!(mode & FHEC_KS_FIRST)) {
		a0 += acc0[k];
		a1 += acc1[k];
	}
	if (mode & (l < split ? FHEC_KS_REDUCE_Q : FHEC_KS_REDUCE_P)) {
		u64 bhi = FHEC_CONST(C, L, FHEC_C_BHI, c);
		a0 = fhec_bred_add(a0, q, bhi);
		a1 = fhec_bred_add(a1, q, bhi);
	}
	acc0[k] = a0;
	acc1[k] = a1;
}

/*
 * ModDown, basis extension (ModUpPtoQ after INTTLazy of the P part):
 * b_i = ModUpExact(p + PHalf) - PHalf mod q_i for the nlimbs Q limbs, from
 * the np P limbs at p (chain pchain..). T: qoverqiinvqi[np], PHalf mod p_k
 * [np], then one row of 2*np+3 words per Q chain index i: qoverqimodp[i][np],
 * vtimesqmodp[i][np+1], PHalf mod q_i, modDownConstants[i].
 */
FHEC_KERNEL fhec_moddown_ext(u64 *b, const u64 *p, const u64 *T, const u64 *C, u64 L, u64 logN, u64 nlimbs,
                             u64 pchain, u64 np) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 i = k >> logN;
	u64 j = k & (((u64)1 << logN) - 1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, i);
	const u64 *row = T + 2 * np + i * (2 * np + 3);
	double vi = 0;
	for (u64 s = 0; s < np; s++) {
		u64 ps = FHEC_CONST(C, L, FHEC_C_Q, pchain + s);
		u64 a = fhec_cred(p[(s << logN) + j] + T[np + s], ps);
		u64 y = fhec_mred(a, T[s], ps, FHEC_CONST(C, L, FHEC_C_QINV, pchain + s));
		vi += (double)y / (double)ps;
	}
	u64 v = (u64)vi;
	if (v > np) {
		v = np; /* unreachable; keeps the read in the table */
	}
	u64 hi = 0, lo = 0;
	for (u64 s = 0; s < np; s++) {
		u64 ps = FHEC_CONST(C, L, FHEC_C_Q, pchain + s);
		u64 a = fhec_cred(p[(s << logN) + j] + T[np + s], ps);
		u64 y = fhec_mred(a, T[s], ps, FHEC_CONST(C, L, FHEC_C_QINV, pchain + s));
		fhec_mac128(&hi, &lo, y, row[s]);
	}
	u64 h = fhec_mulhi(lo * FHEC_CONST(C, L, FHEC_C_QINV, i), q);
	u64 r = hi - h + q + row[np + v];
	b[k] = fhec_cred(r + q - row[2 * np + 1], q);
}

/*
 * ModDown, last step (SubThenMulScalarMontgomeryTwoModulus with
 * q - modDownConstants): d = MRed(2q - a + b, q - mdc); with hasadd,
 * d = CRed(add + d) (the ciphertext addition of Relinearize/Automorphism).
 * T is fhec_moddown_ext's table. d may alias a.
 */
FHEC_KERNEL fhec_moddown_finish(u64 *d, const u64 *a, const u64 *b, const u64 *add, const u64 *T,
                                const u64 *C, u64 L, u64 logN, u64 nlimbs, u64 np, u64 hasadd) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 i = k >> logN;
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, i);
	u64 mdc = T[2 * np + i * (2 * np + 3) + 2 * np + 2];
	u64 r = fhec_mred(2 * q - a[k] + b[k], q - mdc, q, FHEC_CONST(C, L, FHEC_C_QINV, i));
	if (hasadd) {
		r = fhec_cred(add[k] + r, q);
	}
	d[k] = r;
}

/* Device-to-device copy of n words. */
FHEC_KERNEL fhec_copy(u64 *d, const u64 *a, u64 n) {
	u64 k = fhec_tid();
	if (k < n) {
		d[k] = a[k];
	}
}
