package server

import (
	"math/rand/v2"
	"testing"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
)

// TestCiphertextLimitFollowsPlan: without a configured limit, a server
// accepts a full group of its plan's input ciphertexts, which for a
// feature-major plan (one ciphertext per input element) exceeds 256 MiB.
func TestCiphertextLimitFollowsPlan(t *testing.T) {
	m, err := onnxbuild.NewRandomMLP(7, []int{2500, 3, 2}, "square")
	if err != nil {
		t.Fatal(err)
	}
	model, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cal := fhec.Tensor{Shape: []int{2, 2500}}
	for range 2 * 2500 {
		cal.Data = append(cal.Data, rng.Float64()*2-1)
	}
	c, err := fhec.Compile(model, fhec.CompileOptions{Calibration: &cal, FeatureMajor: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := plan.Marshal(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(b, Config{})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := plan.Summarize(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	group := int64(sm.Inputs[0].Ciphertexts) * sm.CiphertextBytes
	if group <= 256<<20 || s.cfg.MaxCiphertextBytes < group {
		t.Fatalf("input group %d bytes, limit %d", group, s.cfg.MaxCiphertextBytes)
	}
	if s, err = New(b, Config{MaxCiphertextBytes: 1 << 20}); err != nil || s.cfg.MaxCiphertextBytes != 1<<20 {
		t.Fatalf("configured limit not kept: %v, %d", err, s.cfg.MaxCiphertextBytes)
	}
}
