package passes

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/ir"
)

var update = flag.Bool("update", false, "rewrite the golden IR files under testdata/passes")

// TestGolden runs the standard pipeline on each testdata/passes/*.ir input.
// For every pass it checks, text in and text out:
//   - the pass applied to the parsed previous golden gives the next golden,
//   - the printed IR parses back and prints identically,
//   - the values still match the input program on random inputs: exactly
//     (1e-9) for exact passes, within the fitted-error bound after
//     fit-activations.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("../testdata/passes/*.ir")
	var cases []string
	for _, in := range inputs {
		if !strings.Contains(filepath.Base(in), ".after-") {
			cases = append(cases, in)
		}
	}
	if len(cases) == 0 {
		t.Fatal("no golden inputs in testdata/passes")
	}
	for _, in := range cases {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := ir.Parse(string(src))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var samples [][]float64
			for i := 0; i < 8; i++ {
				v := make([]float64, orig.Params[0].Type.NumElements())
				for j := range v {
					v[j] = rng.Float64()*2 - 1
				}
				samples = append(samples, v)
			}
			want := interpretAll(t, orig, samples)
			prev := string(src)
			ctx := &Context{Insecure: true, DefaultRange: 4, FeatureMajor: strings.HasPrefix(filepath.Base(in), "fm-")}
			bound := 0.0
			for _, pass := range Standard() {
				f, err := ir.Parse(prev)
				if err != nil {
					t.Fatalf("before %s: %v", pass.Name(), err)
				}
				if err := pass.Run(f, ctx); err != nil {
					t.Fatalf("%s: %v", pass.Name(), err)
				}
				if err := ir.Verify(f); err != nil {
					t.Fatalf("%s: %v", pass.Name(), err)
				}
				got := ir.Print(f)
				back, err := ir.Parse(got)
				if err != nil {
					t.Fatalf("%s output does not parse: %v", pass.Name(), err)
				}
				if again := ir.Print(back); again != got {
					t.Fatalf("%s output does not round-trip", pass.Name())
				}
				golden := strings.TrimSuffix(in, ".ir") + ".after-" + pass.Name() + ".ir"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				} else if g, err := os.ReadFile(golden); err != nil {
					t.Fatalf("%v (run go test ./passes -run TestGolden -update)", err)
				} else if string(g) != got {
					t.Errorf("%s: output differs from %s (run with -update if intended)\n got:\n%s", pass.Name(), golden, got)
				}
				if pass.Name() == "fit-activations" {
					errs, err := PredictErrors(f, nil)
					if err != nil {
						t.Fatal(err)
					}
					bound = 0
					for _, r := range f.Results {
						bound = math.Max(bound, errs[r])
					}
				}
				var have [][]float64
				if len(f.Ops) > 0 && strings.HasPrefix(f.Ops[len(f.Ops)-1].Code, "ckks.") {
					have = simulateAll(t, f, samples)
				} else {
					have = interpretAll(t, f, samples)
				}
				tol := 1e-9 + bound
				for i := range want {
					for k := range want[i] {
						if d := math.Abs(have[i][k] - want[i][k]); d > tol {
							t.Fatalf("after %s: sample %d output %d = %v, want %v (|diff| %.3g > bound %.3g)", pass.Name(), i, k, have[i][k], want[i][k], d, tol)
						}
					}
				}
				prev = got
			}
		})
	}
}

func interpretAll(t *testing.T, f *ir.Func, samples [][]float64) [][]float64 {
	t.Helper()
	var out [][]float64
	for _, s := range samples {
		r, err := ir.Interpret(f, []ir.Array{{Shape: f.Params[0].Type.Shape, Data: s}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r[0].Data)
	}
	return out
}

func simulateAll(t *testing.T, f *ir.Func, samples [][]float64) [][]float64 {
	t.Helper()
	slots := 1 << (f.Int64("logN", 0) - 1)
	if f.Attrs["packing"] == "feature-major" {
		return simulateFeatureMajor(t, f, slots, samples)
	}
	in := f.Params[0].Type.Layout
	tl := in.Tiled()
	var out [][]float64
	for g := 0; g < len(samples); g += in.Batch {
		end := min(g+in.Batch, len(samples))
		packed, err := tl.Pack(samples[g:end], slots)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ir.Simulate(f, slots, [][]float64{packed})
		if err != nil {
			t.Fatal(err)
		}
		ol := f.Results[0].Type.Layout
		ys, err := ol.Tiled().Unpack(res[0], end-g)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ys...)
	}
	if len(out) != len(samples) {
		t.Fatal(fmt.Sprintf("simulated %d samples, want %d", len(out), len(samples)))
	}
	return out
}

// simulateFeatureMajor simulates a feature-major function: parameter e is
// element e of every sample, sample b in slot b; so is result e.
func simulateFeatureMajor(t *testing.T, f *ir.Func, slots int, samples [][]float64) [][]float64 {
	t.Helper()
	if len(samples) > slots {
		t.Fatalf("%d samples for %d slots", len(samples), slots)
	}
	in := make([][]float64, len(f.Params))
	for e := range in {
		in[e] = make([]float64, slots)
		for b, s := range samples {
			in[e][b] = s[e]
		}
	}
	res, err := ir.Simulate(f, slots, in)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(samples))
	for b := range out {
		for _, r := range res {
			out[b] = append(out[b], r[b])
		}
	}
	return out
}
