package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// testParams returns insecure test parameters with 2^40 default scale.
func testParams(t testing.TB, logN int, logQ []int) *planpb.Params {
	t.Helper()
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN: logN, LogQ: logQ, LogP: []int{61}, LogDefaultScale: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.FromCKKSParameters(hp)
	if err != nil {
		t.Fatal(err)
	}
	p.Insecure = true
	return p
}

// stdParams: N = 2^12 (2048 slots), 7 ciphertext primes (max level 6).
func stdParams(t testing.TB) *planpb.Params {
	return testParams(t, 12, []int{55, 40, 40, 40, 40, 40, 40})
}

type rlweCiphertext = rlwe.Ciphertext

const scale40 = float64(1 << 40)

// builder assembles hand-written plans.
type builder struct {
	t      testing.TB
	p      *planpb.Plan
	params hefloat.Parameters
	levels map[uint32]int
	scales map[uint32]float64
}

func newBuilder(t testing.TB, params *planpb.Params) *builder {
	t.Helper()
	hp, err := plan.CKKSParameters(params)
	if err != nil {
		t.Fatal(err)
	}
	return &builder{
		t:      t,
		p:      &planpb.Plan{Producer: "runtime test", Params: params, Keys: &planpb.KeySet{}},
		params: hp,
		levels: map[uint32]int{},
		scales: map[uint32]float64{},
	}
}

func (b *builder) def() uint32 {
	id := b.p.NumValues
	b.p.NumValues++
	return id
}

func (b *builder) input(name string, l *planpb.Layout, level int) uint32 {
	id := b.def()
	b.p.Inputs = append(b.p.Inputs, &planpb.Input{Name: name, Shape: []int64{int64(l.Len)}, Layout: l, Value: id, Level: uint32(level), Scale: scale40})
	b.levels[id], b.scales[id] = level, scale40
	return id
}

// encode adds a constant and an ENCODE of it.
func (b *builder) encode(values []float64, batch, level int, scale float64) uint32 {
	b.p.Constants = append(b.p.Constants, &planpb.Constant{Name: "c", Values: values})
	id := b.def()
	b.p.Program = append(b.p.Program, &planpb.Instruction{Op: planpb.Op_ENCODE, Result: id, Constant: uint32(len(b.p.Constants) - 1), Level: uint32(level), Scale: scale, Batch: uint32(batch)})
	b.levels[id], b.scales[id] = level, scale
	return id
}

// prime is the modulus a RESCALE at this level drops.
func (b *builder) prime(level int) float64 { return float64(b.params.Q()[level]) }

func (b *builder) op(op planpb.Op, args ...uint32) uint32 {
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
		s /= b.prime(lvl)
		lvl--
	case planpb.Op_RELINEARIZE:
		b.p.Keys.Relinearization = true
	}
	b.levels[id], b.scales[id] = lvl, s
	return id
}

func (b *builder) rotate(x uint32, offset int) uint32 {
	id := b.op(planpb.Op_ROTATE, x)
	b.p.Program[len(b.p.Program)-1].Offset = int64(offset)
	g := b.params.GaloisElement(offset)
	for _, h := range b.p.Keys.GaloisElements {
		if h == g {
			return id
		}
	}
	b.p.Keys.GaloisElements = append(b.p.Keys.GaloisElements, g)
	sortU64(b.p.Keys.GaloisElements)
	return id
}

func (b *builder) poly(x uint32, coeffs []float64) uint32 {
	id := b.def()
	depth := plan.PolyDepth(len(coeffs) - 1)
	b.p.Program = append(b.p.Program, &planpb.Instruction{Op: planpb.Op_POLY, Args: []uint32{x}, Result: id, Coeffs: coeffs, Depth: uint32(depth), Scale: scale40})
	b.p.Keys.Relinearization = true
	b.levels[id], b.scales[id] = b.levels[x]-depth, scale40
	return id
}

func (b *builder) output(name string, v uint32, l *planpb.Layout) {
	b.p.Outputs = append(b.p.Outputs, &planpb.Output{Name: name, Shape: []int64{int64(l.Len)}, Layout: l, Value: v})
}

func (b *builder) context() *Context {
	b.t.Helper()
	c, err := NewContext(b.p)
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

func sortU64(s []uint64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// samples returns n random vectors of length d in [-1, 1].
func samples(rng *rand.Rand, n, d int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = 2*rng.Float64() - 1
		}
	}
	return out
}

// chebyshev evaluates sum_k c[k] T_k(x).
func chebyshev(c []float64, x float64) float64 {
	t0, t1 := 1.0, x
	s := c[0] * t0
	for k := 1; k < len(c); k++ {
		s += c[k] * t1
		t0, t1 = t1, 2*x*t1-t0
	}
	return s
}

// roundTrip runs keygen, encrypt, evaluate, decrypt.
func roundTrip(t testing.TB, c *Context, in [][][]float64, workers int) ([][][]float64, *Stats) {
	t.Helper()
	sk, evk, err := c.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	cts, err := c.Encrypt(sk, in)
	if err != nil {
		t.Fatal(err)
	}
	out, st, err := c.Evaluate(evk, cts, EvalOptions{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Decrypt(sk, out)
	if err != nil {
		t.Fatal(err)
	}
	return res, st
}

func checkClose(t testing.TB, name string, got, want [][]float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, want %d", name, len(got), len(want))
	}
	worst := 0.0
	for s := range want {
		if len(got[s]) != len(want[s]) {
			t.Fatalf("%s: sample %d has %d values, want %d", name, s, len(got[s]), len(want[s]))
		}
		for i := range want[s] {
			if e := math.Abs(got[s][i] - want[s][i]); e > worst || math.IsNaN(e) {
				worst = e
				if e > tol || math.IsNaN(e) {
					t.Fatalf("%s: sample %d element %d = %v, want %v (error %.3g > %.0g)", name, s, i, got[s][i], want[s][i], e, tol)
				}
			}
		}
	}
	t.Logf("%s: max error %.3g over %d samples", name, worst, len(want))
}
