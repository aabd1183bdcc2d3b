package passes

import (
	"fmt"
	"math"

	"github.com/fhec/fhec/ir"
)

// Canonicalize rewrites ops on secret tensors into the few forms the CKKS
// lowering knows (linear maps, products, relu, smooth activations):
//
//	leakyrelu(x; a), prelu(x, a) -> a*x + (1-a)*relu(x)
//	clip(x; lo, hi)              -> lo + relu(x-lo) - relu(x-hi)   (one-sided forms likewise)
//	hardsigmoid(x; a, b)         -> relu(a*x+b) - relu(a*x+b-1)
//	abs(x)                       -> 2*relu(x) - x
//	div(x, c)                    -> x * (1/c)
//	pow(x, k), k = 1..8 integer  -> products by repeated squaring
//	sum/mean of secret tensors   -> additions (and a scaling)
//
// The piecewise-linear forms keep ReLU's positive homogeneity, which the
// activation fitting exploits; constants fold into neighbouring dense layers.
//
// Requires: tensor-level IR after FoldConstants.
// Guarantees: interpreter-equal up to float64 rounding; none of the ops above
// remains with a secret operand.
type Canonicalize struct{}

func (Canonicalize) Name() string { return "canonicalize" }

func (Canonicalize) Run(f *ir.Func, c *Context) error {
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		if len(op.Results) != 1 || !op.Result().Type.Secret {
			continue
		}
		r := &rewriter{f: f, hint: op.Result().Name}
		x := op.Args[0]
		var out *ir.Value
		var err error
		switch op.Code {
		case "leakyrelu":
			a := op.Float("alpha", float64(float32(0.01)))
			out, err = r.leaky(x, []float64{a}, nil)
		case "prelu":
			k := constOf(f, op.Args[1])
			if k == nil || !x.Type.Secret {
				continue
			}
			var s []float64
			if s, err = broadcastTo(k, x.Type.Shape); err == nil {
				out, err = r.leaky(x, s, x.Type.Shape)
			}
		case "clip":
			lo, hi := op.Float("min", math.Inf(-1)), op.Float("max", math.Inf(1))
			out, err = r.clip(x, lo, hi)
		case "hardsigmoid":
			a, b := op.Float("alpha", float64(float32(0.2))), op.Float("beta", 0.5)
			var u *ir.Value
			if u, err = r.affine(x, a, b); err == nil {
				out, err = r.clip(u, 0, 1)
			}
		case "abs":
			var y, two, neg *ir.Value
			if y, err = r.op("relu", x); err == nil {
				if two, err = r.scale(y, 2); err == nil {
					if neg, err = r.scale(x, -1); err == nil {
						out, err = r.op("add", two, neg)
					}
				}
			}
		case "div":
			k := constOf(f, op.Args[1])
			if k == nil || !x.Type.Secret {
				continue
			}
			inv := make([]float64, len(k.Data))
			for j, v := range k.Data {
				inv[j] = 1 / v
			}
			var kv *ir.Value
			if kv, err = r.constant(k.Shape, inv); err == nil {
				out, err = r.op("mul", x, kv)
			}
		case "pow":
			k := constOf(f, op.Args[1])
			if k == nil || len(k.Data) != 1 || !x.Type.Secret {
				continue
			}
			e := k.Data[0]
			if e != math.Trunc(e) || e < 1 || e > 8 {
				return fmt.Errorf("pow %%%s: exponent %v; only integer exponents 1..8 are supported on encrypted data", op.Result().Name, e)
			}
			out, err = r.power(x, int(e))
		case "sum", "mean":
			secrets := 0
			for _, a := range op.Args {
				if a.Type.Secret {
					secrets++
				}
			}
			if secrets < 2 {
				continue // affine in one secret: LiftLinear probes it
			}
			out = op.Args[0]
			for _, a := range op.Args[1:] {
				if out, err = r.op("add", out, a); err != nil {
					break
				}
			}
			if err == nil && op.Code == "mean" {
				out, err = r.scale(out, 1/float64(len(op.Args)))
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %%%s: %w", op.Code, op.Result().Name, err)
		}
		if !sameShape(out.Type.Shape, op.Result().Type.Shape) {
			if out, err = r.op("reshape", out); err != nil {
				return err
			}
		}
		insertBefore(f, op, r.ops...)
		i += len(r.ops)
		f.ReplaceUses(op.Result(), out)
	}
	f.RemoveDead()
	return nil
}

