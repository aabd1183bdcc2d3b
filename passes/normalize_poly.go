package passes

import (
	"github.com/fhec/fhec/ir"
)

// NormalizePoly makes every polynomial take its input on [-1, 1]: a poly on
// [lo, hi] becomes mul by 2/(hi-lo), add of -(hi+lo)/(hi-lo), then the same
// Chebyshev series on [-1, 1]. FuseLinear then folds the affine map into the
// preceding dense layer, so the change of basis usually costs nothing.
//
// Requires: tensor-level IR.
// Guarantees: every poly op has lo = -1 and hi = 1; values unchanged up to rounding.
type NormalizePoly struct{}

func (NormalizePoly) Name() string { return "normalize-poly" }

func (NormalizePoly) Run(f *ir.Func, c *Context) error {
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		if op.Code != "poly" {
			continue
		}
		lo, hi := op.Float("lo", -1), op.Float("hi", 1)
		if lo == -1 && hi == 1 {
			continue
		}
		x := op.Args[0]
		hint := op.Result().Name + ".in"
		sv, sop, err := newConst(f, hint+".scale", nil, []float64{2 / (hi - lo)})
		if err != nil {
			return err
		}
		tv, top, err := newConst(f, hint+".shift", nil, []float64{-(hi + lo) / (hi - lo)})
		if err != nil {
			return err
		}
		mul, err := f.NewOp("mul", hint, nil, x, sv)
		if err != nil {
			return err
		}
		add, err := f.NewOp("add", hint, nil, mul.Result(), tv)
		if err != nil {
			return err
		}
		insertBefore(f, op, sop, top, mul, add)
		i += 4
		op.Args[0] = add.Result()
		op.Attrs["lo"], op.Attrs["hi"] = -1.0, 1.0
		op.Attrs["orig_lo"], op.Attrs["orig_hi"] = lo, hi
	}
	return nil
}
