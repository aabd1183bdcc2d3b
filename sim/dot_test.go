package sim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// fmDense builds a feature-major plan (format 1.3) at N = 2^10: 4 input
// elements, y_r = sum_k W[r][k] x_k^2 + bias[r] by MUL (no relin) ->
// RESCALE -> DOT on the degree-2 squares (weights at scale w) ->
// RELINEARIZE -> RESCALE, one output element per row.
func fmDense(t *testing.T, w [][]float64, bias []float64, wScale func(b *pb) float64) *pb {
	b := newPB(t, 10, []int{55, 40, 40}, 40)
	slots := b.hp.MaxSlots()
	l := &planpb.Layout{Len: 1, Period: 1, Batch: uint32(slots)}
	lvl, sc := b.hp.MaxLevel(), b.hp.DefaultScale().Float64()
	xs := make([]uint32, len(w[0]))
	for k := range xs {
		xs[k] = b.def()
		b.levels[xs[k]], b.scales[xs[k]] = lvl, sc
	}
	b.p.Inputs = append(b.p.Inputs, &planpb.Input{Name: "x", Shape: []int64{int64(len(xs))}, Layout: l, Value: xs[0], ElementValues: xs, Level: uint32(lvl), Scale: sc})
	sq := make([]uint32, len(xs))
	for k, x := range xs {
		sq[k] = b.op(planpb.Op_RESCALE, b.op(planpb.Op_MUL, x, x))
	}
	ys := make([]uint32, len(w))
	for r := range w {
		d := b.op(planpb.Op_DOT, sq...)
		ins := b.p.Program[len(b.p.Program)-1]
		ins.Coeffs, ins.Bias, ins.Scale = w[r], bias[r], wScale(b)
		b.scales[d] *= ins.Scale
		ys[r] = b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, d))
	}
	b.p.Outputs = append(b.p.Outputs, &planpb.Output{Name: "y", Shape: []int64{int64(len(ys))}, Layout: l, Value: ys[0], ElementValues: ys})
	if err := plan.Validate(b.p); err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	dotW    = [][]float64{{0.5, -1.25, 0, 0.3}, {-0.75, 0.125, 2, -0.01}, {0, 0, 0, 0}}
	dotBias = []float64{0.25, -0.5, 0.375}
)

func dotWant(x []float64, w [][]float64, bias []float64) []float64 {
	y := make([]float64, len(w))
	for r, row := range w {
		y[r] = bias[r]
		for k, c := range row {
			y[r] += c * x[k] * x[k]
		}
	}
	return y
}

func fmSamples(n, d int) ([][]float64, [][][]float64) {
	rng := rand.New(rand.NewPCG(61, 62))
	var xs [][]float64
	var samples [][][]float64
	for range n {
		v := make([]float64, d)
		for j := range v {
			v[j] = 2*rng.Float64() - 1
		}
		xs = append(xs, v)
		samples = append(samples, [][]float64{v})
	}
	return xs, samples
}

// TestSimulateDot: DOT semantics on feature-major inputs and outputs
// (two groups), the noiseless run against float64 math, and the noise the
// simulator predicts against a Lattigo run of the same plan.
func TestSimulateDot(t *testing.T) {
	b := fmDense(t, dotW, dotBias, func(b *pb) float64 { return float64(b.hp.Q()[1]) })
	slots := b.hp.MaxSlots()
	n := slots + 88
	xs, samples := fmSamples(n, 4)
	s, err := New(b.p, Options{Noise: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if s.Batch() != slots || s.Slots() != slots {
		t.Fatalf("batch %d slots %d, want %d", s.Batch(), s.Slots(), slots)
	}
	r, err := s.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		want := dotWant(x, dotW, dotBias)
		for k, v := range want {
			if d := math.Abs(r.Noiseless[0][i][k] - v); d > 1e-14 {
				t.Fatalf("noiseless sample %d element %d: %v, want %v", i, k, r.Noiseless[0][i][k], v)
			}
			if r.Reference[0][i][k] != r.Noiseless[0][i][k] {
				t.Fatalf("reference differs from noiseless (no POLY)")
			}
		}
	}

	// Lattigo: decrypted outputs against the noiseless run, per row RMS,
	// compared with the simulated noise. Row 2 (bias only) carries no
	// operand noise: compare rows 0 and 1.
	y := lattigoRun(t, b.p, xs, 2)
	for row := 0; row < 2; row++ {
		var se, ss float64
		for i := range xs {
			d := y[0][i][row] - r.Noiseless[0][i][row]
			e := r.Noisy[0][i][row] - r.Noiseless[0][i][row]
			se += d * d
			ss += e * e
		}
		lat, sim := math.Sqrt(se/float64(n)), math.Sqrt(ss/float64(n))
		t.Logf("row %d: Lattigo RMS error %.3g, simulated %.3g", row, lat, sim)
		if ratio := lat / sim; ratio < 0.5 || ratio > 2 {
			t.Errorf("row %d: Lattigo %.3g vs simulated %.3g: ratio %.2f outside [0.5, 2]", row, lat, sim, ratio)
		}
	}
}

// TestSimulateDotWeightRounding: a coarse weight scale (W = 4) rounds the
// weights to quarters; the noisy run shows it as a value error, the
// noiseless run keeps the exact coefficients, and Lattigo agrees with the
// rounded weights.
func TestSimulateDotWeightRounding(t *testing.T) {
	w := [][]float64{{0.3, -0.6, 1, 0.1}}
	rounded := [][]float64{{0.25, -0.5, 1, 0}} // round(4c)/4, half away from zero: -2.4 -> -2
	bias := []float64{0.2}
	b := fmDense(t, w, bias, func(*pb) float64 { return 4 })
	// The output scale is ~2^40 x 4 / q1 ~ 2^2: too small for CKKS. Only
	// the simulation runs here.
	xs, samples := fmSamples(50, 4)
	s, err := New(b.p, Options{Noise: true, Seed: 3, Model: &NoiseConstants{}})
	if err != nil {
		t.Fatal(err)
	}
	// Switch the model's noise off, keeping the noisy run's value errors.
	s.noise.N = 0
	r, err := s.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		exact, round := dotWant(x, w, bias), dotWant(x, rounded, bias)
		if math.Abs(r.Noiseless[0][i][0]-exact[0]) > 1e-14 || math.Abs(r.Noisy[0][i][0]-round[0]) > 1e-12 {
			t.Fatalf("sample %d: noisy %v (want %v), noiseless %v (want %v)", i, r.Noisy[0][i][0], round[0], r.Noiseless[0][i][0], exact[0])
		}
	}
	// Without noise the noisy run is the noiseless one.
	s2, err := New(b.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s2.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	for i := range xs {
		if r2.Noisy[0][i][0] != r2.Noiseless[0][i][0] {
			t.Fatalf("sample %d: noise off, noisy %v != noiseless %v", i, r2.Noisy[0][i][0], r2.Noiseless[0][i][0])
		}
	}
	// A sample of the wrong length (feature-major: one value per element).
	if _, err := s.Simulate([][][]float64{{{1, 2, 3}}}); err == nil {
		t.Fatal("3 values for 4 elements accepted")
	}
}
