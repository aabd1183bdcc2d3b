package runtime

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

const tol = 1e-4

// rotateSumPlan: every element of each sample becomes the sum of the sample
// (Len 8 = Period, Batch 4), by log-step rotations of k*Batch slots.
func rotateSumPlan(t testing.TB) *builder {
	b := newBuilder(t, stdParams(t))
	l := &planpb.Layout{Len: 8, Period: 8, Batch: 4}
	x := b.input("x", l, 2)
	for k := 1; k < 8; k *= 2 {
		x = b.op(planpb.Op_ADD, x, b.rotate(x, k*4))
	}
	b.output("sum", x, l)
	return b
}

func TestRotateSum(t *testing.T) {
	b := rotateSumPlan(t)
	c := b.context()
	rng := rand.New(rand.NewPCG(1, 2))
	in := samples(rng, 13, 8) // 4 groups of 4, the last one partial
	res, st := roundTrip(t, c, [][][]float64{in}, 3)
	want := make([][]float64, len(in))
	for s, v := range in {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		want[s] = []float64{sum, sum, sum, sum, sum, sum, sum, sum}
	}
	checkClose(t, "rotate-sum", res[0], want, tol)
	if st.Groups != 4 || st.Workers != 3 || st.Ops.Rotations != 12 || st.Ops.KeySwitches != 12 || st.Instructions[planpb.Op_ADD] != 12 {
		t.Fatalf("stats %+v", st)
	}
}

// matVecPlan: y = W x + bias by the diagonal method (Len 4 = Period,
// Batch 2): sum_k diag_k * rot(x, k*Batch), then RESCALE and ADD_PLAIN.
func matVecPlan(t testing.TB, w [][]float64, bias []float64) *builder {
	b := newBuilder(t, stdParams(t))
	d := len(w)
	l := &planpb.Layout{Len: uint32(d), Period: uint32(d), Batch: 2}
	x := b.input("x", l, 3)
	var acc uint32
	for k := range d {
		diag := make([]float64, d)
		for i := range d {
			diag[i] = w[i][(i+k)%d]
		}
		r := x
		if k > 0 {
			r = b.rotate(x, k*2)
		}
		m := b.op(planpb.Op_MUL_PLAIN, r, b.encode(diag, 2, 3, b.prime(3)))
		if k == 0 {
			acc = m
		} else {
			acc = b.op(planpb.Op_ADD, acc, m)
		}
	}
	y := b.op(planpb.Op_RESCALE, acc)
	y = b.op(planpb.Op_ADD_PLAIN, y, b.encode(bias, 2, 2, b.scales[y]))
	b.output("y", y, l)
	return b
}

func TestMatVecBias(t *testing.T) {
	w := [][]float64{{0.5, -1, 0.25, 2}, {1, 0, 0, -0.5}, {0.1, 0.2, 0.3, 0.4}, {-2, 1, -1, 0.5}}
	bias := []float64{0.1, -0.2, 0.3, -0.4}
	b := matVecPlan(t, w, bias)
	c := b.context()
	rng := rand.New(rand.NewPCG(3, 4))
	in := samples(rng, 7, 4)
	res, st := roundTrip(t, c, [][][]float64{in}, 4)
	want := make([][]float64, len(in))
	for s, v := range in {
		want[s] = make([]float64, 4)
		for i := range 4 {
			want[s][i] = bias[i]
			for j := range 4 {
				want[s][i] += w[i][j] * v[j]
			}
		}
	}
	checkClose(t, "matvec", res[0], want, tol)
	if st.Ops.CtPtMults != 4*4 || st.Ops.Rescales != 4 || st.Ops.Encodes != 5 || st.Instructions[planpb.Op_ENCODE] != 5 {
		t.Fatalf("stats %+v", st.Ops)
	}
}

