package plan_test

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
)

// goldenDir holds the golden plans: compiled from fixed models and fixed
// calibration data, they must be reproduced byte for byte. Bless changes
// with `go test ./plan -run TestGoldenPlans -update`.
const goldenDir = "../testdata/plans"

// goldenModel describes one golden plan.
type goldenModel struct {
	name  string
	seed  uint64
	sizes []int
	act   string
}

var goldenModels = []goldenModel{
	{name: "mlp", seed: 1, sizes: []int{4, 8, 3}, act: "relu"},
}

// updating reports whether -update was given (the flag is defined by the
// package's internal tests, which share this test binary).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// calibration is a fixed, platform-independent set of samples in [-2, 2].
func calibration(n, dim int) fhec.Tensor {
	data := make([]float64, n*dim)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = float64(x>>11)/float64(1<<53)*4 - 2
	}
	return fhec.Tensor{Shape: []int{n, dim}, Data: data}
}

// compileGolden compiles a golden model to plan file bytes.
func compileGolden(t testing.TB, m goldenModel) []byte {
	t.Helper()
	model, err := onnxbuild.RandomMLP(m.seed, m.sizes, m.act)
	if err != nil {
		t.Fatal(err)
	}
	cal := calibration(32, m.sizes[0])
	c, err := fhec.Compile(model, fhec.CompileOptions{Calibration: &cal, ActivationDegree: 15, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Marshal(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenPlans: compiling the same model twice gives byte-identical
// plans, equal to the committed golden file.
func TestGoldenPlans(t *testing.T) {
	for _, m := range goldenModels {
		t.Run(m.name, func(t *testing.T) {
			a, b := compileGolden(t, m), compileGolden(t, m)
			if !bytes.Equal(a, b) {
				t.Fatalf("two compilations differ (%d and %d bytes): compilation is not deterministic", len(a), len(b))
			}
			path := filepath.Join(goldenDir, m.name+".plan")
			if updating() {
				if err := os.WriteFile(path, a, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (bless with -update)", err)
			}
			if !bytes.Equal(a, want) {
				t.Fatalf("compiled plan (%d bytes, sha256 %x) differs from %s (%d bytes, sha256 %x); if the change is intended, rerun with -update",
					len(a), sha256.Sum256(a), path, len(want), sha256.Sum256(want))
			}
			if _, err := plan.Unmarshal(want); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes, sha256 %s", path, len(a), fmt.Sprintf("%x", sha256.Sum256(a)))
		})
	}
}
