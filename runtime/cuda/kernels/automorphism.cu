/*
 * automorphism.cu: X -> X^g in the NTT domain (ring.AutomorphismNTTWithIndex):
 * d[l][j] = a[l][index[j]], index = ring.AutomorphismNTTIndex(N, 2N, g),
 * computed once per Galois element on the host. Not in place.
 */
#include "fhec_cuda.h"

FHEC_KERNEL fhec_automorphism_ntt(u64 *d, const u64 *a, const u64 *index, u64 logN, u64 nlimbs) {
	u64 k = fhec_tid();
	if (k >= (nlimbs << logN)) {
		return;
	}
	u64 mask = ((u64)1 << logN) - 1;
	d[k] = a[(k & ~mask) + index[k & mask]];
}
