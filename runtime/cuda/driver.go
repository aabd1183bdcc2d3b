package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrNoDriver is wrapped by OpenDriver's error when no CUDA driver library
// can be loaded (no NVIDIA driver installed, or no GPU machine).
var ErrNoDriver = errors.New("no CUDA driver found")

// Library names tried in order by OpenDriver.
var (
	CUDALibraries  = []string{"libcuda.so.1", "libcuda.so"}
	NVRTCLibraries = []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}
)

// cuda driver API entry points (CUresult is an int32; 0 = CUDA_SUCCESS).
type driverAPI struct {
	cuInit                    func(flags uint32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) int32
	cuModuleUnload            func(mod uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) int32
	cuMemAlloc                func(p *uint64, bytes uintptr) int32
	cuMemFree                 func(p uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uintptr) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uintptr) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuGetErrorString          func(res int32, s **byte) int32
	nvrtcCreateProgram        func(prog *uintptr, src string, name string, nHeaders int32, headers unsafe.Pointer, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram       func(prog uintptr, nOptions int32, options unsafe.Pointer) int32
	nvrtcGetProgramLogSize    func(prog uintptr, n *uintptr) int32
	nvrtcGetProgramLog        func(prog uintptr, log *byte) int32
	nvrtcGetCUBINSize         func(prog uintptr, n *uintptr) int32
	nvrtcGetCUBIN             func(prog uintptr, bin *byte) int32
	nvrtcDestroyProgram       func(prog *uintptr) int32
	nvrtcVersion              func(major, minor *int32) int32
	cudaHandle, nvrtcHandle   uintptr
	cudaLibrary, nvrtcLibrary string
}

// dlopenFirst opens the first loadable library of names. The error names
// every library tried: dlerror's text is per OS thread and may come back
// empty (the thread is pinned during each try, but the name must not
// depend on it).
func dlopenFirst(names []string) (uintptr, string, error) {
	var errs []string
	for _, n := range names {
		runtime.LockOSThread()
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		runtime.UnlockOSThread()
		if err == nil {
			return h, n, nil
		}
		msg := strings.TrimSpace(err.Error())
		if !strings.Contains(msg, n) {
			msg = strings.TrimSpace(n + ": " + msg)
		}
		errs = append(errs, msg)
	}
	return 0, "", errors.New(strings.Join(errs, "; "))
}

// bind registers the C function name of library h into fptr.
func bind(h uintptr, lib string, fptr any, name string) error {
	sym, err := purego.Dlsym(h, name)
	if err != nil || sym == 0 {
		return fmt.Errorf("%s lacks %s: %v", lib, name, err)
	}
	purego.RegisterFunc(fptr, sym)
	return nil
}

