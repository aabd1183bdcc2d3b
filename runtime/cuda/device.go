package cuda

// Ptr is a device address (a CUdeviceptr; a host address under emulation).
type Ptr uint64

// Add returns p advanced by words 64-bit words.
func (p Ptr) Add(words int) Ptr { return p + Ptr(8*words) }

// BlockSize is the number of threads per block of every launch.
const BlockSize = 256

// Device runs fhec kernels: the CUDA driver (OpenDriver) or the host
// emulator (package emu). Every kernel parameter is a 64-bit word (a Ptr or
// an integer); a launch runs `threads` threads in ceil(threads/BlockSize)
// blocks of BlockSize, in stream order.
type Device interface {
	// Name describes the device, e.g. "NVIDIA H100 (sm_90)" or "host emulation".
	Name() string
	Alloc(words int) (Ptr, error)
	Free(p Ptr) error
	CopyIn(dst Ptr, src []uint64) error
	CopyOut(dst []uint64, src Ptr) error
	Launch(kernel string, threads int, args ...uint64) error
	// Sync waits for every launch and returns the first error.
	Sync() error
	Close() error
}
