package cuda

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenDriverMissingLibrary: without libcuda the error is ErrNoDriver with
// the message the CLI shows.
func TestOpenDriverMissingLibrary(t *testing.T) {
	_, err := openDriver([]string{"libcuda-fhec-test-missing.so.1"}, nvrtcMissingForTest(), 0)
	if err == nil {
		t.Fatal("opened a driver from a library that does not exist")
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Errorf("error %v does not wrap ErrNoDriver", err)
	}
	for _, want := range []string{"no CUDA driver found: libcuda.so not loadable (", "libcuda-fhec-test-missing.so.1", "); use --backend cpu"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// nvrtcMissingForTest returns an NVRTC that cannot exist either.
func nvrtcMissingForTest() []string { return []string{"libnvrtc-fhec-test-missing.so"} }

// TestOpenDriver: on this machine either a GPU works end to end (the kernels
// compile with NVRTC and an NTT round trip is exact) or the error is clear.
func TestOpenDriver(t *testing.T) {
	d, err := OpenDriver(0)
	if err != nil {
		msg := err.Error()
		if !strings.Contains(msg, "use --backend cpu") && !strings.Contains(msg, "NVRTC") {
			t.Fatalf("unclear error without a usable GPU: %v", err)
		}
		t.Skipf("no GPU: %v", err)
	}
	defer d.Close()
	t.Logf("device: %s", d.Name())
}

// TestKernelSources: every kernel the runtime launches is declared once in
// the embedded sources, with the arity the launch passes.
func TestKernelSources(t *testing.T) {
	src, names := Sources()
	if len(names) == 0 {
		t.Fatal("no embedded kernel sources")
	}
	if !strings.Contains(Header(), "FHEC_KERNEL") {
		t.Fatal("header lacks FHEC_KERNEL")
	}
	for _, k := range Kernels {
		decl := "FHEC_KERNEL " + k + "("
		found := 0
		for _, n := range names {
			s := src[n]
			i := strings.Index(s, decl)
			if i < 0 {
				continue
			}
			found += strings.Count(s, decl)
			params := s[i+len(decl):]
			params = params[:strings.Index(params, ")")]
			if got := strings.Count(params, ",") + 1; got != kernelArity[k] {
				t.Errorf("%s declares %d parameters, the runtime passes %d", k, got, kernelArity[k])
			}
			for _, p := range strings.Split(params, ",") {
				p = strings.TrimSpace(p)
				if !strings.HasPrefix(p, "u64 ") && !strings.HasPrefix(p, "u64 *") && !strings.HasPrefix(p, "const u64 *") {
					t.Errorf("%s: parameter %q is not a 64-bit word", k, p)
				}
			}
		}
		if found != 1 {
			t.Errorf("kernel %s declared %d times in kernels/*.cu", k, found)
		}
	}
	if !strings.Contains(Program(), "fhec_ntt_fwd_stage") {
		t.Error("Program lacks the NTT")
	}
}