func squarePlan(t testing.TB) *builder {
	b := newBuilder(t, stdParams(t))
	l := &planpb.Layout{Len: 5, Period: 8, Batch: 8}
	x := b.input("x", l, 4)
	y := b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, b.op(planpb.Op_MUL, x, x)))
	b.output("y", y, l)
	return b
}

func TestSquare(t *testing.T) {
	c := squarePlan(t).context()
	rng := rand.New(rand.NewPCG(5, 6))
	in := samples(rng, 20, 5)
	res, st := roundTrip(t, c, [][][]float64{in}, 2)
	want := make([][]float64, len(in))
	for s, v := range in {
		for _, x := range v {
			want[s] = append(want[s], x*x)
		}
	}
	checkClose(t, "square", res[0], want, tol)
	if st.Ops.CtCtMults != 3 || st.Ops.Relinearizations != 3 || st.Ops.Rescales != 3 {
		t.Fatalf("stats %+v", st.Ops)
	}
}

var polyCoeffs = []float64{0.1, 0.6, -0.3, 0.2, 0.05, -0.1, 0.02, 0.07}

// polyPlan: Chebyshev series of degree 7 (depth 3) on a rescaled input, two
// inputs to check multi-input plans.
func polyPlan(t testing.TB) *builder {
	b := newBuilder(t, stdParams(t))
	l := &planpb.Layout{Len: 6, Period: 8, Batch: 4}
	x := b.input("x", l, 5)
	z := b.input("z", l, 5)
	h := b.op(planpb.Op_MUL_PLAIN, x, b.encode([]float64{0.5}, 4, 5, b.prime(5)))
	h = b.op(planpb.Op_RESCALE, h)
	y := b.poly(h, polyCoeffs)
	b.output("y", y, l)
	b.output("z", z, l) // an input passed through
	return b
}

func TestPoly(t *testing.T) {
	c := polyPlan(t).context()
	rng := rand.New(rand.NewPCG(7, 8))
	x, z := samples(rng, 9, 6), samples(rng, 9, 6)
	res, st := roundTrip(t, c, [][][]float64{x, z}, 4)
	want := make([][]float64, len(x))
	for s, v := range x {
		for _, xi := range v {
			want[s] = append(want[s], chebyshev(polyCoeffs, 0.5*xi))
		}
	}
	checkClose(t, "poly", res[0], want, tol)
	checkClose(t, "passthrough", res[1], z, tol)
	if st.Ops.Polys != 3 || st.Ops.CtCtMults == 0 || st.Ops.Relinearizations == 0 {
		t.Fatalf("stats %+v", st.Ops)
	}
}

