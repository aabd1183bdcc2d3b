package cuda

import (
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
)

// TestRefusesFeatureMajor: plans with DOT or per-element inputs/outputs
// (format 1.3) are refused with a clear error before any device work.
func TestRefusesFeatureMajor(t *testing.T) {
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{LogN: 10, LogQ: []int{55, 40}, LogP: []int{61}, LogDefaultScale: 40})
	if err != nil {
		t.Fatal(err)
	}
	params, err := plan.FromCKKSParameters(hp)
	if err != nil {
		t.Fatal(err)
	}
	params.Insecure = true
	l := &planpb.Layout{Len: 1, Period: 1, Batch: uint32(hp.MaxSlots())}
	p := &planpb.Plan{Producer: "cuda test", Params: params, Keys: &planpb.KeySet{}, NumValues: 3,
		Inputs:  []*planpb.Input{{Name: "x", Shape: []int64{2}, Layout: l, Value: 0, ElementValues: []uint32{0, 1}, Level: 1, Scale: 1 << 40}},
		Program: []*planpb.Instruction{{Op: planpb.Op_DOT, Args: []uint32{0, 1}, Result: 2, Coeffs: []float64{0.5, -1}, Scale: float64(hp.Q()[1])}},
		Outputs: []*planpb.Output{{Name: "y", Shape: []int64{1}, Layout: l, Value: 2, ElementValues: []uint32{2}}},
	}
	const want = "feature-major plans (DOT) run on the CPU backend only; use --backend cpu"
	if _, err := NewExecutor(nil, p, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewExecutor: %v, want %q", err, want)
	}
	rc, err := runtime.NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := rc.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	in, err := rc.Encrypt(sk, [][][]float64{{{0.1, 0.2}, {0.3, 0.4}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Evaluate(nil, rc, evk, in); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Evaluate: %v, want %q", err, want)
	}
	// The CPU runtime runs it.
	out, _, err := rc.Evaluate(evk, in, runtime.EvalOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	y, err := rc.Decrypt(sk, out)
	if err != nil {
		t.Fatal(err)
	}
	for s, x := range [][]float64{{0.1, 0.2}, {0.3, 0.4}} {
		if d := y[0][s][0] - (0.5*x[0] - x[1]); d > 1e-6 || d < -1e-6 {
			t.Fatalf("sample %d: %v", s, y[0][s])
		}
	}
}
