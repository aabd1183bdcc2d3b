package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/sysmem"
)

// TestMemoryCheck: on a machine with less memory than a plan's estimated
// peak, keygen, run and bench refuse at once with the sizes and the way
// out, instead of being killed part-way; compile warns;
// --skip-memory-check goes ahead.
func TestMemoryCheck(t *testing.T) {
	dir := t.TempDir()
	setup(t, dir) // the whole contract, with this machine's memory
	p := func(s string) string { return filepath.Join(dir, s) }
	defer func(f func() (int64, bool)) { sysmem.Available = f }(sysmem.Available)
	sysmem.Available = func() (int64, bool) { return 1 << 20, true } // 1 MiB
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"keygen", p("m.plan"), "-o", p("k2")}, "key generation needs about"},
		{[]string{"run", p("m.plan"), "--eval-key", p("keys/eval.key"), p("x.ct"), "-o", p("y2.ct")}, "evaluation needs about"},
		{[]string{"bench", p("m.plan")}, "benchmarking needs about"},
	} {
		out, err := cli(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "1.0 MiB available") || !strings.Contains(err.Error(), "--skip-memory-check") {
			t.Errorf("fhec %s: error %v, want one saying %q, the memory available and the way out\n%s", tc.args[0], err, tc.msg, out)
		}
	}
	out, err := cli("compile", p("m.onnx"), "-o", p("m2.plan"), "--calibration", p("x.npy"), "--insecure")
	if err != nil || !strings.Contains(out, "fhec: warning: on this machine, key generation needs about") {
		t.Errorf("compile: %v, want a warning about the memory\n%s", err, out)
	}
	for _, args := range [][]string{
		{"keygen", p("m.plan"), "-o", p("k2"), "--skip-memory-check"},
		{"run", p("m.plan"), "--eval-key", p("keys/eval.key"), p("x.ct"), "-o", p("y2.ct"), "--skip-memory-check"},
	} {
		if out, err := cli(args...); err != nil {
			t.Errorf("fhec %s --skip-memory-check: %v\n%s", args[0], err, out)
		}
	}
}
