package passes

import (
	"fmt"

	"github.com/fhec/fhec/ir"
)

// LiftLinear turns dense layers on the secret input (Gemm and MatMul with a
// constant weight) into `linear` ops: y[1,m] = W[m,n] x[n] + b[m].
//
// Requires: tensor-level IR after FoldConstants (weights are const ops).
// Guarantees: the same function (interpreter-equal up to float64 rounding),
// with every gemm/matmul of a secret vector by a constant as a linear op;
// a reshape follows where the original output shape was not [1, m].
type LiftLinear struct{}

func (LiftLinear) Name() string { return "lift-linear" }

func (LiftLinear) Run(f *ir.Func, c *Context) error {
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		var w []float64 // [m][n] row-major
		var m, n int
		var bias []float64
		switch op.Code {
		case "gemm":
			x, bv := op.Args[0], op.Args[1]
			bc := constOf(f, bv)
			if !isSecret(x) || bc == nil {
				continue
			}
			if x.Type.Shape[0] != 1 && op.Int("transA", 0) == 0 || x.Type.Shape[1] != 1 && op.Int("transA", 0) != 0 {
				return fmt.Errorf("gemm %%%s: only one sample per evaluation is supported (A is %v); batches are packed in slots", op.Result().Name, x.Type.Shape)
			}
			alpha, beta := op.Float("alpha", 1), op.Float("beta", 1)
			k0, k1 := bc.Shape[0], bc.Shape[1]
			if op.Int("transB", 0) != 0 { // B is [m, n]
				m, n = k0, k1
				w = make([]float64, m*n)
				for j := range w {
					w[j] = alpha * bc.Data[j]
				}
			} else { // B is [n, m]
				n, m = k0, k1
				w = transpose(bc.Data, n, m, alpha)
			}
			bias = make([]float64, m)
			if len(op.Args) == 3 {
				cc := constOf(f, op.Args[2])
				if cc == nil {
					continue // a secret bias: leave the gemm alone (lowering will refuse it)
				}
				full, err := broadcastTo(cc, []int{1, m})
				if err != nil {
					return fmt.Errorf("gemm %%%s bias: %w", op.Result().Name, err)
				}
				for j := range bias {
					bias[j] = beta * full[j]
				}
			}
		case "matmul":
			x, bv := op.Args[0], op.Args[1]
			bc := constOf(f, bv)
			if !isSecret(x) || bc == nil || len(bc.Shape) != 2 {
				continue
			}
			if x.Type.NumElements() != bc.Shape[0] {
				return fmt.Errorf("matmul %%%s: only one sample per evaluation is supported (A is %v)", op.Result().Name, x.Type.Shape)
			}
			n, m = bc.Shape[0], bc.Shape[1]
			w = transpose(bc.Data, n, m, 1)
			bias = make([]float64, m)
		default:
			continue
		}
		hint := op.Result().Name
		wv, wop, err := newConst(f, hint+".w", []int{m, n}, w)
		if err != nil {
			return err
		}
		bv, bop, err := newConst(f, hint+".b", []int{m}, bias)
		if err != nil {
			return err
		}
		lin, err := f.NewOp("linear", hint, nil, op.Args[0], wv, bv)
		if err != nil {
			return fmt.Errorf("%%%s: %w", hint, err)
		}
		newOps := []*ir.Op{wop, bop, lin}
		out := lin.Result()
		if want := op.Result().Type.Shape; !sameShape(want, out.Type.Shape) {
			rs, err := f.NewOp("reshape", hint, map[string]ir.Attr{"shape": toInt64s(want)}, out)
			if err != nil {
				return err
			}
			newOps = append(newOps, rs)
			out = rs.Result()
		}
		insertBefore(f, op, newOps...)
		f.ReplaceUses(op.Result(), out)
		i += len(newOps)
	}
	f.RemoveDead()
	return nil
}

// transpose returns alpha * A^T for A [r][c] row-major.
func transpose(a []float64, r, c int, alpha float64) []float64 {
	out := make([]float64, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = alpha * a[i*c+j]
		}
	}
	return out
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func toInt64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
