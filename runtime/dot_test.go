package runtime

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

type bigInt = big.Int

func bigIntOf(x int64) *big.Int { return big.NewInt(x) }

func ringBRedConstant(q uint64) []uint64 { return ring.BRedConstant(q) }

func rlweNewScale(x float64) rlwe.Scale { return rlwe.NewScale(x) }

func mustEvk(t *testing.T, c *Context, b []byte) *EvaluationKeys {
	t.Helper()
	evk, err := c.UnmarshalEvaluationKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	return evk
}

// fmInput adds a feature-major input of e elements: one ciphertext per
// element, sample b in slot b.
func (b *builder) fmInput(name string, e, level int) []uint32 {
	l := &planpb.Layout{Len: 1, Period: 1, Batch: uint32(b.params.MaxSlots())}
	ids := make([]uint32, e)
	for f := range ids {
		ids[f] = b.def()
		b.levels[ids[f]], b.scales[ids[f]] = level, scale40
	}
	b.p.Inputs = append(b.p.Inputs, &planpb.Input{Name: name, Shape: []int64{int64(e)}, Layout: l, Value: ids[0], ElementValues: ids, Level: uint32(level), Scale: scale40})
	return ids
}

func (b *builder) fmOutput(name string, ids []uint32) {
	l := &planpb.Layout{Len: 1, Period: 1, Batch: uint32(b.params.MaxSlots())}
	b.p.Outputs = append(b.p.Outputs, &planpb.Output{Name: name, Shape: []int64{int64(len(ids))}, Layout: l, Value: ids[0], ElementValues: ids})
}

// dot adds a DOT: sum_k coeffs[k] args[k] + bias, weights at scale.
func (b *builder) dot(args []uint32, coeffs []float64, bias, scale float64) uint32 {
	id := b.op(planpb.Op_DOT, args...)
	ins := b.p.Program[len(b.p.Program)-1]
	ins.Coeffs, ins.Bias, ins.Scale = coeffs, bias, scale
	b.scales[id] *= scale
	return id
}

// fmDense is the feature-major test network: y_r = sum_k W[r][k] x_k^2 +
// bias[r] over 4 input elements, 3 outputs: MUL (square, no relin) ->
// RESCALE -> DOT on the degree-2 squares, weights at the prime the next
// RESCALE drops -> RELINEARIZE -> RESCALE.
var (
	fmW = [][]float64{
		{0.5, -1.25, 0, 0.3},     // negative, zero, fractional
		{-0.75, 0.125, 2, -0.01}, // |w| > 1 and tiny
		{0, 0, 0, 0},             // all zero: the bias alone
	}
	fmBias = []float64{0.25, -0.5, 0.375}
)

func fmDensePlan(t testing.TB) *builder {
	b := newBuilder(t, testParams(t, 10, []int{55, 40, 40}))
	x := b.fmInput("x", 4, 2)
	sq := make([]uint32, len(x))
	for k, v := range x {
		sq[k] = b.op(planpb.Op_RESCALE, b.op(planpb.Op_MUL, v, v))
	}
	ys := make([]uint32, len(fmW))
	for r := range fmW {
		d := b.dot(sq, fmW[r], fmBias[r], b.prime(1))
		ys[r] = b.op(planpb.Op_RESCALE, b.op(planpb.Op_RELINEARIZE, d))
	}
	b.fmOutput("y", ys)
	return b
}

func fmDenseWant(in [][]float64) [][]float64 {
	want := make([][]float64, len(in))
	for s, x := range in {
		want[s] = make([]float64, len(fmW))
		for r, row := range fmW {
			want[s][r] = fmBias[r]
			for k, w := range row {
				want[s][r] += w * x[k] * x[k]
			}
		}
	}
	return want
}

// fmTol bounds the CKKS error of fmDensePlan's outputs. The dominant term
// is the RESCALE of the degree-2 squares (before relinearization): it
// rounds c0 + c1 s + c2 s^2, so slot j gets u(z_j) s(z_j)^2 / D, with u the
// rounding (u(z_j) ~ normal, std sqrt(N/24)) and |s(z_j)|^2 ~ exponential of
// mean h (the secret's Hamming weight): a heavy-tailed product. With ~1200
// slots per run, 6 standard deviations of u and the largest |s(z_j)|^2
// expected, h ln(2 x 1200), bound each square's error; the DOT weighs these
// independent errors by at most max_r ||W_r||_2 = 2.15. Fresh encryption,
// weight rounding (< sum|w| 0.5/2^40), relinearization and the last rescale
// add below 1e-9 (measured 1.7e-10 std without the degree-2 rescale).
// At N = 2^10, h = 683, D = 2^40: ~3.4e-7; measured maxima ~1e-7.
func fmTol(c *Context) float64 {
	n, h := float64(c.params.N()), float64(c.params.XsHammingWeight())
	return 2.15*6*math.Sqrt(n/24)*h*math.Log(2*1200)/scale40 + 1e-9
}