// The same ciphertexts evaluated with 1 and 4 workers must give
// bit-identical outputs: evaluation is deterministic, so any difference
// means workers share state.
func TestWorkersDeterministic(t *testing.T) {
	for name, b := range map[string]*builder{"rotsum": rotateSumPlan(t), "poly": polyPlan(t)} {
		t.Run(name, func(t *testing.T) {
			c := b.context()
			sk, evk, err := c.KeyGen()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 10))
			in := make([][][]float64, len(c.Plan().Inputs))
			for i, pin := range c.Plan().Inputs {
				in[i] = samples(rng, 8*c.Batch()-1, int(pin.Layout.Len))
			}
			cts, err := c.Encrypt(sk, in)
			if err != nil {
				t.Fatal(err)
			}
			var enc [][]byte
			for _, w := range []int{1, 4, 0} {
				out, st, err := c.Evaluate(evk, cts, EvalOptions{Workers: w})
				if err != nil {
					t.Fatal(err)
				}
				if st.Groups != 8 {
					t.Fatalf("groups %d", st.Groups)
				}
				b, err := out.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				enc = append(enc, b)
			}
			if !bytes.Equal(enc[0], enc[1]) || !bytes.Equal(enc[0], enc[2]) {
				t.Fatal("outputs differ between Workers=1, 4 and NumCPU")
			}
			// The inputs are not consumed: evaluating again works.
			if _, _, err := c.Evaluate(evk, cts, EvalOptions{Workers: 2}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A plan touching every op, as the plan package's tests use.
func TestAllOps(t *testing.T) {
	b := newBuilder(t, stdParams(t))
	l := &planpb.Layout{Len: 3, Period: 4, Batch: 2}
	x := b.input("x", l, 6)
	w := []float64{1, 2, 3, 0}
	m := b.op(planpb.Op_RESCALE, b.op(planpb.Op_MUL_PLAIN, x, b.encode(w, 2, 6, b.prime(6))))
	s := b.op(planpb.Op_ADD, m, b.rotate(m, 2))
	s = b.op(planpb.Op_ADD_PLAIN, s, b.encode([]float64{0.5}, 2, 5, b.scales[s]))
	sq := b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, b.op(planpb.Op_MUL, s, s)))
	y := b.poly(b.op(planpb.Op_RESCALE, b.op(planpb.Op_MUL_PLAIN, sq, b.encode([]float64{0.02}, 2, 4, b.prime(4)))), []float64{0.1, 0.5, 0.25})
	b.output("y", y, l)
	c := b.context()
	rng := rand.New(rand.NewPCG(11, 12))
	in := samples(rng, 5, 3)
	res, _ := roundTrip(t, c, [][][]float64{in}, 2)
	want := make([][]float64, len(in))
	for si, v := range in {
		for i := range 3 {
			// rot by 2 slots = by 1 element (batch 2) within the period of 4.
			ww := []float64{v[0] * w[0], v[1] * w[1], v[2] * w[2], 0}
			e := ww[i] + ww[(i+1)%4] + 0.5
			want[si] = append(want[si], chebyshev([]float64{0.1, 0.5, 0.25}, 0.02*e*e))
		}
	}
	checkClose(t, "all ops", res[0], want, tol)
}

func TestEvaluateRejects(t *testing.T) {
	b := rotateSumPlan(t)
	c := b.context()
	sk, evk, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	cts, err := c.Encrypt(sk, [][][]float64{samples(rng, 6, 8)})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Evaluate(evk, cts, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A plan with the same parameters but fewer keys.
	b2 := newBuilder(t, stdParams(t))
	l := &planpb.Layout{Len: 8, Period: 8, Batch: 4}
	b2.output("y", b2.input("x", l, 2), l)
	c2 := b2.context()
	_, evk2, err := c2.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	// Other parameters entirely.
	b3 := newBuilder(t, testParams(t, 12, []int{55, 40, 40, 40}))
	b3.output("y", b3.input("x", l, 2), l)
	c3 := b3.context()
	sk3, evk3, err := c3.KeyGen()
	if err != nil {
		t.Fatal(err)
	}

	lowered := *cts
	lowered.values = [][]*rlweCiphertext{{cts.values[0][0].CopyNew(), cts.values[0][1]}}
	lowered.values[0][0].Resize(1, 1)

	wrongScale := *cts
	wrongScale.values = [][]*rlweCiphertext{{cts.values[0][0].CopyNew(), cts.values[0][1]}}
	wrongScale.values[0][0].Scale = wrongScale.values[0][0].Scale.Mul(wrongScale.values[0][0].Scale)

	missing := *cts
	missing.values = [][]*rlweCiphertext{{cts.values[0][0]}}

	cases := []struct {
		name string
		run  func() error
		msg  string
	}{
		{"evk lacks galois", func() error { _, _, err := c.Evaluate(evk2, cts, EvalOptions{}); return err }, "lack"},
		{"evk other params", func() error { _, _, err := c.Evaluate(evk3, cts, EvalOptions{}); return err }, "other CKKS parameters"},
		{"nil evk", func() error { _, _, err := c.Evaluate(nil, cts, EvalOptions{}); return err }, "no evaluation keys"},
		{"outputs as inputs", func() error { _, _, err := c.Evaluate(evk, out, EvalOptions{}); return err }, "want plan inputs"},
		{"wrong level", func() error { _, _, err := c.Evaluate(evk, &lowered, EvalOptions{}); return err }, "level 1, the plan expects level 2"},
		{"wrong scale", func() error { _, _, err := c.Evaluate(evk, &wrongScale, EvalOptions{}); return err }, "scale 2^80"},
		{"missing group", func() error { _, _, err := c.Evaluate(evk, &missing, EvalOptions{}); return err }, "need 2"},
		{"decrypt inputs", func() error { _, err := c.Decrypt(sk, cts); return err }, "want plan outputs"},
		{"decrypt other sk", func() error { _, err := c.Decrypt(sk3, out); return err }, "secret key was made for other"},
		{"encrypt other sk", func() error { _, err := c.Encrypt(sk3, [][][]float64{samples(rng, 1, 8)}); return err }, "secret key was made for other"},
		{"encrypt wrong len", func() error { _, err := c.Encrypt(sk, [][][]float64{samples(rng, 2, 7)}); return err }, "has 7 values, want 8"},
		{"encrypt no samples", func() error { _, err := c.Encrypt(sk, [][][]float64{{}}); return err }, "no samples"},
		{"encrypt input count", func() error { _, err := c.Encrypt(sk, nil); return err }, "0 inputs given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestNewContextRejectsInvalidPlan(t *testing.T) {
	b := rotateSumPlan(t)
	b.p.Keys.GaloisElements = nil
	if _, err := NewContext(b.p); err == nil || !strings.Contains(err.Error(), "Galois key") {
		t.Fatalf("got %v", err)
	}
}

// The plan file round trip feeds the runtime.
func TestPlanFile(t *testing.T) {
	b := matVecPlan(t, [][]float64{{1, 0}, {0, 1}}, []float64{0, 0})
	raw, err := plan.Marshal(b.p)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	in := [][]float64{{0.25, -0.5}, {1, 0.75}, {0, 0.1}}
	res, _ := roundTrip(t, c, [][][]float64{in}, 2)
	checkClose(t, "identity", res[0], in, tol)
}

// TestInstructionParallelism: with fewer groups than workers, a group's
// independent instructions run on several evaluators (a DAG schedule, with
// hoisted rotations); the result is bit-identical to sequential execution,
// and the op counts are the same.
func TestInstructionParallelism(t *testing.T) {
	for name, b := range map[string]*builder{"rotsum": rotateSumPlan(t), "poly": polyPlan(t)} {
		t.Run(name, func(t *testing.T) {
			c := b.context()
			sk, evk, err := c.KeyGen()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(11, 12))
			in := make([][][]float64, len(c.Plan().Inputs))
			for i, pin := range c.Plan().Inputs {
				in[i] = samples(rng, 1, int(pin.Layout.Len))
			}
			cts, err := c.Encrypt(sk, in)
			if err != nil {
				t.Fatal(err)
			}
			seq, st1, err := c.Evaluate(evk, cts, EvalOptions{Workers: 3, NoInstructionParallelism: true})
			if err != nil {
				t.Fatal(err)
			}
			par, st2, err := c.Evaluate(evk, cts, EvalOptions{Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if st2.Workers != 3 || st1.Groups != 1 {
				t.Fatalf("workers %d groups %d", st2.Workers, st1.Groups)
			}
			a, _ := seq.MarshalBinary()
			b, _ := par.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Fatal("parallel (DAG) and sequential evaluation differ")
			}
			if st1.Ops.Rotations != st2.Ops.Rotations || st1.Ops.CtPtMults != st2.Ops.CtPtMults || st1.Ops.Rescales != st2.Ops.Rescales {
				t.Fatalf("op counts differ: %+v vs %+v", st1.Ops, st2.Ops)
			}
		})
	}
}
