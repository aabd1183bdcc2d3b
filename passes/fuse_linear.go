package passes

import (
	"github.com/fhec/fhec/ir"
)

// FuseLinear folds affine steps into the dense layer before them, because in
// CKKS each dense layer costs a level and its rotations, while merging is free:
//
//	mul(linear(x), c)     -> linear(x) with W' = diag(c) W, b' = c*b
//	add/sub(linear(x), c) -> linear(x) with b' = b +- c
//	linear2(linear1(x))   -> one linear, W = W2 W1, b = W2 b1 + b2
//
// looking through reshape/flatten (they keep the row-major order a linear op
// reads). The inner layer must have no other user; dense-dense fusion happens
// only when the merged weight is not larger than the two it replaces.
//
// Requires: tensor-level IR after LiftLinear.
// Guarantees: interpreter-equal up to float64 rounding; never more levels.
type FuseLinear struct{}

func (FuseLinear) Name() string { return "fuse-linear" }

func (FuseLinear) Run(f *ir.Func, c *Context) error {
	for changed := true; changed; {
		changed = false
		users := f.Users()
		for _, op := range f.Ops {
			var inner *ir.Op
			var w []float64
			var b []float64
			var m, n int
			if op.Code == "mul" && scalePoly(f, users, op) {
				changed = true
				break
			}
			switch op.Code {
			case "mul", "add", "sub":
				x, k := op.Args[0], op.Args[1]
				kc := constOf(f, k)
				if kc == nil && op.Code != "sub" {
					x, k = k, x
					kc = constOf(f, k)
				}
				if kc == nil || x != op.Args[0] && op.Code == "sub" {
					continue
				}
				inner = linearBehind(f, users, x)
				if inner == nil || !sameShape(op.Result().Type.Shape, x.Type.Shape) {
					continue
				}
				iw, ib := constOf(f, inner.Args[1]), constOf(f, inner.Args[2])
				m, n = iw.Shape[0], iw.Shape[1]
				cv, err := broadcastTo(kc, x.Type.Shape)
				if err != nil || len(cv) != m {
					continue
				}
				w = append([]float64(nil), iw.Data...)
				b = append([]float64(nil), ib.Data...)
				for i := 0; i < m; i++ {
					switch op.Code {
					case "mul":
						for j := 0; j < n; j++ {
							w[i*n+j] *= cv[i]
						}
						b[i] *= cv[i]
					case "add":
						b[i] += cv[i]
					case "sub":
						b[i] -= cv[i]
					}
				}
			case "linear":
				if mop, kc := scaleBehind(f, users, op.Args[0]); mop != nil {
					// linear(mul(y, c)): scale the weight's columns
					ow, ob := constOf(f, op.Args[1]), constOf(f, op.Args[2])
					m, n = ow.Shape[0], ow.Shape[1]
					w = append([]float64(nil), ow.Data...)
					b = append([]float64(nil), ob.Data...)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							w[i*n+j] *= kc[j]
						}
					}
					inner = &ir.Op{Args: []*ir.Value{mop.Args[0]}}
					break
				}
				inner = linearBehind(f, users, op.Args[0])
				if inner == nil {
					continue
				}
				w1, b1 := constOf(f, inner.Args[1]), constOf(f, inner.Args[2])
				w2, b2 := constOf(f, op.Args[1]), constOf(f, op.Args[2])
				m1, n1 := w1.Shape[0], w1.Shape[1]
				m2 := w2.Shape[0]
				if m2*n1 > m1*n1+m2*m1 {
					continue
				}
				m, n = m2, n1
				w = make([]float64, m*n)
				b = append([]float64(nil), b2.Data...)
				for i := 0; i < m2; i++ {
					for k := 0; k < m1; k++ {
						a := w2.Data[i*m1+k]
						if a == 0 {
							continue
						}
						for j := 0; j < n1; j++ {
							w[i*n+j] += a * w1.Data[k*n1+j]
						}
						b[i] += a * b1.Data[k]
					}
				}
			default:
				continue
			}
			hint := op.Result().Name
			wv, wop, err := newConst(f, hint+".w", []int{m, n}, w)
			if err != nil {
				return err
			}
			bv, bop, err := newConst(f, hint+".b", []int{m}, b)
			if err != nil {
				return err
			}
			lin, err := f.NewOp("linear", hint, nil, inner.Args[0], wv, bv)
			if err != nil {
				return err
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
			f.RemoveDead()
			changed = true
			break
		}
	}
	return nil
}

// scalePoly folds mul(poly(t), c), c a constant with one value for every
// element, into the polynomial's coefficients (c * sum c_k T_k = sum
// (c*c_k) T_k): the multiplication then costs no level.
func scalePoly(f *ir.Func, users map[*ir.Value][]*ir.Op, op *ir.Op) bool {
	p, k := op.Args[0], constOf(f, op.Args[1])
	if k == nil || p.Def == nil || p.Def.Code != "poly" || !singleUse(f, users, p) || !sameShape(p.Type.Shape, op.Result().Type.Shape) {
		return false
	}
	for _, v := range k.Data {
		if v != k.Data[0] {
			return false
		}
	}
	coeffs := append([]float64(nil), p.Def.Floats("coeffs")...)
	for i := range coeffs {
		coeffs[i] *= k.Data[0]
	}
	p.Def.Attrs["coeffs"] = coeffs
	if e, ok := p.Def.Attrs["max_err"].(float64); ok {
		p.Def.Attrs["max_err"] = e * abs(k.Data[0])
	}
	f.ReplaceUses(op.Result(), p)
	f.RemoveDead()
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// scaleBehind finds mul(y, c) behind v (through reshape/flatten, single
// uses), with c a constant that broadcasts to y's shape; it returns the mul
// op (whose Args[0] is y) and c flattened, or nil.
func scaleBehind(f *ir.Func, users map[*ir.Value][]*ir.Op, v *ir.Value) (*ir.Op, []float64) {
	for {
		if !singleUse(f, users, v) || v.Def == nil {
			return nil, nil
		}
		switch v.Def.Code {
		case "mul":
			y, k := v.Def.Args[0], constOf(f, v.Def.Args[1])
			if k == nil || !y.Type.Secret || !sameShape(y.Type.Shape, v.Type.Shape) {
				return nil, nil
			}
			kc, err := broadcastTo(k, y.Type.Shape)
			if err != nil {
				return nil, nil
			}
			// keep the argument order canonical: the secret operand first
			return v.Def, kc
		case "reshape", "flatten":
			v = v.Def.Args[0]
		default:
			return nil, nil
		}
	}
}

// linearBehind returns the linear op that defines v, possibly through a chain
// of reshape/flatten ops, when every value on the way has v's path as its only use.
func linearBehind(f *ir.Func, users map[*ir.Value][]*ir.Op, v *ir.Value) *ir.Op {
	for {
		if !singleUse(f, users, v) || v.Def == nil {
			return nil
		}
		switch v.Def.Code {
		case "linear":
			if constOf(f, v.Def.Args[1]) == nil || constOf(f, v.Def.Args[2]) == nil {
				return nil
			}
			return v.Def
		case "reshape", "flatten":
			v = v.Def.Args[0]
		default:
			return nil
		}
	}
}