func TestFeatureMajorDot(t *testing.T) {
	b := fmDensePlan(t)
	c := b.context()
	slots := c.params.MaxSlots()
	if c.Batch() != slots || c.Rows(Inputs) != 4 || c.Rows(Outputs) != 3 {
		t.Fatalf("batch %d rows %d/%d, want %d 4/3", c.Batch(), c.Rows(Inputs), c.Rows(Outputs), slots)
	}
	rng := rand.New(rand.NewPCG(51, 52))
	for _, n := range []int{37, slots + 100} { // one partial group; two groups
		in := samples(rng, n, 4)
		want := fmDenseWant(in)
		for _, workers := range []int{1, 2} {
			res, st := roundTrip(t, c, [][][]float64{in}, workers)
			checkClose(t, "feature-major dense", res[0], want, fmTol(c))
			groups := int64(c.Groups(n))
			// Counted as the compiler counts (plan.DotTerms): a DOT is one
			// ct-pt product per nonzero weight and len(args)-1 additions.
			terms := int64(0)
			for _, ins := range c.Plan().Program {
				if ins.Op == planpb.Op_DOT {
					terms += int64(plan.DotTerms(ins))
				}
			}
			if terms != 7 {
				t.Fatalf("the test plan has %d nonzero weights, want 7", terms)
			}
			if st.Instructions[planpb.Op_DOT] != 3*groups || st.Ops.CtPtMults != terms*groups || st.Ops.Additions != 9*groups ||
				st.Ops.CtCtMults != 4*groups || st.Ops.Rescales != 7*groups || st.Ops.Relinearizations != 3*groups {
				t.Fatalf("n=%d workers=%d: stats %+v %+v", n, workers, st.Instructions, st.Ops)
			}
		}
	}
}

// TestDotExact checks DOT's ring arithmetic against the exact integer
// result on decrypted plaintexts: the decryption of sum_k w_k ct_k + B is
// sum_k w_k m_k + B mod q, coefficient by coefficient.
func TestDotExact(t *testing.T) {
	d := newDotBench(t, 5)
	q := d.w.c.params.Q()
	// Weights at their extremes (|w| close to 2^62), negative, zero.
	d.ins.Scale = float64(q[3])
	d.ins.Coeffs = []float64{-float64(1<<62-1024) / d.ins.Scale, 3 / d.ins.Scale, 0, -1 / d.ins.Scale, float64(1<<61) / d.ins.Scale}
	d.ins.Bias = -1.5
	res, err := d.w.dot(d.ins, d.vals)
	if err != nil {
		t.Fatal(err)
	}
	if want := res.Scale.Float64() / (scale40 * d.ins.Scale); math.Abs(want-1) > 1e-15 {
		t.Fatalf("result scale off by %v", want)
	}
	checkDotExact(t, d, d.ins, res)
	if reduceInt64(math.MinInt64, q[0]) != new(bigInt).Mod(bigIntOf(math.MinInt64), new(bigInt).SetUint64(q[0])).Uint64() {
		t.Fatal("reduceInt64(MinInt64)")
	}
}

