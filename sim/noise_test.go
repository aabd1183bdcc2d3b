package sim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
)

// pb assembles small hand-written plans for the noise calibration.
type pb struct {
	t      testing.TB
	p      *planpb.Plan
	hp     hefloat.Parameters
	levels map[uint32]int
	scales map[uint32]float64
}

func newPB(t testing.TB, logN int, logQ []int, logScale int) *pb {
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{LogN: logN, LogQ: logQ, LogP: []int{55, 55}, LogDefaultScale: logScale})
	if err != nil {
		t.Fatal(err)
	}
	params, err := plan.FromCKKSParameters(hp)
	if err != nil {
		t.Fatal(err)
	}
	params.Insecure = true
	return &pb{t: t, hp: hp, p: &planpb.Plan{Producer: "sim test", Params: params, Keys: &planpb.KeySet{}, Metadata: &planpb.Metadata{}},
		levels: map[uint32]int{}, scales: map[uint32]float64{}}
}

func (b *pb) def() uint32 { b.p.NumValues++; return b.p.NumValues - 1 }

func (b *pb) input(l *planpb.Layout) uint32 {
	id := b.def()
	lvl, sc := b.hp.MaxLevel(), b.hp.DefaultScale().Float64()
	b.p.Inputs = append(b.p.Inputs, &planpb.Input{Name: "x", Shape: []int64{int64(l.Len)}, Layout: l, Value: id, Level: uint32(lvl), Scale: sc})
	b.levels[id], b.scales[id] = lvl, sc
	return id
}

func (b *pb) encode(values []float64, batch, level int, scale float64) uint32 {
	b.p.Constants = append(b.p.Constants, &planpb.Constant{Name: "c", Values: values})
	id := b.def()
	b.p.Program = append(b.p.Program, &planpb.Instruction{Op: planpb.Op_ENCODE, Result: id, Constant: uint32(len(b.p.Constants) - 1), Level: uint32(level), Scale: scale, Batch: uint32(batch)})
	b.levels[id], b.scales[id] = level, scale
	return id
}

func (b *pb) op(op planpb.Op, args ...uint32) uint32 {
	id := b.def()
	b.p.Program = append(b.p.Program, &planpb.Instruction{Op: op, Args: args, Result: id})
	lvl := b.levels[args[0]]
	for _, a := range args {
		lvl = min(lvl, b.levels[a])
	}
	s := b.scales[args[0]]
	switch op {
	case planpb.Op_MUL, planpb.Op_MUL_PLAIN:
		s *= b.scales[args[1]]
	case planpb.Op_RESCALE:
		s /= float64(b.hp.Q()[lvl])
		lvl--
	case planpb.Op_RELINEARIZE:
		b.p.Keys.Relinearization = true
	}
	b.levels[id], b.scales[id] = lvl, s
	return id
}

func (b *pb) rotate(x uint32, k int) uint32 {
	id := b.op(planpb.Op_ROTATE, x)
	b.p.Program[len(b.p.Program)-1].Offset = int64(k)
	g := b.hp.GaloisElement(k)
	for _, h := range b.p.Keys.GaloisElements {
		if h == g {
			return id
		}
	}
	ks := append(b.p.Keys.GaloisElements, g)
	for i := len(ks) - 1; i > 0 && ks[i] < ks[i-1]; i-- {
		ks[i], ks[i-1] = ks[i-1], ks[i]
	}
	b.p.Keys.GaloisElements = ks
	return id
}

func (b *pb) poly(x uint32, coeffs []float64) uint32 {
	id := b.def()
	d := ir.PolyDepth(len(coeffs) - 1)
	sc := b.hp.DefaultScale().Float64()
	b.p.Program = append(b.p.Program, &planpb.Instruction{Op: planpb.Op_POLY, Args: []uint32{x}, Result: id, Coeffs: coeffs, Depth: uint32(d), Scale: sc})
	b.p.Keys.Relinearization = true
	b.levels[id], b.scales[id] = b.levels[x]-d, sc
	return id
}

