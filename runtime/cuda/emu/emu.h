/*
 * emu.h: the host emulator's launch: one trampoline per kernel unpacks the
 * 64-bit argument words, and fhec_emu_launch runs the kernel once per
 * (block, thread) in order, with blockIdx/threadIdx set (fhec_cuda.h).
 * Included by emu.go after the kernel sources.
 */
#include <stdint.h>
#include <string.h>

#define FHEC_P(i) ((u64 *)(uintptr_t)a[i])

typedef void (*fhec_emu_tramp)(const u64 *a);

static void t_ntt_fwd(const u64 *a) { fhec_ntt_fwd_stage(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]); }
static void t_ntt_inv(const u64 *a) { fhec_ntt_inv_stage(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]); }
static void t_add(const u64 *a) { fhec_add(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_sub(const u64 *a) { fhec_sub(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_neg(const u64 *a) { fhec_neg(FHEC_P(0), FHEC_P(1), FHEC_P(2), a[3], a[4], a[5], a[6]); }
static void t_mform(const u64 *a) { fhec_to_mform(FHEC_P(0), FHEC_P(1), FHEC_P(2), a[3], a[4], a[5], a[6]); }
static void t_mul_mont(const u64 *a) { fhec_mul_mont(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_mul_mont_add(const u64 *a) { fhec_mul_mont_add(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_mul_plain(const u64 *a) { fhec_mul_plain(FHEC_P(0), a[1], FHEC_P(2), a[3], FHEC_P(4), a[5], FHEC_P(6), a[7], a[8], a[9], a[10]); }
static void t_tensor(const u64 *a) { fhec_tensor(FHEC_P(0), a[1], FHEC_P(2), a[3], FHEC_P(4), a[5], FHEC_P(6), a[7], a[8], a[9], a[10]); }
static void t_rescale_prep(const u64 *a) { fhec_rescale_prep(FHEC_P(0), FHEC_P(1), a[2], FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_rescale_finish(const u64 *a) { fhec_rescale_finish(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), FHEC_P(4), a[5], a[6], a[7], a[8]); }
static void t_automorphism_ntt(const u64 *a) { fhec_automorphism_ntt(FHEC_P(0), FHEC_P(1), FHEC_P(2), a[3], a[4]); }
static void t_decompose_copy(const u64 *a) { fhec_decompose_copy(FHEC_P(0), FHEC_P(1), a[2], FHEC_P(3), a[4], a[5], a[6], a[7], a[8]); }
static void t_decompose_ext(const u64 *a) { fhec_decompose_ext(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7], a[8], a[9], a[10]); }
static void t_ks_dot(const u64 *a) { fhec_ks_dot(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), FHEC_P(4), FHEC_P(5), a[6], a[7], a[8], a[9], a[10], a[11]); }
static void t_moddown_ext(const u64 *a) { fhec_moddown_ext(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7], a[8]); }
static void t_moddown_finish(const u64 *a) { fhec_moddown_finish(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), FHEC_P(4), FHEC_P(5), a[6], a[7], a[8], a[9], a[10]); }
static void t_copy(const u64 *a) { fhec_copy(FHEC_P(0), FHEC_P(1), a[2]); }
static void t_mul_scalar_mont(const u64 *a) { fhec_mul_scalar_mont(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), a[4], a[5], a[6], a[7]); }
static void t_lin_mac(const u64 *a) { fhec_lin_mac(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), FHEC_P(4), FHEC_P(5), FHEC_P(6), a[7], a[8], a[9], a[10], a[11], a[12]); }
static void t_lin_giant(const u64 *a) { fhec_lin_giant(FHEC_P(0), FHEC_P(1), FHEC_P(2), FHEC_P(3), FHEC_P(4), FHEC_P(5), FHEC_P(6), a[7], a[8], a[9], a[10], a[11], a[12]); }

static const struct {
	const char *name;
	int arity;
	fhec_emu_tramp fn;
} fhec_emu_kernels[] = {
	{"fhec_ntt_fwd_stage", 12, t_ntt_fwd},
	{"fhec_ntt_inv_stage", 12, t_ntt_inv},
	{"fhec_add", 8, t_add},
	{"fhec_sub", 8, t_sub},
	{"fhec_neg", 7, t_neg},
	{"fhec_to_mform", 7, t_mform},
	{"fhec_mul_mont", 8, t_mul_mont},
	{"fhec_mul_mont_add", 8, t_mul_mont_add},
	{"fhec_mul_plain", 11, t_mul_plain},
	{"fhec_tensor", 11, t_tensor},
	{"fhec_rescale_prep", 8, t_rescale_prep},
	{"fhec_rescale_finish", 9, t_rescale_finish},
	{"fhec_automorphism_ntt", 5, t_automorphism_ntt},
	{"fhec_decompose_copy", 9, t_decompose_copy},
	{"fhec_decompose_ext", 11, t_decompose_ext},
	{"fhec_ks_dot", 12, t_ks_dot},
	{"fhec_moddown_ext", 9, t_moddown_ext},
	{"fhec_moddown_finish", 11, t_moddown_finish},
	{"fhec_copy", 3, t_copy},
	{"fhec_mul_scalar_mont", 8, t_mul_scalar_mont},
	{"fhec_lin_mac", 13, t_lin_mac},
	{"fhec_lin_giant", 13, t_lin_giant},
};

/* fhec_emu_lookup returns the kernel's index, or -1; *arity gets its parameter count. */
static int fhec_emu_lookup(const char *name, int *arity) {
	for (int i = 0; i < (int)(sizeof(fhec_emu_kernels) / sizeof(fhec_emu_kernels[0])); i++) {
		if (strcmp(fhec_emu_kernels[i].name, name) == 0) {
			*arity = fhec_emu_kernels[i].arity;
			return i;
		}
	}
	return -1;
}

static void fhec_emu_launch(int kernel, u64 threads, unsigned int block, const u64 *args) {
	fhec_emu_tramp fn = fhec_emu_kernels[kernel].fn;
	u64 grid = (threads + block - 1) / block;
	blockDim.x = block;
	blockDim.y = blockDim.z = 1;
	gridDim.x = (unsigned int)grid;
	gridDim.y = gridDim.z = 1;
	blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
	for (u64 b = 0; b < grid; b++) {
		blockIdx.x = (unsigned int)b;
		for (unsigned int t = 0; t < block; t++) {
			threadIdx.x = t;
			fn(args);
		}
	}
}

static void fhec_emu_copy_in(u64 dst, const u64 *src, u64 words) { memcpy((void *)(uintptr_t)dst, src, words * 8); }
static void fhec_emu_copy_out(u64 *dst, u64 src, u64 words) { memcpy(dst, (const void *)(uintptr_t)src, words * 8); }
static u64 fhec_emu_alloc(u64 words) { return (u64)(uintptr_t)calloc(words ? words : 1, 8); }
static void fhec_emu_free(u64 p) { free((void *)(uintptr_t)p); }
