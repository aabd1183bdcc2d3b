package passes

import (
	"fmt"
	"math"

	"github.com/fhec/fhec/ir"
)

// Calibrate runs the reference interpreter on the calibration samples and
// records, on every activation op that will need a polynomial (relu), the
// range each element of its input took: attributes calib_lo and calib_hi
// (one entry per element) and calib_samples.
//
// Requires: tensor-level IR; Context.Calibration samples shaped like the
// function parameters.
// Guarantees: values unchanged; without calibration data nothing is recorded
// (FitActivations then falls back to the documented default range, and warns).
type Calibrate struct{}

func (Calibrate) Name() string { return "calibrate" }

// activationOps are the ops replaced by fitted polynomials: relu (fitted
// using its positive homogeneity) and the smooth ones (fitted on an interval).
var activationOps = map[string]bool{"relu": true}

// smoothOps are fitted by Chebyshev interpolation on their calibrated interval.
var smoothOps = map[string]bool{
	"sigmoid": true, "tanh": true, "erf": true, "softplus": true, "exp": true, "gelu": true,
	"elu": true, "selu": true, "mish": true, "hardswish": true,
}

func init() {
	for k := range smoothOps {
		activationOps[k] = true
	}
}

func (Calibrate) Run(f *ir.Func, c *Context) error {
	if len(c.Calibration) == 0 {
		return nil
	}
	type rng struct{ lo, hi []float64 }
	ranges := map[*ir.Op]*rng{}
	for s, sample := range c.Calibration {
		if len(sample) != len(f.Params) {
			return fmt.Errorf("calibration sample %d has %d inputs, the model takes %d", s, len(sample), len(f.Params))
		}
		for i, p := range f.Params {
			if !sameShape(sample[i].Shape, p.Type.Shape) && len(sample[i].Data) != p.Type.NumElements() {
				return fmt.Errorf("calibration sample %d: input %q has shape %v, the model takes %v", s, p.Name, sample[i].Shape, p.Type.Shape)
			}
			sample[i].Shape = p.Type.Shape
		}
		vals, err := ir.InterpretAll(f, sample)
		if err != nil {
			return fmt.Errorf("calibration sample %d: %w", s, err)
		}
		for _, op := range f.Ops {
			if !activationOps[op.Code] || !op.Args[0].Type.Secret {
				continue
			}
			in := vals[op.Args[0]].Data
			r := ranges[op]
			if r == nil {
				r = &rng{make([]float64, len(in)), make([]float64, len(in))}
				for i := range in {
					r.lo[i], r.hi[i] = math.Inf(1), math.Inf(-1)
				}
				ranges[op] = r
			}
			for i, x := range in {
				r.lo[i] = math.Min(r.lo[i], x)
				r.hi[i] = math.Max(r.hi[i], x)
			}
		}
	}
	for op, r := range ranges {
		op.Attrs["calib_lo"] = r.lo
		op.Attrs["calib_hi"] = r.hi
		op.Attrs["calib_samples"] = int64(len(c.Calibration))
	}
	return nil
}
