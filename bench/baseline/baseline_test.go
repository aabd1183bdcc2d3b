package baseline

import (
	"github.com/fhec/fhec/internal/vec"
	"math"
	"slices"
	"testing"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/layout"
)

// testSamples is the number of inputs the correctness tests encrypt.
const testSamples = 8

// calibration returns the fhec calibration tensor: inputs drawn like the
// test inputs, from another seed.
func calibration() fhec.Tensor {
	xs := TestInputs(2, 64)
	cal := fhec.Tensor{Shape: []int{len(xs), In}}
	for _, x := range xs {
		cal.Data = append(cal.Data, x...)
	}
	return cal
}

// compileFhec compiles the ONNX model with fhec as the benchmark does.
func compileFhec(tb testing.TB, onnx []byte, act Activation) *fhec.Compiled {
	tb.Helper()
	cal := calibration()
	opt := fhec.CompileOptions{Calibration: &cal, Batch: 1} // latency mode: one sample per ciphertext
	if act == ReLU7 {
		opt.ActivationDegree = ReLUDegree
	}
	c, err := fhec.Compile(onnx, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if c.Params.Security != 128 {
		tb.Fatalf("fhec chose %d-bit parameters", c.Params.Security)
	}
	return c
}

func setup(tb testing.TB, act Activation) (*MLP, []byte, *Baseline) {
	tb.Helper()
	m, onnx, err := NewTestModel(TestModelSeed, act)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := New(m, act)
	if err != nil {
		tb.Fatal(err)
	}
	return m, onnx, b
}

func TestParameters(t *testing.T) {
	for _, act := range []Activation{Square, ReLU7} {
		_, _, b := setup(t, act)
		p := b.Params
		if p.LogN() != 13 || p.LogQP() > MaxLogQP128 {
			t.Errorf("%s: logN %d log2(QP) %.3f", act, p.LogN(), p.LogQP())
		}
		want := 3
		if act == ReLU7 {
			want = 5
		}
		if p.MaxLevel() != want {
			t.Errorf("%s: %d levels, want %d", act, p.MaxLevel(), want)
		}
		t.Logf("%s: logN %d, log2(Q) %.2f, log2(P) %.2f, log2(QP) %.3f, scale 2^%d, %d rotation keys",
			act, p.LogN(), p.LogQ(), p.LogP(), p.LogQP(), p.LogDefaultScale(), len(b.GaloisElements()))
	}
}

// TestReLU7 checks the polynomial: the interpolant of ReLU on [-2, 2] at
// the Chebyshev nodes, within 0.15 of ReLU on the interval.
func TestReLU7(t *testing.T) {
	c := ReLU7Coeffs()
	if len(c) != ReLUDegree+1 {
		t.Fatalf("%d coefficients", len(c))
	}
	worst := 0.0
	for i := 0; i <= 400; i++ {
		x := -2 + float64(i)/100
		worst = math.Max(worst, math.Abs(ChebyshevEval(c, x/2)-math.Max(x, 0)))
	}
	for k := 0; k < 8; k++ { // interpolates at the nodes
		x := 2 * math.Cos(math.Pi*(float64(k)+0.5)/8)
		if d := math.Abs(ChebyshevEval(c, x/2) - math.Max(x, 0)); d > 1e-12 {
			t.Errorf("node %v: off by %v", x, d)
		}
	}
	if worst > 0.15 {
		t.Errorf("max |relu7 - relu| on [-2, 2] = %v", worst)
	}
	t.Logf("coefficients %v, max |relu7 - relu| on [-2, 2] = %.4f", c, worst)
}

// TestBaselineMatchesModel decrypts the baseline's outputs and compares them
// with the float64 model (relu7 polynomial in place of ReLU) within 8 times
// the error standard deviation that Baseline.ErrorStd derives from the
// parameters; argmax must match too.
func TestBaselineMatchesModel(t *testing.T) {
	xs := TestInputs(1, testSamples)
	for _, act := range []Activation{Square, ReLU7} {
		t.Run(string(act), func(t *testing.T) {
			m, _, b := setup(t, act)
			zMax := 0.0
			for _, x := range xs {
				for _, z := range m.Hidden(x) {
					zMax = math.Max(zMax, math.Abs(z))
				}
			}
			if act == ReLU7 && zMax > ReLUBound {
				t.Fatalf("test inputs leave the relu interval: |z| up to %v", zMax)
			}
			sigma := b.ErrorStd(m, zMax)
			bound := 8 * sigma
			sk, evk := b.KeyGen()
			srv := b.NewServer(evk)
			worst := 0.0
			for s, x := range xs {
				ct, err := b.Encrypt(sk, x)
				if err != nil {
					t.Fatal(err)
				}
				out, ops, err := srv.Evaluate(ct)
				if err != nil {
					t.Fatal(err)
				}
				if s == 0 {
					t.Logf("ops %+v, output level %d", ops, out.Level())
				}
				y, err := b.Decrypt(sk, out)
				if err != nil {
					t.Fatal(err)
				}
				want := m.Forward(x, act, false)
				for o := range want {
					d := math.Abs(y[o] - want[o])
					worst = math.Max(worst, d)
					if d > bound {
						t.Errorf("sample %d output %d: %v, want %v (|err| %.3g > bound %.3g)", s, o, y[o], want[o], d, bound)
					}
				}
				if vec.Argmax(y) != vec.Argmax(want[:]) {
					t.Errorf("sample %d: argmax %d, want %d", s, vec.Argmax(y), vec.Argmax(want[:]))
				}
			}
			t.Logf("max |err| %.3g (2^%.1f), predicted sigma %.3g, bound 8 sigma %.3g", worst, math.Log2(worst), sigma, bound)
		})
	}
}

// fhecReference runs fhec's compiled ckks-level function on cleartext slots
// (ir.Simulate): the function fhec's plan computes, with its own fitted ReLU
// polynomial, without encryption.
func fhecReference(tb testing.TB, c *fhec.Compiled, xs [][]float64) [][]float64 {
	tb.Helper()
	in, out := c.Plan.Inputs[0].Layout, c.Plan.Outputs[0].Layout
	tin := layout.Tiled{Len: int(in.Len), Period: int(in.Period), Batch: int(in.Batch), Block: int(in.Block), Stride: int(in.Stride)}
	tout := layout.Tiled{Len: int(out.Len), Period: int(out.Period), Batch: int(out.Batch), Block: int(out.Block), Stride: int(out.Stride)}
	slots := 1 << (c.Params.LogN - 1)
	var res [][]float64
	for g := 0; g < len(xs); g += tin.Batch {
		group := xs[g:min(g+tin.Batch, len(xs))]
		v, err := tin.Pack(group, slots)
		if err != nil {
			tb.Fatal(err)
		}
		y, err := ir.Simulate(c.IR, slots, [][]float64{v})
		if err != nil {
			tb.Fatal(err)
		}
		s, err := tout.Unpack(y[0], len(group))
		if err != nil {
			tb.Fatal(err)
		}
		res = append(res, s...)
	}
	return res
}

// margin is top1 - top2.
func margin(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)-1] - s[len(s)-2]
}

func maxAbsDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// TestFhecAgreesWithBaseline compiles the same ONNX model with fhec, runs
// the same inputs through its encrypted plan and through the baseline, and
// checks that the argmax agrees (fhec = baseline = exact float64 model).
//
// fhec fits its own ReLU polynomial per neuron on the calibrated range, the
// baseline interpolates on [-2, 2]: for relu7 the two compute different
// approximations of the model, and on a random model many top-2 logit gaps
// are smaller than what either approximation moves the logits. The argmax
// is therefore asserted on decisive inputs: those whose exact-model margin
// exceeds twice the largest logit deviation of either approximation,
// computed in cleartext (baseline: the float64 model with relu7; fhec:
// ir.Simulate of its compiled function), plus the CKKS error allowance;
// there neither approximation nor noise can flip the argmax. For x² both
// compute the same function and every input with a margin above the noise
// counts. Also checked: fhec's decrypted outputs match its cleartext
// simulation (its plan is correct on these inputs).
func TestFhecAgreesWithBaseline(t *testing.T) {
	pool := TestInputs(1, 256)
	for _, act := range []Activation{Square, ReLU7} {
		t.Run(string(act), func(t *testing.T) {
			m, onnx, b := setup(t, act)
			c := compileFhec(t, onnx, act)
			ref := fhecReference(t, c, pool)
			const noise = 1e-3 // CKKS allowance on a logit, both sides (>> 8 sigma of the baseline)
			var xs [][]float64
			var fref [][]float64
			for s, x := range pool {
				exact := m.Forward(x, act, true)
				approx := m.Forward(x, act, false)
				dev := math.Max(maxAbsDiff(exact[:], approx[:]), maxAbsDiff(exact[:], ref[s]))
				if margin(exact[:]) > 2*dev+2*noise {
					xs = append(xs, x)
					fref = append(fref, ref[s])
				}
				if len(xs) == testSamples {
					break
				}
			}
			if len(xs) < testSamples {
				t.Fatalf("only %d decisive inputs in a pool of %d", len(xs), len(pool))
			}

			r, err := fhec.NewRuntime(c.Plan)
			if err != nil {
				t.Fatal(err)
			}
			fsk, fevk, err := r.KeyGen()
			if err != nil {
				t.Fatal(err)
			}
			x := fhec.Tensor{Shape: []int{len(xs), In}}
			for _, v := range xs {
				x.Data = append(x.Data, v...)
			}
			fct, err := r.EncryptTensor(fsk, x)
			if err != nil {
				t.Fatal(err)
			}
			fout, _, err := r.Evaluate(fevk, fct, fhec.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fy, err := r.DecryptTensor(fsk, fout)
			if err != nil {
				t.Fatal(err)
			}

			sk, evk := b.KeyGen()
			srv := b.NewServer(evk)
			maxDiff, simDiff := 0.0, 0.0
			for s, xv := range xs {
				ct, err := b.Encrypt(sk, xv)
				if err != nil {
					t.Fatal(err)
				}
				out, _, err := srv.Evaluate(ct)
				if err != nil {
					t.Fatal(err)
				}
				y, err := b.Decrypt(sk, out)
				if err != nil {
					t.Fatal(err)
				}
				got := fy.Data[s*Out : (s+1)*Out]
				maxDiff = math.Max(maxDiff, maxAbsDiff(got, y))
				if d := maxAbsDiff(got, fref[s]); d > noise {
					t.Errorf("sample %d: fhec decrypted %v, its cleartext simulation %v (|diff| %.3g)", s, got, fref[s], d)
				} else {
					simDiff = math.Max(simDiff, d)
				}
				exact := m.Forward(xv, act, true)
				fa, ba, ea := vec.Argmax(got), vec.Argmax(y), vec.Argmax(exact[:])
				if fa != ba || fa != ea {
					t.Errorf("sample %d: argmax fhec %d, baseline %d, float64 model %d", s, fa, ba, ea)
				}
			}
			t.Logf("fhec logN %d depth %d scale 2^%d batch %d: max |fhec - its simulation| %.3g, max |fhec - baseline| %.3g",
				c.Params.LogN, c.Params.Depth, c.Params.LogScale, c.Params.Batch, simDiff, maxDiff)
		})
	}
}