// measure returns the RMS error of Lattigo's decrypted outputs and of the
// simulator's noisy outputs, both against the noiseless simulation.
func measure(t *testing.T, b *pb, out uint32, l *planpb.Layout, n int) (lattigo, simulated float64) {
	b.p.Outputs = []*planpb.Output{{Name: "y", Shape: []int64{int64(l.Len)}, Layout: l, Value: out}}
	rng := rand.New(rand.NewPCG(3, 4))
	var xs [][]float64
	var samples [][][]float64
	for i := 0; i < n; i++ {
		v := make([]float64, l.Len)
		for j := range v {
			v[j] = 2*rng.Float64() - 1
		}
		xs = append(xs, v)
		samples = append(samples, [][]float64{v})
	}
	y := lattigoRun(t, b.p, xs, 0)
	s, err := New(b.p, Options{Noise: true, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	var se, ss float64
	cnt := 0
	for i := range xs {
		for j := range r.Noiseless[0][i] {
			d := y[0][i][j] - r.Noiseless[0][i][j]
			e := r.Noisy[0][i][j] - r.Noiseless[0][i][j]
			se += d * d
			ss += e * e
			cnt++
		}
	}
	return math.Sqrt(se / float64(cnt)), math.Sqrt(ss / float64(cnt))
}

// TestNoiseModelMatchesLattigo calibrates the noise model: for each kind of
// operation, the RMS error of a real Lattigo v5 run (N = 2^12, scale 2^30)
// and of the simulation agree within a factor of 2.
func TestNoiseModelMatchesLattigo(t *testing.T) {
	logQ := []int{50, 30, 30, 30, 30, 30, 30, 30}
	const logScale = 30
	l := &planpb.Layout{Len: 64, Period: 64, Batch: 32}
	n := 32
	relu := func(x float64) float64 { return math.Max(x, 0) }
	cases := []struct {
		name  string
		build func(b *pb, x uint32) uint32
	}{
		{"fresh", func(b *pb, x uint32) uint32 {
			return b.op(planpb.Op_SUB, x, b.op(planpb.Op_ROTATE, x)) // x - x rotated by 0... replaced below
		}},
		{"mul_plain+rescale", func(b *pb, x uint32) uint32 {
			w := make([]float64, 64)
			for i := range w {
				w[i] = math.Sin(float64(i))
			}
			lvl := b.levels[x]
			c := b.encode(w, 32, lvl, float64(b.hp.Q()[lvl]))
			return b.op(planpb.Op_RESCALE, b.op(planpb.Op_MUL_PLAIN, x, c))
		}},
		{"rotations", func(b *pb, x uint32) uint32 {
			acc := x
			for _, k := range []int{32, 64, 128, 256, 512, 1024} {
				acc = b.op(planpb.Op_ADD, acc, b.rotate(acc, k))
			}
			return acc
		}},
		{"square", func(b *pb, x uint32) uint32 {
			return b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, b.op(planpb.Op_MUL, x, x)))
		}},
		{"poly-relu-15", func(b *pb, x uint32) uint32 {
			return b.poly(x, chebInterp(relu, 15))
		}},
		{"poly-relu-31", func(b *pb, x uint32) uint32 {
			return b.poly(x, chebInterp(relu, 31))
		}},
		{"poly-tanh-7x4", func(b *pb, x uint32) uint32 {
			return b.poly(x, chebInterp(func(x float64) float64 { return 4 * math.Tanh(3*x) }, 7))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newPB(t, 12, logQ, logScale)
			x := b.input(l)
			var out uint32
			if tc.name == "fresh" {
				zero := b.encode([]float64{0}, 32, b.levels[x], b.scales[x])
				out = b.op(planpb.Op_ADD_PLAIN, x, zero)
			} else {
				out = tc.build(b, x)
			}
			got, want := measure(t, b, out, l, n)
			ratio := got / want
			t.Logf("%s: RMS error Lattigo %.3g, simulated %.3g (ratio %.2f)", tc.name, got, want, ratio)
			if ratio < 0.5 || ratio > 2 {
				t.Errorf("%s: Lattigo RMS error %.3g, noise model %.3g: ratio %.2f outside [0.5, 2]", tc.name, got, want, ratio)
			}
		})
	}
}

func chebInterp(fn func(float64) float64, d int) []float64 {
	n := d + 1
	c := make([]float64, n)
	for k := 0; k < n; k++ {
		s := 0.0
		for j := 0; j < n; j++ {
			th := math.Pi * (float64(j) + 0.5) / float64(n)
			s += fn(math.Cos(th)) * math.Cos(float64(k)*th)
		}
		c[k] = 2 * s / float64(n)
	}
	c[0] /= 2
	return c
}

// lattigoRun encrypts xs (the samples of the plan's one input), evaluates
// the plan with Lattigo on the given workers and decrypts its outputs.
func lattigoRun(t *testing.T, p *planpb.Plan, xs [][]float64, workers int) [][][]float64 {
	t.Helper()
	c, err := runtime.NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	cts, err := c.Encrypt(sk, [][][]float64{xs})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Evaluate(evk, cts, runtime.EvalOptions{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.Decrypt(sk, res)
	if err != nil {
		t.Fatal(err)
	}
	return y
}
