/*
 * fhec_cuda.h: the portability layer under every fhec CUDA kernel.
 *
 * The same kernel sources compile two ways:
 *   - by NVRTC at run time (__CUDACC__ / __CUDACC_RTC__ defined): real CUDA;
 *   - by the host C compiler under FHEC_EMU (runtime/cuda/emu, build tag
 *     cudaemu): every kernel is a plain C function, and the emulator's launch
 *     runs it once per (block, thread) with blockIdx/threadIdx set, in order.
 *
 * Kernels must therefore be written in the common subset of C99 and CUDA C++:
 * no __syncthreads, no shared memory, no C++ features, no pointers to
 * globals. Every kernel parameter is 8 bytes (a device pointer or a u64), so
 * the launch ABI is one array of 64-bit words on both sides.
 *
 * The modular arithmetic reproduces Lattigo v5.0.7's ring package
 * (ring/modular_reduction.go) operation for operation, lazy reductions
 * included, so intermediate values and outputs agree bit for bit.
 */
#ifndef FHEC_CUDA_H
#define FHEC_CUDA_H

typedef unsigned long long u64;

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

#define FHEC_KERNEL extern "C" __global__ void
#define FHEC_DEV static __device__ __forceinline__

FHEC_DEV u64 fhec_mulhi(u64 a, u64 b) { return __umul64hi(a, b); }

#else /* host emulation */

#ifndef FHEC_EMU
#error "fhec_cuda.h: compile with NVRTC or define FHEC_EMU"
#endif

typedef struct { unsigned int x, y, z; } fhec_dim3;

/* Set by the emulator's launch loop before each (block, thread) call. */
static fhec_dim3 blockIdx, threadIdx, blockDim, gridDim;

#define FHEC_KERNEL static void
#define FHEC_DEV static inline

FHEC_DEV u64 fhec_mulhi(u64 a, u64 b) {
	return (u64)(((unsigned __int128)a * b) >> 64);
}

#endif

/* Global thread index over a 1-D grid (x) of 1-D blocks. */
FHEC_DEV u64 fhec_tid(void) {
	return (u64)blockIdx.x * (u64)blockDim.x + (u64)threadIdx.x;
}

/* ---- Lattigo ring/modular_reduction.go ---- */

/* CRed: a mod q for a in [0, 2q). */
FHEC_DEV u64 fhec_cred(u64 a, u64 q) { return a >= q ? a - q : a; }

/* MRed: x*y/2^64 mod q, in [0, q). qinv = q^-1 mod 2^64 (MRedConstant). */
FHEC_DEV u64 fhec_mred(u64 x, u64 y, u64 q, u64 qinv) {
	u64 mhi = fhec_mulhi(x, y);
	u64 mlo = x * y;
	u64 hhi = fhec_mulhi(mlo * qinv, q);
	u64 r = mhi - hhi + q;
	return r >= q ? r - q : r;
}

/* MRedLazy: x*y/2^64 mod q, in [0, 2q). */
FHEC_DEV u64 fhec_mred_lazy(u64 x, u64 y, u64 q, u64 qinv) {
	u64 ahi = fhec_mulhi(x, y);
	u64 alo = x * y;
	u64 h = fhec_mulhi(alo * qinv, q);
	return ahi - h + q;
}

/* BRedAdd: a mod q, in [0, q). bhi = BRedConstant(q)[0]. */
FHEC_DEV u64 fhec_bred_add(u64 a, u64 q, u64 bhi) {
	u64 mhi = fhec_mulhi(a, bhi);
	u64 r = a - mhi * q;
	return r >= q ? r - q : r;
}

/* MForm: a*2^64 mod q, in [0, q). (bhi, blo) = BRedConstant(q). */
FHEC_DEV u64 fhec_mform(u64 a, u64 q, u64 bhi, u64 blo) {
	u64 mhi = fhec_mulhi(a, blo);
	u64 r = (u64)0 - (a * bhi + mhi) * q;
	return r >= q ? r - q : r;
}

/*
 * Chain index of limb l of a polynomial whose first `split` limbs are chain
 * entries limb0, limb0+1, ... and whose other limbs are limb1, limb1+1, ...:
 * a QP polynomial (Q limbs from 0, then P limbs from NQ) is one launch.
 */
FHEC_DEV u64 fhec_chain(u64 l, u64 limb0, u64 split, u64 limb1) {
	return l < split ? limb0 + l : limb1 + (l - split);
}

/* (hi, lo) += a*b on 128 bits (the accumulation of Lattigo's multSum). */
FHEC_DEV void fhec_mac128(u64 *hi, u64 *lo, u64 a, u64 b) {
	u64 mlo = a * b;
	u64 mhi = fhec_mulhi(a, b);
	u64 s = *lo + mlo;
	*hi += mhi + (s < mlo ? 1 : 0);
	*lo = s;
}

/*
 * Per-modulus constants, one entry per RNS limb of the whole chain (Q then P),
 * laid out as consecutive u64 arrays of length L in one device buffer:
 *   q[L] qinv[L] bhi[L] blo[L] ninv[L]
 */
#define FHEC_C_Q 0
#define FHEC_C_QINV 1
#define FHEC_C_BHI 2
#define FHEC_C_BLO 3
#define FHEC_C_NINV 4
#define FHEC_C_COUNT 5
#define FHEC_CONST(c, L, which, i) ((c)[(u64)(which) * (L) + (i)])

#endif /* FHEC_CUDA_H */
