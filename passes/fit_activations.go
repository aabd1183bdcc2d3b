package passes

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/fhec/fhec/ir"
)

// Defaults for activation fitting.
const (
	// DefaultReluDegree is the Chebyshev degree used for ReLU.
	DefaultReluDegree = 15
	// DefaultActivationRange: without calibration data, activation inputs are
	// assumed to lie in [-DefaultActivationRange, DefaultActivationRange].
	DefaultActivationRange = 8.0
	// DefaultRangeMargin widens a calibrated range of a smooth activation
	// by this fraction of its width on each side.
	DefaultRangeMargin = 0.25
	// DefaultReluMargin widens each calibrated ReLU magnitude R to
	// (1 + DefaultReluMargin) R. Unseen inputs go beyond the magnitudes
	// calibrated on a few samples, and a Chebyshev series evaluated beyond
	// [-1, 1] diverges (|T_d(1.2)| is 10^8 for d = 31): one such element
	// ruins its sample. The floor (LOOTolerance) keeps the leave-one-out
	// overshoot of the calibration samples within 1.25; unseen inputs went
	// up to 1.6x beyond that (mnist-onnx-go: leave-one-out 1.12, 1,000
	// unseen images 1.77), and with a margin of 1.5 (2.5x) the largest |t|
	// seen was 0.8 (mnist2x10, 10,000 images).
	DefaultReluMargin = 1.5
	// DefaultReluPrecision is the default fit target for ReLU: max |relu -
	// p| <= precision * R on [-R, R] (R the element's range).
	DefaultReluPrecision = 1.0 / 128
)

// reluDegrees are tried in order when the ReLU degree comes from a
// precision target; the first whose measured error meets it wins (the last
// otherwise, with a warning).
var reluDegrees = []int{15, 31, 63, 127}

// ActivationFit describes one fitted activation.
type ActivationFit struct {
	Value      string  // the SSA value the activation defines
	Function   string  // "relu", ...
	Lo, Hi     float64 // the interval the polynomial is fitted on
	Degree     int
	MaxError   float64 // max |f(x) - p(x)| over [Lo, Hi], measured on a dense grid
	Calibrated bool
}

// FitActivations replaces every ReLU by a polynomial. ReLU is positively
// homogeneous (relu(R*t) = R*relu(t)), so each element j is first scaled by
// 1/R_j into [-1, 1], where R_j is its calibrated magnitude (widened by the
// margin, floored at a fraction of the layer's largest chosen by a
// leave-one-out test on the calibration samples: see LOOTolerance), then one
// polynomial approximation of relu on [-1, 1] (FitReLU) is applied, then the
// result is scaled back by R_j. FuseLinear folds both scalings into the
// neighbouring dense layers,
// so per-element ranges cost nothing, and each element's error is
// R_j * (fit error on [-1, 1]) rather than the layer's worst range. Without
// calibration data every R_j is the default range (and a warning says so).
// The fitted error is measured on a dense grid and stored (max_err, relative
// to R_j = 1).
//
// Requires: tensor-level IR, after Calibrate.
// Guarantees: no relu op remains; each became mul(poly(mul(x, 1/R)), R) with
// the poly on [-1, 1] and |poly - relu| <= max_err there. An element range
// entirely non-negative everywhere makes the ReLU the identity (no level).
type FitActivations struct{}

// DefaultRangeFloor: no element's range is taken smaller than this fraction
// of the largest range in its layer, when the calibration data cannot tell
// (fewer than two samples, or no smaller floor passes the leave-one-out test
// of chooseFloor). 1 makes ranges layer-wide.
const DefaultRangeFloor = 1.0