// TestDotKernels checks every accumulation path against exact integer
// arithmetic: primes below 2^29.5 (64-bit words), of 30 to 38 bits (split
// weights), and above (128-bit), with enough arguments to fold the
// accumulators several times, as one DOT and as a group of rows.
func TestDotKernels(t *testing.T) {
	for _, logQ := range [][]int{{37, 28, 28, 28, 28}, {38, 30, 33, 29, 36}, {50, 40, 45, 55, 60}} {
		d := newDotBenchPrimes(t, 300, logQ)
		q := d.w.c.params.Q()
		rng := rand.New(rand.NewPCG(uint64(logQ[1]), 5))
		var insts []*planpb.Instruction
		for r := 0; r < 3; r++ {
			ins := &planpb.Instruction{Op: planpb.Op_DOT, Args: d.ins.Args, Scale: 1 << 20, Bias: float64(r) - 1}
			for range d.ins.Args {
				c := (2*rng.Float64() - 1) * float64(int64(1)<<(r*20))
				if rng.IntN(7) == 0 {
					c = 0
				}
				ins.Coeffs = append(ins.Coeffs, c)
			}
			insts = append(insts, ins)
		}
		res, err := d.w.dotRows(insts, d.vals)
		if err != nil {
			t.Fatal(err)
		}
		for r, ins := range insts {
			checkDotExact(t, d, ins, res[r])
		}
		one, err := d.w.dot(insts[1], d.vals)
		if err != nil {
			t.Fatal(err)
		}
		checkDotExact(t, d, insts[1], one)

		// The worst case for the accumulators' fold intervals: every
		// coefficient q-1, every weight -1 = q-1 mod q; 1100 arguments
		// exceed 8 fold intervals of every path.
		d = newDotBenchPrimes(t, 1100, logQ)
		for _, ct := range d.vals {
			for _, p := range ct.Value {
				for j, row := range p.Coeffs {
					for i := range row {
						row[i] = q[j] - 1
					}
				}
			}
		}
		worst := &planpb.Instruction{Op: planpb.Op_DOT, Args: d.ins.Args, Scale: 1}
		for range d.ins.Args {
			worst.Coeffs = append(worst.Coeffs, -1)
		}
		res, err = d.w.dotRows([]*planpb.Instruction{worst, worst}, d.vals)
		if err != nil {
			t.Fatal(err)
		}
		checkDotExact(t, d, worst, res[1])
	}
}

// checkDotExact compares the first 64 coefficients of every limb and
// component of res with sum_k w_k c_k (+ the bias on component 0) mod q_j
// in exact integers.
func checkDotExact(t *testing.T, d *dotBench, ins *planpb.Instruction, res *rlwe.Ciphertext) {
	t.Helper()
	q := d.w.c.params.Q()
	weights, err := dotWeights(ins)
	if err != nil {
		t.Fatal(err)
	}
	bias := dotBias(ins.Bias, d.vals[0].Scale, ins.Scale)
	for j := 0; j <= res.Level(); j++ {
		qj := q[j]
		bm := new(bigInt).Mod(bias, new(bigInt).SetUint64(qj)).Uint64()
		for i := range res.Value {
			for x := 0; x < 64; x++ {
				acc := new(bigInt)
				for k, ct := range d.vals {
					acc.Add(acc, new(bigInt).Mul(bigIntOf(weights[k]), new(bigInt).SetUint64(ct.Value[i].Coeffs[j][x])))
				}
				if i == 0 {
					acc.Add(acc, new(bigInt).SetUint64(bm))
				}
				want := acc.Mod(acc, new(bigInt).SetUint64(qj)).Uint64()
				if got := res.Value[i].Coeffs[j][x]; got != want {
					t.Fatalf("%d-bit prime, limb %d component %d coefficient %d: %d, want %d", bits.Len64(qj), j, i, x, got, want)
				}
			}
		}
	}
}

// TestDotLimbFolds runs dotLimb on a 61-bit prime with more terms than one
// 128-bit accumulation holds (64), so that it folds.
func TestDotLimbFolds(t *testing.T) {
	const q = 2305843009213693951 // 2^61 - 1
	if dotChunk(q) != 64 {
		t.Fatalf("chunk %d", dotChunk(q))
	}
	bred := ringBRedConstant(q)
	rng := rand.New(rand.NewPCG(53, 54))
	const n, N = 201, 16
	w := make([]uint64, n)
	in := make([][]uint64, n)
	for k := range w {
		w[k] = q - 1 - rng.Uint64N(3)
		in[k] = make([]uint64, N)
		for i := range in[k] {
			in[k][i] = q - 1 - rng.Uint64N(3)
		}
	}
	out, hi, lo := make([]uint64, N), make([]uint64, N), make([]uint64, N)
	dotLimb(out, w, in, q, bred, hi, lo)
	for i := range out {
		acc := new(bigInt)
		for k := range w {
			acc.Add(acc, new(bigInt).Mul(new(bigInt).SetUint64(w[k]), new(bigInt).SetUint64(in[k][i])))
		}
		if want := acc.Mod(acc, new(bigInt).SetUint64(q)).Uint64(); out[i] != want {
			t.Fatalf("coefficient %d: %d, want %d", i, out[i], want)
		}
	}
}

