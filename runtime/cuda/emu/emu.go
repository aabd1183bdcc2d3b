//go:build cudaemu

package emu

/*
#cgo CFLAGS: -O2 -DFHEC_EMU -I${SRCDIR}/../kernels -Wall -Wno-unused-function
#include <stdlib.h>
#include "fhec_cuda.h"
#include "ntt.cu"
#include "arith.cu"
#include "automorphism.cu"
#include "keyswitch.cu"
#include "linear.cu"
#include "emu.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/fhec/fhec/runtime/cuda"
)

// Device is the host emulator: device memory is C heap memory, a launch runs
// the kernel's threads one after another. Not safe for concurrent launches
// (the kernels' blockIdx/threadIdx are globals), so a mutex serializes them.
type Device struct {
	mu      sync.Mutex
	sizes   map[cuda.Ptr]int
	kernels map[string]C.int
	// Launches and Threads count kernel launches and emulated threads.
	Launches int
	Threads  int64
}

var _ cuda.Device = (*Device)(nil)

// New returns an emulated device.
func New() *Device {
	return &Device{sizes: map[cuda.Ptr]int{}, kernels: map[string]C.int{}}
}

// Name implements cuda.Device.
func (d *Device) Name() string { return "host emulation (gcc, threads as loops)" }

// Alloc implements cuda.Device (zeroed memory).
func (d *Device) Alloc(words int) (cuda.Ptr, error) {
	if words < 0 {
		return 0, fmt.Errorf("emu: alloc of %d words", words)
	}
	p := cuda.Ptr(C.fhec_emu_alloc(C.u64(words)))
	if p == 0 {
		return 0, fmt.Errorf("emu: out of memory (%d words)", words)
	}
	d.mu.Lock()
	d.sizes[p] = words
	d.mu.Unlock()
	return p, nil
}

// Free implements cuda.Device.
func (d *Device) Free(p cuda.Ptr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.sizes[p]; !ok {
		return fmt.Errorf("emu: free of unknown pointer %#x", uint64(p))
	}
	delete(d.sizes, p)
	C.fhec_emu_free(C.u64(p))
	return nil
}

// CopyIn implements cuda.Device.
func (d *Device) CopyIn(dst cuda.Ptr, src []uint64) error {
	if len(src) == 0 {
		return nil
	}
	C.fhec_emu_copy_in(C.u64(dst), (*C.u64)(unsafe.Pointer(&src[0])), C.u64(len(src)))
	return nil
}

// CopyOut implements cuda.Device.
func (d *Device) CopyOut(dst []uint64, src cuda.Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	C.fhec_emu_copy_out((*C.u64)(unsafe.Pointer(&dst[0])), C.u64(src), C.u64(len(dst)))
	return nil
}

// Launch implements cuda.Device.
func (d *Device) Launch(kernel string, threads int, args ...uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.kernels[kernel]
	if !ok {
		name := C.CString(kernel)
		var arity C.int
		k = C.fhec_emu_lookup(name, &arity)
		C.free(unsafe.Pointer(name))
		if k < 0 {
			return fmt.Errorf("emu: no kernel %q", kernel)
		}
		if int(arity) != len(args) {
			return fmt.Errorf("emu: kernel %s takes %d arguments, got %d", kernel, int(arity), len(args))
		}
		d.kernels[kernel] = k
	}
	if n, _ := cuda.Arity(kernel); n != len(args) {
		return fmt.Errorf("emu: kernel %s takes %d arguments, got %d", kernel, n, len(args))
	}
	if threads <= 0 {
		return nil
	}
	C.fhec_emu_launch(k, C.u64(threads), C.uint(cuda.BlockSize), (*C.u64)(unsafe.Pointer(&args[0])))
	d.Launches++
	d.Threads += int64(threads)
	return nil
}

// Sync implements cuda.Device (launches are synchronous).
func (d *Device) Sync() error { return nil }

// Close frees whatever is still allocated.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := range d.sizes {
		C.fhec_emu_free(C.u64(p))
	}
	d.sizes = map[cuda.Ptr]int{}
	return nil
}

// Live returns the number of allocations not yet freed.
func (d *Device) Live() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sizes)
}