// LOOTolerance is the largest leave-one-out overshoot (looOvershoot) for
// which per-element ranges are trusted: the floor is the smallest of
// rangeFloors whose calibration samples, each measured against ranges
// estimated without it, stay within LOOTolerance of them. Per-element ranges
// make each element's error R_j * (fit error) instead of the layer's worst,
// but a per-element magnitude rests on one value per calibration sample,
// and unseen inputs overshoot it far more than they overshoot the layer's.
// Measured (floor: leave-one-out overshoot; then the largest overshoot of
// unseen inputs):
//
//   - mnist-onnx-go, 16 MNIST images (convolutions see a digit's strokes at
//     positions no calibration image inked): floor 0.3: 2.5 to 3.2 per
//     layer, and 1,000 unseen images reached 3.95x their element's range
//     (7 of 200 left [-1, 1] with margin 2: simulated accuracy 96.0% vs
//     99.5%); floor 1: 1.01 to 1.12, unseen 1.77x (no image out of range,
//     fitted and exact model agree on 1,000 of 1,000);
//   - mnist2x10, 16 images: floor 0.3: 2.8 and 3.5, floor 1: 2.05 and 1.42,
//     unseen 1.98x (10,000 images); layer-wide ranges with margin 1 agreed
//     with the exact model on 99.13% of them, floor 0.3 and margin 2 on
//     98.40% (one image out of range);
//   - the deep 12x16 digits MLP, 256 training samples: floor 0.1: 1.11 to
//     1.24 per layer; per-element ranges agree with the exact model on
//     348 of 359 test samples, layer-wide ones on 323 to 341.
const LOOTolerance = 1.25

// chooseFloor picks the range floor for a ReLU from the inputs it saw on
// the calibration samples (data: sample-major, m elements each).
func chooseFloor(data []float64, m int) float64 {
	if m == 0 || len(data) < 2*m {
		return DefaultRangeFloor
	}
	for _, fl := range rangeFloors {
		if looOvershoot(data, m, fl) <= LOOTolerance {
			return fl
		}
	}
	return DefaultRangeFloor
}

func (FitActivations) Name() string { return "fit-activations" }

