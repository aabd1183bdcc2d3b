package fhec

import (
	"github.com/fhec/fhec/internal/vec"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/internal/tensorio"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/passes"
)

// shared returns the path of a file under ../shared/testdata, failing when it
// is missing under CI=true and skipping otherwise.
func shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data missing (CI=true): %v", err)
		}
		t.Skipf("shared test data missing: %v", err)
	}
	return p
}

// noiseBound is the CKKS error allowance for an output of magnitude y: the
// rounding and encryption noise of a ring of degree 2^logN at a 2^logScale
// scale is about 2^(logN/2 + 3) / 2^logScale per operation; 2^7 more covers
// the ~50 operations on the longest path and the growth through weights of
// magnitude <= 1.
func noiseBound(p *passes.Params, y float64) float64 {
	return math.Exp2(float64(p.LogN)/2+10-float64(p.LogScale)) * (1 + math.Abs(y))
}

// fitBound propagates the fitted activation errors of an MLP to its output:
// e_l = ||W_l||_inf * e_{l-1} (+ eps_l after an activation), with eps_l the
// activation's absolute fit error (ReLU is 1-Lipschitz).
func fitBound(m *onnxbuild.MLP, acts []passes.ActivationFit) float64 {
	e := 0.0
	for l, w := range m.Weights {
		n := m.Sizes[l]
		norm := 0.0
		for i := 0; i < m.Sizes[l+1]; i++ {
			s := 0.0
			for j := 0; j < n; j++ {
				s += math.Abs(float64(w[i*n+j]))
			}
			norm = math.Max(norm, s)
		}
		e *= norm
		if l < len(acts) {
			e += acts[l].MaxError
		}
	}
	return e
}

// TestHeldOutMLPs runs models of the supported kinds that no file in the repo
// describes (random weights, several shapes) through the whole encrypted path
// at 128-bit parameters and compares with the float64 model within the
// analysis bound (fit error propagated + CKKS noise).
func TestHeldOutMLPs(t *testing.T) {
	cases := []struct {
		name         string
		sizes        []int
		act          string
		opts         []onnxbuild.MLPOption
		featureMajor bool
	}{
		{"relu-20-8-3", []int{20, 8, 3}, "relu", nil, false},
		{"square-flatten-2x3x4-5-2", []int{24, 5, 2}, "square", []onnxbuild.MLPOption{onnxbuild.WithFlatten(2, 3, 4)}, false},
		{"relu-reshape-3layer", []int{12, 16, 6, 4}, "relu", []onnxbuild.MLPOption{onnxbuild.WithReshape(3, 4)}, false},
		// feature-major packing: one ciphertext per element, samples in slots
		{"feature-major-square-flatten-2x3x4-5-2", []int{24, 5, 2}, "square", []onnxbuild.MLPOption{onnxbuild.WithFlatten(2, 3, 4)}, true},
		{"feature-major-relu-12-6-4", []int{12, 6, 4}, "relu", nil, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := onnxbuild.NewRandomMLP(uint64(100+i), tc.sizes, tc.act, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			model, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			const n = 12
			x := Tensor{Shape: append([]int{n}, inputDims(m)...)}
			for k := 0; k < n*tc.sizes[0]; k++ {
				x.Data = append(x.Data, rng.Float64()*2-1)
			}
			c, err := Compile(model, CompileOptions{Calibration: &x, FeatureMajor: tc.featureMajor})
			if err != nil {
				t.Fatal(err)
			}
			if c.Params.Security != 128 || c.Plan.Params.Insecure {
				t.Fatalf("default compile gave %d-bit parameters", c.Params.Security)
			}
			if fm := len(c.Plan.Inputs[0].ElementValues) > 0; fm != tc.featureMajor {
				t.Fatalf("feature-major plan: %v, asked %v", fm, tc.featureMajor)
			}
			if tc.featureMajor && (len(c.Plan.Keys.GaloisElements) != 0 || c.Plan.Metadata.OpCounts.Rotations != 0) {
				t.Fatalf("feature-major plan rotates: %d Galois keys, %d rotations", len(c.Plan.Keys.GaloisElements), c.Plan.Metadata.OpCounts.Rotations)
			}
			y := encryptedRun(t, c, x)
			bound := fitBound(m, c.Activations)
			worst := 0.0
			for s := 0; s < n; s++ {
				want, err := m.Forward(x.Data[s*tc.sizes[0] : (s+1)*tc.sizes[0]])
				if err != nil {
					t.Fatal(err)
				}
				out := len(want)
				for k := range want {
					got := y.Data[s*out+k]
					d := math.Abs(got - want[k])
					worst = math.Max(worst, d)
					if lim := bound + noiseBound(c.Params, want[k]); d > lim {
						t.Errorf("sample %d output %d: %v, want %v (|diff| %.3g > bound %.3g)", s, k, got, want[k], d, lim)
					}
				}
			}
			t.Logf("logN %d depth %d: max |err| %.3g, fit bound %.3g", c.Params.LogN, c.Params.Depth, worst, bound)
		})
	}
}

