// Package emu runs fhec's CUDA kernels on the host: the kernel sources of
// runtime/cuda/kernels compile with the C compiler under FHEC_EMU (threads
// become loops) and Device implements cuda.Device over them.
//
// It needs cgo and is built only with the cudaemu build tag:
//
//	go test -tags cudaemu ./runtime/cuda/...
//
// The tests compare every kernel, and the ciphertext-level operations built
// from them, bit for bit with Lattigo's CPU results.
package emu