func (FitActivations) Run(f *ir.Func, c *Context) error {
	deg := c.ActivationDegree
	if deg < 0 || deg > 255 {
		return fmt.Errorf("activation degree %d out of range [1, 255]", deg)
	}
	precision := c.Precision
	if precision == 0 {
		precision = DefaultReluPrecision
	}
	if precision < 0 || precision >= 1 {
		return fmt.Errorf("precision %g out of range (0, 1)", precision)
	}
	margin := c.RangeMargin
	if margin == 0 {
		margin = DefaultRangeMargin
	}
	reluMargin := c.RangeMargin
	if reluMargin == 0 {
		reluMargin = DefaultReluMargin
	}
	def := c.DefaultRange
	if def == 0 {
		def = DefaultActivationRange
	}
	relu := func(x float64) float64 { return math.Max(x, 0) }
	// The inputs each ReLU saw on the calibration samples (the fit weighs
	// them most): one interpretation per sample, of the exact program.
	seenBy := map[*ir.Value][]float64{}
	if len(c.Calibration) > 0 {
		for s, sample := range c.Calibration {
			vals, err := ir.InterpretAll(f, sample)
			if err != nil {
				return fmt.Errorf("calibration sample %d: %w", s, err)
			}
			for _, op := range f.Ops {
				if op.Code == "relu" && op.Args[0].Type.Secret {
					seenBy[op.Args[0]] = append(seenBy[op.Args[0]], vals[op.Args[0]].Data...)
				}
			}
		}
	}
	warned := false
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		if smoothOps[op.Code] && op.Args[0].Type.Secret {
			if err := fitSmooth(f, op, c, margin, def); err != nil {
				return err
			}
			continue
		}
		if op.Code != "relu" || !op.Args[0].Type.Secret {
			continue
		}
		x := op.Args[0]
		n := x.Type.NumElements()
		lo, hi := op.Floats("calib_lo"), op.Floats("calib_hi")
		calibrated := len(lo) == n && len(hi) == n
		R := make([]float64, n)
		maxR := 0.0
		allNonNeg := calibrated
		for j := range R {
			if calibrated {
				R[j] = math.Max(math.Abs(lo[j]), math.Abs(hi[j])) * (1 + reluMargin)
				allNonNeg = allNonNeg && lo[j] >= 0
			} else {
				R[j] = def
			}
			maxR = math.Max(maxR, R[j])
		}
		if !calibrated && !warned {
			c.Warn("no calibration data: ReLU inputs are assumed to lie in [%g, %g]; inputs outside it give wrong results (pass --calibration)", -def, def)
			warned = true
		}
		name := op.Result().Name
		if allNonNeg {
			f.ReplaceUses(op.Result(), x) // relu is the identity on this range
			c.Activations = append(c.Activations, ActivationFit{Value: name, Function: "relu", Lo: 0, Hi: maxR, Calibrated: calibrated})
			continue
		}
		floorFrac := c.RangeFloor
		if floorFrac == 0 {
			floorFrac = chooseFloor(seenBy[x], n)
		}
		floor := math.Max(floorFrac*maxR, 1e-6)
		// The input arrives with the error of the activations fitted before
		// it (in program order, so those are final): widen the range by that
		// bound so the approximated input stays inside the polynomial's
		// interval (outside it a polynomial diverges; a max-pool tournament
		// feeds each round's errors to the next).
		upstream := 0.0
		if errs, err := PredictErrors(f, nil); err == nil {
			upstream = errs[x]
		}
		inv := make([]float64, n)
		for j := range R {
			// (the bound is worst-case and compounds layer after layer, so
			// the widening is capped at half the range)
			R[j] = math.Max(R[j], floor)
			R[j] += math.Min(upstream, 0.5*R[j])
			inv[j] = 1 / R[j]
		}
		// The inputs this layer saw, normalized: the fit weighs them most.
		var seen []float64
		if calibrated {
			for k, v := range seenBy[x] {
				seen = append(seen, v*inv[k%n])
			}
		}
		degrees := reluDegrees
		if deg > 0 {
			degrees = []int{deg}
		}
		var coeffs []float64
		var relErr float64
		for _, d := range degrees {
			cf, err := FitReLU(d, seen)
			if err != nil {
				return fmt.Errorf("fitting relu %%%s: %w", op.Result().Name, err)
			}
			coeffs, relErr = cf, FitError(relu, cf, -1, 1)
			if relErr <= precision {
				break
			}
		}
		if deg == 0 && relErr > precision {
			c.Warn("relu %%%s: degree %d reaches a fit error of %.3g of the range, above the precision target %.3g", name, len(coeffs)-1, relErr, precision)
		}
		shape := x.Type.Shape
		iv, iop, err := newConst(f, name+".inv_range", shape, inv)
		if err != nil {
			return err
		}
		in, err := f.NewOp("mul", name+".in", nil, x, iv)
		if err != nil {
			return err
		}
		poly, err := f.NewOp("poly", name+".poly", map[string]ir.Attr{"coeffs": coeffs, "lo": -1.0, "hi": 1.0,
			"fn": "relu", "max_err": relErr}, in.Result())
		if err != nil {
			return err
		}
		rv, rop, err := newConst(f, name+".range", shape, R)
		if err != nil {
			return err
		}
		out, err := f.NewOp("mul", name, nil, poly.Result(), rv)
		if err != nil {
			return err
		}
		insertBefore(f, op, iop, in, poly, rop, out)
		i += 5
		f.ReplaceUses(op.Result(), out.Result())
		c.Activations = append(c.Activations, ActivationFit{Value: name, Function: "relu", Lo: -maxR, Hi: maxR, Degree: len(coeffs) - 1,
			MaxError: relErr * maxR, Calibrated: calibrated})
	}
	f.RemoveDead()
	return nil
}

// dataWeight is the share of the least-squares weight given to calibration
// points (the rest is spread uniformly over [-1, 1] so the fit stays bounded
// everywhere).
const dataWeight = 0.9