func inputDims(m *onnxbuild.MLP) []int {
	if len(m.InputDims) == 0 {
		return []int{m.Sizes[0]}
	}
	out := make([]int, len(m.InputDims))
	for i, d := range m.InputDims {
		out[i] = int(d)
	}
	return out
}

// encryptedRun does keygen, encrypt, evaluate and decrypt, through the
// serialized forms a client and a server exchange.
func encryptedRun(t testing.TB, c *Compiled, x Tensor) Tensor {
	t.Helper()
	r, err := NewRuntime(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := r.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := r.EncryptTensor(sk, x)
	if err != nil {
		t.Fatal(err)
	}
	// the server side sees bytes only
	evkBytes, err := evk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctBytes, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewRuntime(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	sEvk, err := server.UnmarshalEvaluationKeys(evkBytes)
	if err != nil {
		t.Fatal(err)
	}
	sCt, err := server.UnmarshalCiphertexts(ctBytes)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := server.Evaluate(sEvk, sCt, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	outBytes, err := out.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := r.UnmarshalCiphertexts(outBytes)
	if err != nil {
		t.Fatal(err)
	}
	y, err := r.DecryptTensor(sk, back)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestMNIST2x10 is acceptance 2 through the API: the real Marabou model, its
// 16 sample images (also the calibration data, as the CLI contract uses
// them), 128-bit parameters, argmax of the reference outputs for 16/16.
func TestMNIST2x10(t *testing.T) {
	dir := shared(t, "models/mnist2x10")
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tensorio.ReadFile(filepath.Join(dir, "reference_outputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(model, CompileOptions{Calibration: &x})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params.Security != 128 {
		t.Fatalf("security %d", c.Params.Security)
	}
	y := encryptedRun(t, c, x)
	if len(y.Data) != len(ref.Data) {
		t.Fatalf("got shape %v, want %v", y.Shape, ref.Shape)
	}
	agree, worst := 0, 0.0
	for s := 0; s < 16; s++ {
		got, want := y.Data[s*10:(s+1)*10], ref.Data[s*10:(s+1)*10]
		if vec.Argmax(got) == vec.Argmax(want) {
			agree++
		}
		for k := range got {
			worst = math.Max(worst, math.Abs(got[k]-want[k]))
		}
	}
	t.Logf("mnist2x10: argmax %d/16, max abs logit error %.3f (logN %d, depth %d)", agree, worst, c.Params.LogN, c.Params.Depth)
	if agree != 16 {
		t.Errorf("argmax agreement %d/16", agree)
	}
}

// TestPassOutputsRoundTrip: the IR text of every pass's output on a real
// model prints, parses and prints identically (acceptance 4).
func TestPassOutputsRoundTrip(t *testing.T) {
	model, err := os.ReadFile(filepath.Join(shared(t, "models/mnist2x10"), "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := frontend.Load(model, frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := &passes.Context{}
	check := func(stage string) {
		text := ir.Print(f)
		g, err := ir.Parse(text)
		if err != nil {
			t.Fatalf("after %s: %v", stage, err)
		}
		if again := ir.Print(g); again != text {
			t.Fatalf("after %s: print/parse/print differs", stage)
		}
	}
	check("frontend")
	for _, p := range passes.Standard() {
		if err := p.Run(f, ctx); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		check(p.Name())
	}
}
