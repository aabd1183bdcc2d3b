package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
	cudart "github.com/fhec/fhec/runtime/cuda"
)

// TestBackendCUDA: compile --backend cuda records a kernel schedule (no GPU
// needed); run --backend cuda without a GPU fails with a clear message.
func TestBackendCUDA(t *testing.T) {
	dir := t.TempDir()
	p := func(s string) string { return filepath.Join(dir, s) }
	m, err := onnxbuild.NewRandomMLP(5, []int{4, 3}, "relu")
	if err != nil {
		t.Fatal(err)
	}
	model, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(p("m.onnx"), model, 0o644))
	out, err := cli("compile", p("m.onnx"), "-o", p("m.plan"), "--insecure", "--backend", "cuda")
	if err != nil {
		t.Fatalf("compile --backend cuda: %v\n%s", err, out)
	}
	if !strings.Contains(out, "cuda schedule:") {
		t.Errorf("compile --backend cuda printed no schedule summary:\n%s", out)
	}
	pl, err := plan.ReadFile(p("m.plan"))
	if err != nil {
		t.Fatal(err)
	}
	if pl.Metadata.Properties["backend"] != "cuda" || !strings.Contains(pl.Metadata.Properties["cuda.schedule"], "buffer 0:") {
		t.Errorf("plan lacks the kernel schedule: %v", pl.Metadata.Properties)
	}

	if _, err := cli("compile", p("m.onnx"), "-o", p("m2.plan"), "--insecure", "--backend", "tpu"); err == nil || !strings.Contains(err.Error(), "unknown --backend") {
		t.Errorf("--backend tpu: %v", err)
	}

	_, err = cli("run", p("m.plan"), "--eval-key", p("missing.key"), p("missing.ct"), "-o", p("y.ct"), "--backend", "cuda")
	if err == nil {
		t.Fatal("run --backend cuda succeeded without evaluation keys or ciphertexts")
	}
	if _, derr := cudart.OpenDriver(0); derr != nil {
		// No GPU here: the driver error comes first, and says what to do.
		if !errors.Is(err, cudart.ErrNoDriver) && !strings.Contains(err.Error(), "NVRTC") {
			t.Errorf("run --backend cuda without a GPU: %v", err)
		}
		if !strings.Contains(err.Error(), "use --backend cpu") {
			t.Errorf("error does not say what to do: %v", err)
		}
		// bench too: the driver error, before any key generation
		if _, err := cli("bench", p("m.plan"), "--backend", "cuda"); err == nil || !strings.Contains(err.Error(), "use --backend cpu") {
			t.Errorf("bench --backend cuda without a GPU: %v", err)
		}
	}
}