func loadAPI(cudaLibs, nvrtcLibs []string) (*driverAPI, error) {
	a := &driverAPI{}
	h, lib, err := dlopenFirst(cudaLibs)
	if err != nil {
		return nil, fmt.Errorf("%w: libcuda.so not loadable (%v); use --backend cpu", ErrNoDriver, err)
	}
	a.cudaHandle, a.cudaLibrary = h, lib
	for _, b := range []struct {
		f    any
		name string
	}{
		{&a.cuInit, "cuInit"}, {&a.cuDeviceGetCount, "cuDeviceGetCount"}, {&a.cuDeviceGet, "cuDeviceGet"},
		{&a.cuDeviceGetName, "cuDeviceGetName"}, {&a.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&a.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"}, {&a.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
		{&a.cuCtxSetCurrent, "cuCtxSetCurrent"}, {&a.cuCtxSynchronize, "cuCtxSynchronize"},
		{&a.cuModuleLoadData, "cuModuleLoadData"}, {&a.cuModuleUnload, "cuModuleUnload"}, {&a.cuModuleGetFunction, "cuModuleGetFunction"},
		{&a.cuMemAlloc, "cuMemAlloc_v2"}, {&a.cuMemFree, "cuMemFree_v2"},
		{&a.cuMemcpyHtoD, "cuMemcpyHtoD_v2"}, {&a.cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
		{&a.cuLaunchKernel, "cuLaunchKernel"}, {&a.cuGetErrorString, "cuGetErrorString"},
	} {
		if err := bind(h, lib, b.f, b.name); err != nil {
			return nil, fmt.Errorf("%w: %v; use --backend cpu", ErrNoDriver, err)
		}
	}
	h, lib, err = dlopenFirst(nvrtcLibs)
	if err != nil {
		return nil, fmt.Errorf("CUDA driver found (%s) but NVRTC is not: libnvrtc.so not loadable (%v); install the CUDA runtime compiler (NVRTC) or use --backend cpu", a.cudaLibrary, err)
	}
	a.nvrtcHandle, a.nvrtcLibrary = h, lib
	for _, b := range []struct {
		f    any
		name string
	}{
		{&a.nvrtcCreateProgram, "nvrtcCreateProgram"}, {&a.nvrtcCompileProgram, "nvrtcCompileProgram"},
		{&a.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize"}, {&a.nvrtcGetProgramLog, "nvrtcGetProgramLog"},
		{&a.nvrtcGetCUBINSize, "nvrtcGetCUBINSize"}, {&a.nvrtcGetCUBIN, "nvrtcGetCUBIN"},
		{&a.nvrtcDestroyProgram, "nvrtcDestroyProgram"}, {&a.nvrtcVersion, "nvrtcVersion"},
	} {
		if err := bind(h, lib, b.f, b.name); err != nil {
			return nil, fmt.Errorf("NVRTC unusable: %v; use --backend cpu", err)
		}
	}
	return a, nil
}

// Driver is a Device on an NVIDIA GPU through the CUDA driver API. The
// kernels are compiled by NVRTC for the device's architecture when the
// driver is opened.
type Driver struct {
	api    *driverAPI
	mu     sync.Mutex
	dev    int32
	ctx    uintptr
	module uintptr
	funcs  map[string]uintptr
	name   string
	arch   string
}

var _ Device = (*Driver)(nil)

// OpenDriver loads libcuda and libnvrtc with dlopen, takes the primary
// context of GPU `ordinal` and compiles the embedded kernels. Without a
// driver the error wraps ErrNoDriver and reads
// "no CUDA driver found: libcuda.so not loadable (...); use --backend cpu".
func OpenDriver(ordinal int) (*Driver, error) {
	return openDriver(CUDALibraries, NVRTCLibraries, ordinal)
}

func openDriver(cudaLibs, nvrtcLibs []string, ordinal int) (*Driver, error) {
	api, err := loadAPI(cudaLibs, nvrtcLibs)
	if err != nil {
		return nil, err
	}
	d := &Driver{api: api, funcs: map[string]uintptr{}}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := api.cuInit(0); r != 0 {
		return nil, fmt.Errorf("%w: cuInit failed: %s (no GPU visible?); use --backend cpu", ErrNoDriver, d.errString(r))
	}
	var n int32
	if r := api.cuDeviceGetCount(&n); r != 0 || n == 0 {
		return nil, fmt.Errorf("%w: the CUDA driver sees no GPU; use --backend cpu", ErrNoDriver)
	}
	if ordinal < 0 || ordinal >= int(n) {
		return nil, fmt.Errorf("cuda: GPU %d requested, %d present", ordinal, n)
	}
	if err := d.check("cuDeviceGet", api.cuDeviceGet(&d.dev, int32(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", api.cuDeviceGetName(&name[0], int32(len(name)), d.dev)); err != nil {
		return nil, err
	}
	var major, minor int32
	api.cuDeviceGetAttribute(&major, 75, d.dev) // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	api.cuDeviceGetAttribute(&minor, 76, d.dev) // ..._MINOR
	d.arch = fmt.Sprintf("sm_%d%d", major, minor)
	d.name = fmt.Sprintf("%s (%s)", strings.TrimRight(string(name), "\x00"), d.arch)
	if err := d.check("cuDevicePrimaryCtxRetain", api.cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return nil, err
	}
	if err := d.check("cuCtxSetCurrent", api.cuCtxSetCurrent(d.ctx)); err != nil {
		return nil, err
	}
	cubin, err := d.compile()
	if err != nil {
		api.cuDevicePrimaryCtxRelease(d.dev)
		return nil, err
	}
	if err := d.check("cuModuleLoadData", api.cuModuleLoadData(&d.module, unsafe.Pointer(&cubin[0]))); err != nil {
		api.cuDevicePrimaryCtxRelease(d.dev)
		return nil, err
	}
	for _, k := range Kernels {
		var f uintptr
		if err := d.check("cuModuleGetFunction "+k, api.cuModuleGetFunction(&f, d.module, k)); err != nil {
			d.Close()
			return nil, err
		}
		d.funcs[k] = f
	}
	return d, nil
}

// cstrings returns NUL-terminated copies of ss and an array of their
// addresses; the caller keeps the result alive during the C call.
func cstrings(ss []string) ([][]byte, []*byte) {
	bufs := make([][]byte, len(ss))
	ptrs := make([]*byte, len(ss))
	for i, s := range ss {
		bufs[i] = append([]byte(s), 0)
		ptrs[i] = &bufs[i][0]
	}
	return bufs, ptrs
}

// compile runs NVRTC on the embedded sources for the device's architecture.
func (d *Driver) compile() ([]byte, error) {
	api := d.api
	hdrs, hdrPtrs := cstrings([]string{Header()})
	names, namePtrs := cstrings([]string{HeaderName})
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&hdrPtrs[0])
	pin.Pin(&namePtrs[0])
	pin.Pin(hdrPtrs[0])
	pin.Pin(namePtrs[0])
	var prog uintptr
	if r := api.nvrtcCreateProgram(&prog, Program(), "fhec_kernels.cu", 1, unsafe.Pointer(&hdrPtrs[0]), unsafe.Pointer(&namePtrs[0])); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcCreateProgram failed (%d)", r)
	}
	defer api.nvrtcDestroyProgram(&prog)
	opts, optPtrs := cstrings([]string{"--gpu-architecture=" + d.arch, "-default-device", "--std=c++11"})
	for i := range optPtrs {
		pin.Pin(optPtrs[i])
	}
	pin.Pin(&optPtrs[0])
	r := api.nvrtcCompileProgram(prog, int32(len(optPtrs)), unsafe.Pointer(&optPtrs[0]))
	runtime.KeepAlive(hdrs)
	runtime.KeepAlive(names)
	runtime.KeepAlive(opts)
	if r != 0 {
		var n uintptr
		api.nvrtcGetProgramLogSize(prog, &n)
		log := make([]byte, n+1)
		api.nvrtcGetProgramLog(prog, &log[0])
		return nil, fmt.Errorf("cuda: NVRTC could not compile the kernels for %s (error %d):\n%s", d.arch, r, strings.TrimRight(string(log), "\x00"))
	}
	var n uintptr
	if r := api.nvrtcGetCUBINSize(prog, &n); r != 0 || n == 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetCUBINSize failed (%d)", r)
	}
	cubin := make([]byte, n)
	if r := api.nvrtcGetCUBIN(prog, &cubin[0]); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetCUBIN failed (%d)", r)
	}
	return cubin, nil
}

func (d *Driver) errString(r int32) string {
	var s *byte
	if d.api.cuGetErrorString == nil || d.api.cuGetErrorString(r, &s) != 0 || s == nil {
		return fmt.Sprintf("CUresult %d", r)
	}
	var b []byte
	for p := unsafe.Pointer(s); *(*byte)(p) != 0 && len(b) < 512; p = unsafe.Add(p, 1) {
		b = append(b, *(*byte)(p))
	}
	return fmt.Sprintf("%s (CUresult %d)", b, r)
}

func (d *Driver) check(what string, r int32) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s", what, d.errString(r))
}

