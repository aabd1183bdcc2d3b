/*
 * ntt.cu: Lattigo's negacyclic NTT and inverse NTT over Z_q[X]/(X^N+1), one
 * launch per stage, one thread per butterfly, limbs side by side.
 *
 * Data: nlimbs consecutive limbs of N words (limb l at src + l*N) whose moduli
 * are chain entries fhec_chain(l, limb0, split, limb1): limb0.. for l < split,
 * limb1.. after (a QP polynomial in one launch; split = nlimbs otherwise).
 * Twiddles: the chain's RootsForward / RootsBackward tables (Montgomery
 * form, bit-reversed order), N words per chain entry, so the root of group i
 * at stage m of chain entry c is roots[c*N + m + i] exactly as in ring/ntt.go.
 *
 * The host picks each stage's reduction mode to reproduce Lattigo's schedule
 * (nttUnrolled16Lazy / inttLazyUnrolled16), so even the lazy outputs agree.
 * Each butterfly reads and writes the same two words: stages may run in place.
 */
#include "fhec_cuda.h"

/* mode bits for fhec_ntt_fwd_stage */
#define FHEC_NTT_REDUCE_U 1 /* butterfly(): U >= 4q is reduced first */
#define FHEC_NTT_FINAL_BRED 2 /* last stage of NTTStandard: BRedAdd both outputs */

/* Forward stage m = 2^logm (m = 1, 2, ..., N/2), t = N/(2m). */
FHEC_KERNEL fhec_ntt_fwd_stage(u64 *dst, const u64 *src, const u64 *roots, const u64 *C, u64 L,
                               u64 logN, u64 limb0, u64 nlimbs, u64 logm, u64 mode, u64 split,
                               u64 limb1) {
	u64 k = fhec_tid();
	u64 logh = logN - 1;
	if (k >= (nlimbs << logh)) {
		return;
	}
	u64 l = k >> logh;
	u64 b = k & (((u64)1 << logh) - 1);
	u64 logt = logh - logm;
	u64 i = b >> logt;
	u64 j = b & (((u64)1 << logt) - 1);
	u64 x = (i << (logt + 1)) + j;
	u64 y = x + ((u64)1 << logt);
	u64 c = fhec_chain(l, limb0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
	u64 F = roots[(c << logN) + ((u64)1 << logm) + i];
	const u64 *s = src + (l << logN);
	u64 *d = dst + (l << logN);
	u64 U = s[x];
	u64 V = s[y];
	if (mode & FHEC_NTT_REDUCE_U) {
		if (U >= 4 * q) {
			U -= 4 * q;
		}
	}
	V = fhec_mred_lazy(V, F, q, qinv);
	u64 X = U + V;
	u64 Y = U + 2 * q - V;
	if (mode & FHEC_NTT_FINAL_BRED) {
		u64 bhi = FHEC_CONST(C, L, FHEC_C_BHI, c);
		X = fhec_bred_add(X, q, bhi);
		Y = fhec_bred_add(Y, q, bhi);
	}
	d[x] = X;
	d[y] = Y;
}

/* mode bits for fhec_ntt_inv_stage (last stage only) */
#define FHEC_INTT_FINAL_NINV 1      /* INTTStandard: MRed by N^-1 */
#define FHEC_INTT_FINAL_NINV_LAZY 2 /* INTTStandardLazy: MRedLazy by N^-1 */

/* Inverse stage with t = 2^logt (t = 1, 2, ..., N/2), h = N/(2t) groups. */
FHEC_KERNEL fhec_ntt_inv_stage(u64 *dst, const u64 *src, const u64 *roots, const u64 *C, u64 L,
                               u64 logN, u64 limb0, u64 nlimbs, u64 logt, u64 mode, u64 split,
                               u64 limb1) {
	u64 k = fhec_tid();
	u64 logh = logN - 1;
	if (k >= (nlimbs << logh)) {
		return;
	}
	u64 l = k >> logh;
	u64 b = k & (((u64)1 << logh) - 1);
	u64 i = b >> logt;
	u64 j = b & (((u64)1 << logt) - 1);
	u64 x = (i << (logt + 1)) + j;
	u64 y = x + ((u64)1 << logt);
	u64 c = fhec_chain(l, limb0, split, limb1);
	u64 q = FHEC_CONST(C, L, FHEC_C_Q, c);
	u64 qinv = FHEC_CONST(C, L, FHEC_C_QINV, c);
	u64 F = roots[(c << logN) + ((u64)1 << (logh - logt)) + i];
	const u64 *s = src + (l << logN);
	u64 *d = dst + (l << logN);
	u64 U = s[x];
	u64 V = s[y];
	u64 X = U + V;
	if (X >= 2 * q) {
		X -= 2 * q;
	}
	u64 Y = fhec_mred_lazy(U + 4 * q - V, F, q, qinv);
	if (mode & FHEC_INTT_FINAL_NINV) {
		u64 ninv = FHEC_CONST(C, L, FHEC_C_NINV, c);
		X = fhec_mred(X, ninv, q, qinv);
		Y = fhec_mred(Y, ninv, q, qinv);
	} else if (mode & FHEC_INTT_FINAL_NINV_LAZY) {
		u64 ninv = FHEC_CONST(C, L, FHEC_C_NINV, c);
		X = fhec_mred_lazy(X, ninv, q, qinv);
		Y = fhec_mred_lazy(Y, ninv, q, qinv);
	}
	d[x] = X;
	d[y] = Y;
}
