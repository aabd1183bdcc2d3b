// Package cuda is fhec's GPU kernel runtime for CKKS plans.
//
// The kernels are CUDA C sources embedded in the binary (kernels/*.cu, over
// the portability header kernels/fhec_cuda.h). On a machine with an NVIDIA
// driver they are compiled at run time by NVRTC and launched through the CUDA
// driver API; both libraries are opened with dlopen (github.com/ebitengine/purego),
// so building fhec needs neither cgo nor a CUDA toolkit. Without a driver,
// OpenDriver fails with a clear error.
//
// The same sources compile with the host C compiler under FHEC_EMU
// (package runtime/cuda/emu, build tag cudaemu): each kernel becomes a C
// function run once per (block, thread). Everything above the Device
// interface (Context: NTT stage schedules, rescale, automorphisms, key
// switching; Executor: whole plans instruction by instruction) is shared by
// both, and the emulation tests compare it bit for bit with Lattigo and
// with the CPU runtime.
//
// The kernels reproduce Lattigo v5.0.7's arithmetic operation for operation:
// the same twiddle tables (Montgomery form, bit-reversed), the same lazy
// reduction schedule of the unrolled NTT, Montgomery (MRed) products of an
// MForm operand, Barrett (BRedAdd) final reductions.
package cuda
