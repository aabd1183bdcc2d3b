package passes

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhec/fhec/ir"
)

// denseMaxError is max |fn - p| on a grid 25x denser than FitError's.
func denseMaxError(fn func(float64) float64, coeffs []float64, lo, hi float64) float64 {
	const points = 100000
	worst := 0.0
	for i := 0; i <= points; i++ {
		x := lo + (hi-lo)*float64(i)/points
		t := (2*x - lo - hi) / (hi - lo)
		worst = math.Max(worst, math.Abs(fn(x)-ir.ChebyshevEval(coeffs, t)))
	}
	return worst
}

// TestFitBoundsDenseGrid is acceptance 4: every fitting routine's stated
// error bound (FitError, recorded in the plan as max_err) holds on a grid
// 25 times denser, within 2% (the grid cannot see between its points, and a
// kink's error peaks sharply).
func TestFitBoundsDenseGrid(t *testing.T) {
	relu := func(x float64) float64 { return math.Max(x, 0) }
	rng := rand.New(rand.NewPCG(1, 2))
	var seen []float64
	for i := 0; i < 5000; i++ {
		seen = append(seen, 0.3*rng.NormFloat64())
	}
	for _, d := range reluDegrees {
		for _, data := range [][]float64{nil, seen} {
			c, err := FitReLU(d, data)
			if err != nil {
				t.Fatal(err)
			}
			stated := FitError(relu, c, -1, 1)
			dense := denseMaxError(relu, c, -1, 1)
			t.Logf("relu degree %d (data %v): stated %.4g, dense grid %.4g", d, data != nil, stated, dense)
			if dense > stated*1.02+1e-12 {
				t.Errorf("relu degree %d: dense-grid error %.4g above the stated %.4g", d, dense, stated)
			}
		}
	}
	smooth := map[string][2]float64{"sigmoid": {-12, 12}, "tanh": {-5, 5}, "gelu": {-8, 8}, "softplus": {-10, 10}, "erf": {-4, 4}, "elu": {-6, 3}}
	for name, iv := range smooth {
		fn, err := ir.ElementwiseFunc(&ir.Op{Code: name, Attrs: map[string]ir.Attr{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range smoothDegrees {
			c := ChebyshevInterpolate(fn, iv[0], iv[1], d)
			stated := FitError(fn, c, iv[0], iv[1])
			dense := denseMaxError(fn, c, iv[0], iv[1])
			if dense > stated*1.02+1e-12 {
				t.Errorf("%s degree %d on %v: dense-grid error %.4g above the stated %.4g", name, d, iv, dense, stated)
			}
		}
	}
}

// TestPrecisionTarget: with a precision target, FitActivations picks the
// lowest degree whose measured fit error meets it, and records that error.
func TestPrecisionTarget(t *testing.T) {
	relu := func(x float64) float64 { return math.Max(x, 0) }
	for _, prec := range []float64{1.0 / 32, 1.0 / 64, 1.0 / 128} {
		want := 0
		for _, d := range reluDegrees {
			c, _ := FitReLU(d, nil)
			if FitError(relu, c, -1, 1) <= prec {
				want = d
				break
			}
		}
		if want == 0 {
			t.Fatalf("no degree meets %g", prec)
		}
		f, err := ir.Parse(`func @m(%x: tensor<1x4, secret>) -> (%y) {
  %y = relu %x : tensor<1x4, secret>
  return %y
}`)
		if err != nil {
			t.Fatal(err)
		}
		c := &Context{Precision: prec}
		if err := (FitActivations{}).Run(f, c); err != nil {
			t.Fatal(err)
		}
		a := c.Activations[0]
		if a.Degree != want || a.MaxError > prec*a.Hi {
			t.Errorf("precision %g: degree %d error %.3g (range %g), want degree %d", prec, a.Degree, a.MaxError, a.Hi, want)
		}
	}
}
