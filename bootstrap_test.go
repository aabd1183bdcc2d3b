package fhec

import (
	"github.com/fhec/fhec/internal/vec"
	"slices"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/gen/digits"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/passes"
	"github.com/fhec/fhec/plan"
)

// deepDigits trains the deep test model: 12 ReLU layers of 16 on digits,
// deeper than 128-bit parameters hold without bootstrapping.
func deepDigits(t testing.TB) ([]byte, *onnxbuild.MLP, *digits.Data, Tensor) {
	d, err := digits.Load(shared(t, "datasets/sklearn/digits.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	train, test := d.Split()
	m, err := digits.Train(train, digits.Options{Hidden: 12, Width: 16, Epochs: 12, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := digits.Accuracy(m, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deep digits MLP (12 x 16 ReLU): plaintext test accuracy %.3f", acc)
	model, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	n := 256
	calib := Tensor{Shape: []int{n, 64}}
	for _, x := range train.X[:n] {
		calib.Data = append(calib.Data, x...)
	}
	return model, m, test, calib
}

// TestDeepModelBootstraps: acceptance 1, 2 and 4 on insecure bootstrapping
// parameters (logN 11, about a second per bootstrap).
func TestDeepModelBootstraps(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	model, m, test, calib := deepDigits(t)
	c, err := Compile(model, CompileOptions{Calibration: &calib, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	b := c.Params.Bootstrap
	if b == nil || b.Count == 0 {
		t.Fatalf("no bootstraps placed (params %+v)", c.Params)
	}
	if b.Count < b.LowerBound {
		t.Fatalf("%d bootstraps, below the lower bound %d", b.Count, b.LowerBound)
	}
	t.Logf("depth %d, %d levels per bootstrap: %d bootstraps, lower bound %d; insecure logN %d", c.Params.Depth, b.Levels, b.Count, b.LowerBound, c.Params.LogN)
	// The degree-63 fits change some decisions on the calibration samples,
	// so the compiler raises the ReLUs to degree 127, which costs no
	// bootstrap more (two steps of 8 levels fit the 16 residual levels of
	// a 2^35 scale), and it says how often the fits still differ.
	if d := minReluDegree(c.Activations); d != 127 || b.Levels != 16 {
		t.Fatalf("ReLU degree %d, %d levels per bootstrap; want 127 and 16", d, b.Levels)
	}
	if i := slices.IndexFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "largest output on") }); i >= 0 {
		t.Log(c.Warnings[i])
	}
	if !c.Plan.Params.Insecure || c.Plan.Params.Bootstrapping == nil || !c.Plan.Keys.Bootstrapping {
		t.Fatalf("plan: insecure %v, bootstrapping %v, keys %v", c.Plan.Params.Insecure, c.Plan.Params.Bootstrapping, c.Plan.Keys.Bootstrapping)
	}
	if got := c.Plan.Metadata.OpCounts.Bootstraps; int(got) != b.Count {
		t.Fatalf("plan counts %d bootstraps, placement %d", got, b.Count)
	}
	rt, err := NewRuntime(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := rt.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	// acceptance 4: exactly the Galois keys the plan uses
	if !slices.Equal(evk.GaloisElements(), c.Plan.Keys.GaloisElements) || !slices.Equal(evk.BootstrappingGaloisElements(), c.Plan.Keys.BootstrappingGaloisElements) {
		t.Fatalf("Galois keys %v / %v, plan %v / %v", evk.GaloisElements(), evk.BootstrappingGaloisElements(), c.Plan.Keys.GaloisElements, c.Plan.Keys.BootstrappingGaloisElements)
	}
	// the keys survive serialization
	blob, err := evk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if evk, err = rt.UnmarshalEvaluationKeys(blob); err != nil {
		t.Fatal(err)
	}
	t.Logf("evaluation keys %.1f MiB (bootstrapping %.1f MiB)", float64(len(blob))/(1<<20), float64(evk.BootstrappingKeySize())/(1<<20))
	n := rt.Batch()
	x := Tensor{Shape: []int{n, 64}}
	for _, row := range test.X[:n] {
		x.Data = append(x.Data, row...)
	}
	ct, err := rt.EncryptTensor(sk, x)
	if err != nil {
		t.Fatal(err)
	}
	out, stats, err := rt.Evaluate(evk, ct, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Ops.Bootstraps != int64(b.Count) {
		t.Fatalf("ran %d bootstraps, plan has %d", stats.Ops.Bootstraps, b.Count)
	}
	y, err := rt.DecryptTensor(sk, out)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := m.Forward(x.Data)
	if err != nil {
		t.Fatal(err)
	}
	agree, correct, plainCorrect := 0, 0, 0
	for s := range n {
		got, want := vec.Argmax(y.Data[s*10:(s+1)*10]), vec.Argmax(ref[s*10:(s+1)*10])
		if got == want {
			agree++
		} else {
			top := slices.Sorted(slices.Values(ref[s*10 : (s+1)*10]))
			t.Logf("sample %d: encrypted picks %d, the model %d (its top two logits %.3f, %.3f; label %d)", s, got, want, top[9], top[8], test.Y[s])
		}
		if got == test.Y[s] {
			correct++
		}
		if want == test.Y[s] {
			plainCorrect++
		}
	}
	t.Logf("%d samples in %s: encrypted argmax = plaintext model's on %d, = label on %d (the plaintext model: %d)", n, stats.Wall, agree, correct, plainCorrect)
	// All but one: sample 1 is a near-tie (top logits 9.029 and 8.893) that
	// the degree-127 fits already tip, towards its label; the simulation of
	// the whole test split agrees on 357 of 359 with the same accuracy.
	if agree < n-1 {
		t.Fatalf("encrypted argmax agrees with the model on %d of %d samples", agree, n)
	}
}

// TestDeepModelSecureParams: the secure compilation of the same model picks
// 128-bit bootstrapping parameters that pass the security check (the
// bootstrapping itself runs in the benchmark only).
func TestDeepModelSecureParams(t *testing.T) {
	model, _, _, calib := deepDigits(t)
	// 192 bits at N = 2^16 cannot hold the bootstrapping circuit: an error
	// that says what to change.
	if _, err := Compile(model, CompileOptions{Calibration: &calib, Security: 192}); err == nil || !strings.Contains(err.Error(), "--security") {
		t.Fatalf("192 bits: want an error naming --security, got %v", err)
	}
	for _, bits := range []int{128} {
		c, err := Compile(model, CompileOptions{Calibration: &calib, Security: bits})
		if err != nil {
			t.Fatalf("%d bits: %v", bits, err)
		}
		b := c.Params.Bootstrap
		if b == nil || c.Plan.Params.Insecure || int(c.Plan.Params.SecurityBits) != bits {
			t.Fatalf("%d bits: bootstrap %+v, insecure %v, security %d", bits, b, c.Plan.Params.Insecure, c.Plan.Params.SecurityBits)
		}
		bp, err := plan.BootstrappingParameters(c.Plan.Params)
		if err != nil {
			t.Fatal(err)
		}
		if q := bp.BootstrappingParameters.LogQP(); q > float64(passes.MaxLogQP[bits][16]) {
			t.Fatalf("%d bits: log2(QP) %.1f > %d", bits, q, passes.MaxLogQP[bits][16])
		}
		t.Logf("%d bits: logN %d, %d levels, log2(QP) %.1f, %d bootstraps (lower bound %d)", bits, c.Params.LogN, b.Levels, b.LogQP, b.Count, b.LowerBound)
	}
}

// BenchmarkDeepModelSecureBootstrap runs the deep model with 128-bit
// bootstrapping parameters (N = 2^16: about 20 s per bootstrap and several
// GiB of keys; run it alone: go test -run X -bench DeepModelSecure -benchtime 1x).
func BenchmarkDeepModelSecureBootstrap(b *testing.B) {
	model, m, test, calib := deepDigits(b)
	c, err := Compile(model, CompileOptions{Calibration: &calib})
	if err != nil {
		b.Fatal(err)
	}
	rt, err := NewRuntime(c.Plan)
	if err != nil {
		b.Fatal(err)
	}
	sk, evk, err := rt.KeyGen()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(evk.BootstrappingKeySize())/(1<<30), "btp-keys-GiB")
	x := Tensor{Shape: []int{1, 64}, Data: test.X[0]}
	ct, err := rt.EncryptTensor(sk, x)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		out, stats, err := rt.Evaluate(evk, ct, EvalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		y, err := rt.DecryptTensor(sk, out)
		if err != nil {
			b.Fatal(err)
		}
		ref, _ := m.Forward(x.Data)
		b.Logf("%d bootstraps in %s: argmax %d, model %d, label %d", stats.Ops.Bootstraps, stats.Wall, vec.Argmax(y.Data[:10]), vec.Argmax(ref), test.Y[0])
	}
}
