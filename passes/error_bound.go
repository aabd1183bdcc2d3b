package passes

import (
	"fmt"
	"math"

	"github.com/fhec/fhec/ir"
)

// PredictErrors bounds, for every value of a tensor-level function whose
// activations are fitted (after FitActivations), how far it can be from the
// same value in the exact program, because of the polynomial fits alone
// (CKKS noise is budgeted separately). Bounds are in the max norm and are
// propagated op by op:
//
//	linear W x + b        e = max_i sum_j |W_ij| * e_x
//	x * c, x + c          e = max|c| * e_x, e_x
//	x +- y                e = e_x + e_y
//	x * y (both secret)   e = |x| e_y + |y| e_x + e_x e_y   (|.| from mag)
//	poly p on [lo, hi]    e = max|p'| * e_x + max_err     (p' on [lo, hi])
//	reshape, flatten      e = e_x
//
// mag gives the largest magnitude of each value (from calibration); it is
// needed only for products of two secret values.
func PredictErrors(f *ir.Func, mag map[*ir.Value]float64) (map[*ir.Value]float64, error) {
	e := map[*ir.Value]float64{}
	for _, op := range f.Ops {
		r := op.Result()
		if !r.Type.Secret {
			continue
		}
		arg := func(i int) float64 { return e[op.Args[i]] }
		switch op.Code {
		case "reshape", "flatten", "transpose", "relu":
			e[r] = arg(0) // exact and 1-Lipschitz (relu: not fitted yet)
		case "linear":
			w := constOf(f, op.Args[1])
			m, n := w.Shape[0], w.Shape[1]
			norm := 0.0
			for i := 0; i < m; i++ {
				s := 0.0
				for j := 0; j < n; j++ {
					s += math.Abs(w.Data[i*n+j])
				}
				norm = math.Max(norm, s)
			}
			e[r] = norm * arg(0)
		case "add", "sub", "mul":
			a, b := op.Args[0], op.Args[1]
			switch {
			case a.Type.Secret && b.Type.Secret && op.Code == "mul":
				ma, okA := mag[a]
				mb, okB := mag[b]
				if (!okA || !okB) && (arg(0) > 0 || arg(1) > 0) {
					return nil, fmt.Errorf("%%%s: a product of two approximated values needs their magnitudes (calibration data)", r.Name)
				}
				e[r] = ma*arg(1) + mb*arg(0) + arg(0)*arg(1)
			case a.Type.Secret && b.Type.Secret:
				e[r] = arg(0) + arg(1)
			default:
				x, k := a, b
				if !a.Type.Secret {
					x, k = b, a
				}
				ex := e[x]
				if op.Code == "mul" {
					kc := constOf(f, k)
					if kc == nil {
						return nil, fmt.Errorf("%%%s: operand %%%s is neither secret nor constant", r.Name, k.Name)
					}
					mx := 0.0
					for _, v := range kc.Data {
						mx = math.Max(mx, math.Abs(v))
					}
					ex *= mx
				}
				e[r] = ex
			}
		case "poly":
			coeffs := op.Floats("coeffs")
			lo, hi := op.Float("lo", -1), op.Float("hi", 1)
			e[r] = polyLipschitz(coeffs, lo, hi)*arg(0) + op.Float("max_err", 0)
		default:
			return nil, fmt.Errorf("%s %%%s: not supported on encrypted data in this version (no polynomial form or lowering)", op.Code, r.Name)
		}
	}
	return e, nil
}

// polyLipschitz is max |p'(x)| over [lo, hi] for a Chebyshev series on
// [lo, hi], measured on a dense grid (with a 2% allowance for the grid).
func polyLipschitz(coeffs []float64, lo, hi float64) float64 {
	const n = 2048
	worst := 0.0
	prev := ir.ChebyshevEval(coeffs, -1)
	for i := 1; i <= n; i++ {
		t := -1 + 2*float64(i)/n
		v := ir.ChebyshevEval(coeffs, t)
		worst = math.Max(worst, math.Abs(v-prev)/((hi-lo)/n))
		prev = v
	}
	return worst * 1.02
}

// Magnitudes runs the calibration samples through f and returns the largest
// absolute value each secret value took (nil without calibration data).
func Magnitudes(f *ir.Func, c *Context) (map[*ir.Value]float64, error) {
	if len(c.Calibration) == 0 {
		return nil, nil
	}
	mag := map[*ir.Value]float64{}
	for _, s := range c.Calibration {
		vals, err := ir.InterpretAll(f, s)
		if err != nil {
			return nil, err
		}
		for v, a := range vals {
			if !v.Type.Secret {
				continue // constants: neither bounded nor needed
			}
			m := mag[v]
			for _, x := range a.Data {
				m = math.Max(m, math.Abs(x))
			}
			mag[v] = m
		}
	}
	return mag, nil
}

// PredictError records, for every result, the bound PredictErrors gives on
// its deviation from the exact model due to the fitted polynomials.
//
// Requires: tensor-level IR after FitActivations.
// Guarantees: the IR is unchanged but for the function attributes
// result<i>_fit_error; Context.PredictedErrors holds the same numbers.
type PredictError struct{}

func (PredictError) Name() string { return "predict-error" }

func (PredictError) Run(f *ir.Func, c *Context) error {
	mag, err := Magnitudes(f, c)
	if err != nil {
		return err
	}
	errs, err := PredictErrors(f, mag)
	if err != nil {
		return err
	}
	c.PredictedErrors = make([]float64, len(f.Results))
	for i, r := range f.Results {
		c.PredictedErrors[i] = errs[r]
		f.Attrs[fmt.Sprintf("result%d_fit_error", i)] = errs[r]
	}
	return nil
}