// FitReLU returns Chebyshev coefficients on [-1, 1] of a degree-d
// approximation of relu: a weighted least-squares fit on the calibration
// points seen (normalized to [-1, 1]) mixed with the Chebyshev nodes of
// [-1, 1], so it is most accurate where the data is and bounded everywhere.
// Without data it is the Chebyshev interpolant.
func FitReLU(d int, seen []float64) ([]float64, error) {
	relu := func(x float64) float64 { return math.Max(x, 0) }
	if len(seen) == 0 {
		return ChebyshevInterpolate(relu, -1, 1, d), nil
	}
	const maxPoints = 20000
	stride := 1
	if len(seen) > maxPoints {
		stride = (len(seen) + maxPoints - 1) / maxPoints
	}
	var pts, wts []float64
	nData := 0
	for i := 0; i < len(seen); i += stride {
		nData++
	}
	nGrid := 8 * (d + 1)
	for i := 0; i < len(seen); i += stride {
		pts = append(pts, math.Max(-1, math.Min(1, seen[i])))
		wts = append(wts, math.Sqrt(dataWeight/float64(nData)))
	}
	for j := 0; j < nGrid; j++ {
		pts = append(pts, math.Cos(math.Pi*(float64(j)+0.5)/float64(nGrid)))
		wts = append(wts, math.Sqrt((1-dataWeight)/float64(nGrid)))
	}
	a := mat.NewDense(len(pts), d+1, nil)
	b := mat.NewVecDense(len(pts), nil)
	for i, t := range pts {
		// T_0..T_d at t by the recurrence
		t0, t1 := 1.0, t
		for k := 0; k <= d; k++ {
			var tk float64
			switch k {
			case 0:
				tk = t0
			case 1:
				tk = t1
			default:
				tk = 2*t*t1 - t0
				t0, t1 = t1, tk
			}
			a.Set(i, k, wts[i]*tk)
		}
		b.SetVec(i, wts[i]*relu(t))
	}
	var x mat.VecDense
	if err := x.SolveVec(a, b); err != nil {
		return nil, err
	}
	return x.RawVector().Data, nil
}

// DefaultSmoothTolerance is the fit error target for smooth activations,
// relative to the largest |f| on the interval (at least 1).
const DefaultSmoothTolerance = 1e-3

// smoothDegrees are tried in order; the first that meets the tolerance wins.
var smoothDegrees = []int{3, 5, 7, 11, 15, 23, 31, 47, 63}

// fitSmooth replaces a smooth activation by its Chebyshev interpolant on the
// layer's calibrated interval (widened by the margin), of the lowest degree
// meeting the tolerance, or of the requested degree.
func fitSmooth(f *ir.Func, op *ir.Op, c *Context, margin, def float64) error {
	fn, err := ir.ElementwiseFunc(op)
	if err != nil {
		return err
	}
	lo, hi := -def, def
	los, his := op.Floats("calib_lo"), op.Floats("calib_hi")
	calibrated := len(los) > 0 && len(los) == len(his)
	if calibrated {
		lo, hi = math.Inf(1), math.Inf(-1)
		for j := range los {
			lo, hi = math.Min(lo, los[j]), math.Max(hi, his[j])
		}
		w := math.Max(hi-lo, 1e-3)
		lo, hi = lo-margin*w, hi+margin*w
	} else {
		c.Warn("no calibration data: %s inputs are assumed to lie in [%g, %g]", op.Code, lo, hi)
	}
	scale := 1.0
	for i := 0; i <= 256; i++ {
		scale = math.Max(scale, math.Abs(fn(lo+(hi-lo)*float64(i)/256)))
	}
	tol := DefaultSmoothTolerance * scale
	if c.SmoothTolerance > 0 {
		tol = c.SmoothTolerance * scale
	}
	if c.Precision > 0 {
		tol = c.Precision * scale
	}
	var coeffs []float64
	var maxErr float64
	degrees := smoothDegrees
	if c.ActivationDegree > 0 {
		degrees = []int{c.ActivationDegree}
	}
	for _, d := range degrees {
		coeffs = ChebyshevInterpolate(fn, lo, hi, d)
		if maxErr = FitError(fn, coeffs, lo, hi); maxErr <= tol {
			break
		}
	}
	name := op.Result().Name
	fnName := op.Code
	op.Code = "poly"
	op.Attrs = map[string]ir.Attr{"coeffs": coeffs, "lo": lo, "hi": hi, "fn": fnName, "max_err": maxErr}
	c.Activations = append(c.Activations, ActivationFit{Value: name, Function: fnName, Lo: lo, Hi: hi,
		Degree: len(coeffs) - 1, MaxError: maxErr, Calibrated: calibrated})
	return nil
}