// enter makes the context current on a locked OS thread.
func (d *Driver) enter() {
	d.mu.Lock()
	runtime.LockOSThread()
	d.api.cuCtxSetCurrent(d.ctx)
}

func (d *Driver) leave() {
	runtime.UnlockOSThread()
	d.mu.Unlock()
}

// Name implements Device.
func (d *Driver) Name() string { return d.name }

// Libraries returns the driver and NVRTC libraries that were loaded.
func (d *Driver) Libraries() (string, string) { return d.api.cudaLibrary, d.api.nvrtcLibrary }

// Alloc implements Device.
func (d *Driver) Alloc(words int) (Ptr, error) {
	d.enter()
	defer d.leave()
	var p uint64
	if err := d.check("cuMemAlloc", d.api.cuMemAlloc(&p, uintptr(8*max(words, 1)))); err != nil {
		return 0, err
	}
	return Ptr(p), nil
}

// Free implements Device.
func (d *Driver) Free(p Ptr) error {
	d.enter()
	defer d.leave()
	return d.check("cuMemFree", d.api.cuMemFree(uint64(p)))
}

// CopyIn implements Device.
func (d *Driver) CopyIn(dst Ptr, src []uint64) error {
	if len(src) == 0 {
		return nil
	}
	d.enter()
	defer d.leave()
	return d.check("cuMemcpyHtoD", d.api.cuMemcpyHtoD(uint64(dst), unsafe.Pointer(&src[0]), uintptr(8*len(src))))
}

// CopyOut implements Device.
func (d *Driver) CopyOut(dst []uint64, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	d.enter()
	defer d.leave()
	return d.check("cuMemcpyDtoH", d.api.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), uint64(src), uintptr(8*len(dst))))
}

// Launch implements Device.
func (d *Driver) Launch(kernel string, threads int, args ...uint64) error {
	f, ok := d.funcs[kernel]
	if !ok {
		return fmt.Errorf("cuda: no kernel %q", kernel)
	}
	if n, _ := Arity(kernel); n != len(args) {
		return fmt.Errorf("cuda: kernel %s takes %d arguments, got %d", kernel, n, len(args))
	}
	if threads <= 0 {
		return nil
	}
	grid := (threads + BlockSize - 1) / BlockSize
	vals := append([]uint64(nil), args...)
	params := make([]unsafe.Pointer, len(vals))
	var pin runtime.Pinner
	defer pin.Unpin()
	for i := range vals {
		pin.Pin(&vals[i])
		params[i] = unsafe.Pointer(&vals[i])
	}
	d.enter()
	defer d.leave()
	return d.check("cuLaunchKernel "+kernel, d.api.cuLaunchKernel(f, uint32(grid), 1, 1, BlockSize, 1, 1, 0, 0, unsafe.Pointer(&params[0]), nil))
}

// Sync implements Device.
func (d *Driver) Sync() error {
	d.enter()
	defer d.leave()
	return d.check("cuCtxSynchronize", d.api.cuCtxSynchronize())
}

// Close unloads the kernels and releases the context.
func (d *Driver) Close() error {
	d.enter()
	defer d.leave()
	if d.module != 0 {
		d.api.cuModuleUnload(d.module)
		d.module = 0
	}
	if d.ctx != 0 {
		d.api.cuDevicePrimaryCtxRelease(d.dev)
		d.ctx = 0
	}
	return nil
}