func TestDotErrors(t *testing.T) {
	d := newDotBench(t, 3)
	// An argument at another level: an error, not a panic.
	low := d.vals[1].CopyNew()
	low.Resize(2, 2)
	vals := []*rlweCiphertext{d.vals[0], low, d.vals[2]}
	if _, err := d.w.dot(d.ins, vals); err == nil || !strings.Contains(err.Error(), "at level 2 degree 2, argument 0 at level 3 degree 2") {
		t.Fatalf("levels: %v", err)
	}
	// Another degree.
	lin := d.vals[2].CopyNew()
	lin.Resize(1, 3)
	if _, err := d.w.dot(d.ins, []*rlweCiphertext{d.vals[0], d.vals[1], lin}); err == nil || !strings.Contains(err.Error(), "degree 1") {
		t.Fatalf("degrees: %v", err)
	}
	// Another scale.
	sc := d.vals[2].CopyNew()
	sc.Scale = sc.Scale.Mul(rlweNewScale(2))
	if _, err := d.w.dot(d.ins, []*rlweCiphertext{d.vals[0], d.vals[1], sc}); err == nil || !strings.Contains(err.Error(), "exactly equal") {
		t.Fatalf("scales: %v", err)
	}
	// A missing operand, a weight out of range.
	if _, err := d.w.dot(d.ins, []*rlweCiphertext{d.vals[0], nil, d.vals[2]}); err == nil || !strings.Contains(err.Error(), "not a computed") {
		t.Fatalf("missing: %v", err)
	}
	huge := &planpb.Instruction{Op: planpb.Op_DOT, Args: d.ins.Args, Scale: d.ins.Scale, Coeffs: []float64{1, 1e30, 1}}
	if _, err := d.w.dot(huge, d.vals); err == nil || !strings.Contains(err.Error(), "not an int64 weight") {
		t.Fatalf("weight: %v", err)
	}
}

// TestFeatureMajorFiles: ciphertext files of a feature-major plan round-trip
// (one row per element) and a corrupt one is refused.
func TestFeatureMajorFiles(t *testing.T) {
	f := makeFiles(t, fmDensePlan(t), 5)
	c := f.c
	in, err := c.UnmarshalCiphertexts(f.in)
	if err != nil {
		t.Fatal(err)
	}
	if in.Rows() != 4 || in.Samples() != 5 {
		t.Fatalf("rows %d samples %d", in.Rows(), in.Samples())
	}
	again, err := in.MarshalBinary()
	if err != nil || !bytes.Equal(again, f.in) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	outs, err := c.UnmarshalCiphertexts(f.outs)
	if err != nil || outs.Rows() != 3 {
		t.Fatalf("outputs: %v", err)
	}
	bd := body(f.in)
	for _, x := range []struct {
		name string
		b    []byte
		err  error
		msg  string
	}{
		{"one row per tensor", reseal(f.in, setU32(bd, 1, 1)), nil, "1 ciphertexts per group of plan inputs, the plan has 4"},
		{"row missing", reseal(f.in, bd[:17+3*(len(bd)-17)/4]), ErrMalformed, `inputs "x" element 3 group 0`},
		{"flipped bit", func() []byte { b := bytes.Clone(f.in); b[len(b)/2] ^= 1; return b }(), ErrCorrupt, "checksum"},
		{"outputs as inputs", reseal(f.in, setU8(bd, 0, 2)), nil, "4 ciphertexts per group of plan outputs, the plan has 3"},
	} {
		_, err := c.UnmarshalCiphertexts(x.b)
		if err == nil || (x.err != nil && !errors.Is(err, x.err)) || !strings.Contains(err.Error(), x.msg) {
			t.Fatalf("%s: error %v, want %v containing %q", x.name, err, x.err, x.msg)
		}
	}
	// A row at the wrong level: the plan check names the element.
	in.values[2][0].Resize(1, 1)
	if _, _, err := c.Evaluate(mustEvk(t, c, f.evk), in, EvalOptions{Workers: 1}); err == nil || !strings.Contains(err.Error(), `input "x" element 2 group 0 is at level 1`) {
		t.Fatalf("level: %v", err)
	}
}
