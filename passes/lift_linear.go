package passes

import (
	"fmt"

	"github.com/fhec/fhec/ir"
)

// LiftLinear turns every op that is affine in its one secret operand into a
// `linear` op, y[1,m] = W[m,n] x[n] + b[m], followed by a reshape to the
// op's shape: Gemm and MatMul with a constant weight directly; convolutions,
// average pooling, padding, transposition, batch normalization and concat or
// sum with constants by probing the reference interpreter (b = f(0), column
// j of W = f(e_j) - f(0)), so their semantics are defined in one place and
// their lowering is the dense one (generalized diagonals skip the zeros).
//
// Requires: tensor-level IR after FoldConstants (weights are const ops).
// Guarantees: the same function (interpreter-equal up to float64 rounding),
// with every such op as a linear op (plus a reshape where the original output
// shape was not [1, m]).
type LiftLinear struct{}

// probedOps are affine in their single secret operand when the others are constant.
var probedOps = map[string]bool{
	"gemm": true, "matmul": true, "conv": true, "averagepool": true, "globalaveragepool": true, "pad": true, "transpose": true,
	"batchnorm": true, "concat": true, "sum": true, "mean": true,
}

// maxProbeElements bounds the dense matrices made by probing (m*n).
const maxProbeElements = 1 << 26

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
				// several rows: still affine in A, as one dense map on all of A
				var err error
				if w, bias, m, n, err = probe(f, op); err != nil || w == nil {
					if err != nil {
						return err
					}
					continue
				}
				break
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
				var err error
				if w, bias, m, n, err = probe(f, op); err != nil {
					return err
				}
				if w == nil {
					continue
				}
				break
			}
			if x.Type.NumElements() != bc.Shape[0] {
				var err error
				if w, bias, m, n, err = probe(f, op); err != nil || w == nil {
					if err != nil {
						return err
					}
					continue
				}
				break
			}
			n, m = bc.Shape[0], bc.Shape[1]
			w = transpose(bc.Data, n, m, 1)
			bias = make([]float64, m)
		default:
			if !probedOps[op.Code] || len(op.Results) != 1 {
				continue
			}
			var err error
			w, bias, m, n, err = probe(f, op)
			if err != nil {
				return err
			}
			if w == nil {
				continue
			}
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

// probe extracts W and b of an op affine in its only secret operand by
// running it in the reference interpreter on 0 and on each basis vector.
// It returns nil W when the op does not qualify (not exactly one secret
// operand, or some other operand not constant).
func probe(f *ir.Func, op *ir.Op) (w, b []float64, m, n int, err error) {
	secret := -1
	for i, a := range op.Args {
		switch {
		case a.Type.Secret && secret < 0:
			secret = i
		case a.Type.Secret:
			return nil, nil, 0, 0, nil
		case constOf(f, a) == nil:
			return nil, nil, 0, 0, nil
		}
	}
	if secret < 0 {
		return nil, nil, 0, 0, nil
	}
	x := op.Args[secret]
	n, m = x.Type.NumElements(), op.Result().Type.NumElements()
	if m*n > maxProbeElements {
		return nil, nil, 0, 0, fmt.Errorf("%s %%%s: a %dx%d dense matrix is too large for this version's lowering", op.Code, op.Result().Name, m, n)
	}
	g := ir.NewFunc("probe")
	g.Consts, g.Attrs = f.Consts, f.Attrs
	p := g.AddParam("x", ir.Tensor(x.Type.Shape, true))
	args := make([]*ir.Value, len(op.Args))
	for i, a := range op.Args {
		if i == secret {
			args[i] = p
			continue
		}
		if args[i], err = g.Append("const", a.Name, a.Def.Attrs); err != nil {
			return nil, nil, 0, 0, err
		}
	}
	r, err := g.Append(op.Code, "y", op.Attrs, args...)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	g.Results = []*ir.Value{r}
	in := ir.Array{Shape: x.Type.Shape, Data: make([]float64, n)}
	run := func() ([]float64, error) {
		out, err := ir.Interpret(g, []ir.Array{in})
		if err != nil {
			return nil, fmt.Errorf("probing %s %%%s: %w", op.Code, op.Result().Name, err)
		}
		return out[0].Data, nil
	}
	if b, err = run(); err != nil {
		return nil, nil, 0, 0, err
	}
	w = make([]float64, m*n)
	for j := 0; j < n; j++ {
		in.Data[j] = 1
		col, err := run()
		if err != nil {
			return nil, nil, 0, 0, err
		}
		in.Data[j] = 0
		for i := 0; i < m; i++ {
			w[i*n+j] = col[i] - b[i]
		}
	}
	return w, b, m, n, nil
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