// rewriter builds a replacement sequence of ops.
type rewriter struct {
	f    *ir.Func
	hint string
	ops  []*ir.Op
	// shape is set by op("reshape") callers through attrs; see op.
	target []int
}

func (r *rewriter) op(code string, args ...*ir.Value) (*ir.Value, error) {
	var attrs map[string]ir.Attr
	if code == "reshape" {
		attrs = map[string]ir.Attr{"shape": toInt64s(r.target)}
	}
	o, err := r.f.NewOp(code, r.hint, attrs, args...)
	if err != nil {
		return nil, err
	}
	r.ops = append(r.ops, o)
	return o.Result(), nil
}

func (r *rewriter) constant(shape []int, data []float64) (*ir.Value, error) {
	v, o, err := newConst(r.f, r.hint+".c", shape, data)
	if err != nil {
		return nil, err
	}
	r.ops = append(r.ops, o)
	return v, nil
}

func (r *rewriter) scale(x *ir.Value, a float64) (*ir.Value, error) {
	k, err := r.constant(nil, []float64{a})
	if err != nil {
		return nil, err
	}
	return r.op("mul", x, k)
}

func (r *rewriter) shift(x *ir.Value, b float64) (*ir.Value, error) {
	k, err := r.constant(nil, []float64{b})
	if err != nil {
		return nil, err
	}
	return r.op("add", x, k)
}

func (r *rewriter) affine(x *ir.Value, a, b float64) (*ir.Value, error) {
	y, err := r.scale(x, a)
	if err != nil {
		return nil, err
	}
	return r.shift(y, b)
}

// leaky is a*x + (1-a)*relu(x), a a scalar (shape nil) or per element.
func (r *rewriter) leaky(x *ir.Value, a []float64, shape []int) (*ir.Value, error) {
	r.target = x.Type.Shape
	b := make([]float64, len(a))
	for i, v := range a {
		b[i] = 1 - v
	}
	av, err := r.constant(shape, a)
	if err != nil {
		return nil, err
	}
	bv, err := r.constant(shape, b)
	if err != nil {
		return nil, err
	}
	lin, err := r.op("mul", x, av)
	if err != nil {
		return nil, err
	}
	y, err := r.op("relu", x)
	if err != nil {
		return nil, err
	}
	ry, err := r.op("mul", y, bv)
	if err != nil {
		return nil, err
	}
	return r.op("add", lin, ry)
}

// clip is lo + relu(x-lo) - relu(x-hi), or its one-sided forms.
func (r *rewriter) clip(x *ir.Value, lo, hi float64) (*ir.Value, error) {
	r.target = x.Type.Shape
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		return x, nil
	case lo > hi:
		return nil, fmt.Errorf("clip min %v > max %v", lo, hi)
	}
	out := x
	if !math.IsInf(lo, -1) { // max(x, lo) = lo + relu(x - lo)
		d, err := r.shift(x, -lo)
		if err != nil {
			return nil, err
		}
		y, err := r.op("relu", d)
		if err != nil {
			return nil, err
		}
		if out, err = r.shift(y, lo); err != nil {
			return nil, err
		}
	}
	if !math.IsInf(hi, 1) { // min(v, hi) = v - relu(v - hi)
		d, err := r.shift(out, -hi)
		if err != nil {
			return nil, err
		}
		y, err := r.op("relu", d)
		if err != nil {
			return nil, err
		}
		if out, err = r.op("sub", out, y); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// power is x^k by repeated squaring.
func (r *rewriter) power(x *ir.Value, k int) (*ir.Value, error) {
	r.target = x.Type.Shape
	var acc *ir.Value
	base := x
	for k > 0 {
		var err error
		if k&1 == 1 {
			if acc == nil {
				acc = base
			} else if acc, err = r.op("mul", acc, base); err != nil {
				return nil, err
			}
		}
		k >>= 1
		if k > 0 {
			if base, err = r.op("mul", base, base); err != nil {
				return nil, err
			}
		}
	}
	return acc, nil
}