// ChebyshevInterpolate returns the coefficients c_0..c_d of the degree-d
// polynomial sum c_k T_k(t), t = (2x-lo-hi)/(hi-lo), that interpolates fn at
// the d+1 Chebyshev nodes of [lo, hi] (near-minimax for smooth functions).
func ChebyshevInterpolate(fn func(float64) float64, lo, hi float64, d int) []float64 {
	n := d + 1
	fx := make([]float64, n)
	for j := 0; j < n; j++ {
		t := math.Cos(math.Pi * (float64(j) + 0.5) / float64(n))
		fx[j] = fn((hi-lo)/2*t + (hi+lo)/2)
	}
	c := make([]float64, n)
	for k := 0; k < n; k++ {
		s := 0.0
		for j := 0; j < n; j++ {
			s += fx[j] * math.Cos(math.Pi*float64(k)*(float64(j)+0.5)/float64(n))
		}
		c[k] = 2 * s / float64(n)
	}
	c[0] /= 2
	return c
}

// FitError is max |fn(x) - p(x)| over a dense grid of [lo, hi].
func FitError(fn func(float64) float64, coeffs []float64, lo, hi float64) float64 {
	const points = 4096
	worst := 0.0
	for i := 0; i <= points; i++ {
		x := lo + (hi-lo)*float64(i)/points
		t := (2*x - lo - hi) / (hi - lo)
		worst = math.Max(worst, math.Abs(fn(x)-ir.ChebyshevEval(coeffs, t)))
	}
	return worst
}

// rangeFloors are the floors (fractions of the layer's largest magnitude)
// tried, smallest first, when the floor is chosen from the data.
var rangeFloors = []float64{0.1, 0.2, 0.3, 0.5, 0.7, 1}

// looOvershoot measures, by leave-one-out on the calibration samples, how far
// an unseen sample goes beyond ranges estimated without it, for a floor:
// data holds samples of m elements each (sample-major); the range of element
// j without sample s is max(E_j, floor * L), E_j the largest |x_j| over the
// other samples and L the largest E_j. It returns max |x_sj| / range_j over
// all s and j (0 with fewer than two samples).
func looOvershoot(data []float64, m int, floor float64) float64 {
	n := len(data) / m
	if n < 2 || m == 0 {
		return 0
	}
	// per element: the largest and second largest |x| and the sample of the largest
	top1, top2 := make([]float64, m), make([]float64, m)
	arg := make([]int, m)
	for s := 0; s < n; s++ {
		for j := 0; j < m; j++ {
			a := math.Abs(data[s*m+j])
			switch {
			case a > top1[j]:
				top2[j], top1[j], arg[j] = top1[j], a, s
			case a > top2[j]:
				top2[j] = a
			}
		}
	}
	worst := 0.0
	for s := 0; s < n; s++ {
		l := 0.0
		for j := 0; j < m; j++ {
			e := top1[j]
			if arg[j] == s {
				e = top2[j]
			}
			l = math.Max(l, e)
		}
		for j := 0; j < m; j++ {
			e := top1[j]
			if arg[j] == s {
				e = top2[j]
			}
			r := math.Max(e, floor*l)
			a := math.Abs(data[s*m+j])
			if r == 0 {
				if a > 0 {
					return math.Inf(1)
				}
				continue
			}
			worst = math.Max(worst, a/r)
		}
	}
	return worst
}
