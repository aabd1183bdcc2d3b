package passes

import (
	"fmt"
	"math"

	"github.com/fhec/fhec/ir"
)

// ManageScales inserts rescales and relinearizations and fixes every
// plaintext's level and exact scale, tracking exact scales (a rescale divides
// by the actual prime, not by a power of two).
//
// Policy: a product (mul_plain, linear, mul, dot) is rescaled lazily, right before its
// first use by anything other than an addition, so sums of products (the
// diagonals of a dense layer) share one rescale. A plaintext multiplier is
// encoded at the scale of the prime its product will be divided by, so a
// dense layer returns to exactly the scale it started from; an added
// plaintext is encoded at its ciphertext's exact scale. (Relinearization is
// placed by LowerToCKKS, right after each ct*ct product, since rotations and
// further products need degree 1; it commutes with the rescale.)
//
// Requires: ckks-level IR from LowerToCKKS; f.Attrs["q"] set.
// Guarantees: every ciphertext a rotate, mul, mul_plain or poly reads, and
// every result, is rescaled and of degree 1 (so is a linear's input); operands of additions have equal
// levels and scales (else a clear error); no op reads a level below 0.
type ManageScales struct{}

func (ManageScales) Name() string { return "manage-scales" }

func (ManageScales) Run(f *ir.Func, c *Context) error {
	q := f.Moduli()
	old := f.Ops
	f.Ops = nil
	f.Attrs["scales"] = "exact"
	cur := map[*ir.Value]*ir.Value{}
	pending := map[*ir.Value]bool{}
	// twice: a pending value that needs two rescales (a dot over unrescaled
	// degree-2 products, see scaleDot)
	twice := map[*ir.Value]bool{}
	for _, p := range f.Params {
		cur[p] = p
	}
	rescaled := func(v *ir.Value) (*ir.Value, error) {
		n := cur[v]
		if n == nil {
			return nil, fmt.Errorf("%%%s used before its definition", v.Name)
		}
		if !pending[n] {
			return n, nil
		}
		if n.Type.Level < 1 {
			return nil, fmt.Errorf("%%%s: out of levels (needs a rescale at level 0); the depth estimate is wrong", v.Name)
		}
		r, err := f.Append("ckks.rescale", v.Name+".rs", nil, n)
		if err != nil {
			return nil, err
		}
		r.Type.Layout, r.Type.Shape = n.Type.Layout, n.Type.Shape
		if twice[n] {
			if r.Type.Level < 1 {
				return nil, fmt.Errorf("%%%s: out of levels (needs a second rescale at level 0); the depth estimate is wrong", v.Name)
			}
			if r, err = f.Append("ckks.rescale", v.Name+".rs", nil, r); err != nil {
				return nil, err
			}
			r.Type.Layout, r.Type.Shape = n.Type.Layout, n.Type.Shape
		}
		cur[v] = r
		return r, nil
	}
	encodeAt := func(enc *ir.Value, level int, scale float64) (*ir.Value, error) {
		if enc.Def == nil || enc.Def.Code != "ckks.encode" {
			return nil, fmt.Errorf("%%%s is not an encoded constant", enc.Name)
		}
		a := enc.Def.Attrs
		return f.Append("ckks.encode", enc.Name, map[string]ir.Attr{"const": a["const"], "batch": a["batch"],
			"level": int64(level), "scale": scale})
	}
	for _, op := range old {
		var out *ir.Value
		var err error
		res := op.Result()
		switch op.Code {
		case "ckks.encode":
			continue // re-encoded at each use, at the level and scale the use needs
		case "ckks.mul_plain":
			var x, pt *ir.Value
			if x, err = rescaled(op.Args[0]); err == nil {
				if x.Type.Level < 1 {
					return fmt.Errorf("%%%s: no level left for a multiplication", res.Name)
				}
				if pt, err = encodeAt(op.Args[1], x.Type.Level, float64(q[x.Type.Level])); err == nil {
					out, err = f.Append("ckks.mul_plain", res.Name, nil, x, pt)
					pending[out] = true
				}
			}
		case "ckks.linear":
			var x *ir.Value
			if x, err = rescaled(op.Args[0]); err == nil {
				if x.Type.Level < 1 {
					return fmt.Errorf("%%%s: no level left for a multiplication", res.Name)
				}
				args := []*ir.Value{x}
				for _, p := range op.Args[1:] {
					var pt *ir.Value
					if pt, err = encodeAt(p, x.Type.Level, float64(q[x.Type.Level])); err != nil {
						break
					}
					args = append(args, pt)
				}
				if err == nil {
					out, err = f.Append("ckks.linear", res.Name, op.Attrs, args...)
					pending[out] = true
				}
			}
		case "ckks.dot":
			out, err = scaleDot(f, op, q, cur, rescaled, pending, twice)
		case "ckks.add_plain":
			x := cur[op.Args[0]]
			var pt *ir.Value
			if pt, err = encodeAt(op.Args[1], x.Type.Level, x.Type.Scale); err == nil {
				out, err = f.Append("ckks.add_plain", res.Name, nil, x, pt)
				pending[out] = pending[x]
			}
		case "ckks.add", "ckks.sub":
			a, b := cur[op.Args[0]], cur[op.Args[1]]
			if pending[a] && pending[b] && (!ir.ScalesMatch(a.Type.Scale, b.Type.Scale) || twice[a] != twice[b]) {
				// products at different levels: each rescale returns exactly
				// to the scale before its product
				if a, err = rescaled(op.Args[0]); err == nil {
					b, err = rescaled(op.Args[1])
				}
			} else if pending[a] != pending[b] {
				if pending[a] {
					a, err = rescaled(op.Args[0])
				} else {
					b, err = rescaled(op.Args[1])
				}
			}
			if err == nil {
				out, err = f.Append(op.Code, res.Name, nil, a, b)
				pending[out] = pending[a] && pending[b]
				twice[out] = pending[out] && twice[a]
			}
		case "ckks.mul":
			var a, b *ir.Value
			if a, err = rescaled(op.Args[0]); err == nil {
				if b, err = rescaled(op.Args[1]); err == nil {
					out, err = f.Append("ckks.mul", res.Name, nil, a, b)
					pending[out] = true
				}
			}
		case "ckks.relin":
			x := cur[op.Args[0]]
			out, err = f.Append("ckks.relin", res.Name, nil, x)
			pending[out], twice[out] = pending[x], twice[x]
		case "ckks.rotate", "ckks.poly", "ckks.bootstrap":
			var x *ir.Value
			if x, err = rescaled(op.Args[0]); err == nil {
				out, err = f.Append(op.Code, res.Name, op.Attrs, x)
			}
		default:
			err = fmt.Errorf("unexpected op %s", op.Code)
		}
		if err != nil {
			return fmt.Errorf("%s %%%s: %w", op.Code, res.Name, err)
		}
		out.Type.Layout, out.Type.Shape = res.Type.Layout, res.Type.Shape
		cur[res] = out
	}
	for i, r := range f.Results {
		v, err := rescaled(r)
		if err != nil {
			return err
		}
		f.Results[i] = v
	}
	f.RemoveDead()
	return nil
}

// scaleDot rescales a dot's operands and sets its weight scale. Integer
// weights (sums, differences, bias additions) are exact at weight scale 1
// and cost no level; any other weight is scaled by the prime the following
// rescale divides by, so the dot returns exactly to its operands' scale.
//
// Operands that are all unrescaled degree-2 products (squares read by a
// dense layer) are summed as they are, one level up, with the weights at
// the scale of the next prime down, and the sum is rescaled twice (after
// its relinearization): the same level and exact scale as rescaling every
// operand first, without one rescale per operand (a degree-2 rescale costs
// 3 NTT sets, and its rounding error is multiplied by the secret's square:
// measured 35x the noise of rescaling after relinearization).
func scaleDot(f *ir.Func, op *ir.Op, q []uint64, cur map[*ir.Value]*ir.Value, rescaled func(*ir.Value) (*ir.Value, error), pending, twice map[*ir.Value]bool) (*ir.Value, error) {
	integer := true
	for _, c := range op.Floats("coeffs") {
		integer = integer && c == math.Trunc(c) && math.Abs(c) <= 1<<20
	}
	raw := !integer
	for _, a := range op.Args {
		n := cur[a]
		raw = raw && n != nil && pending[n] && !twice[n] && n.Type.Degree == 2 && n.Type.Level >= 2
	}
	args := make([]*ir.Value, len(op.Args))
	for i, a := range op.Args {
		x := cur[a]
		if !raw {
			var err error
			if x, err = rescaled(a); err != nil {
				return nil, err
			}
		}
		if i > 0 && (x.Type.Level != args[0].Type.Level || !ir.ScalesMatch(x.Type.Scale, args[0].Type.Scale)) {
			return nil, fmt.Errorf("operands %%%s and %%%s sit at different levels or scales (%d, 2^%.3f and %d, 2^%.3f)",
				args[0].Name, x.Name, args[0].Type.Level, math.Log2(args[0].Type.Scale), x.Type.Level, math.Log2(x.Type.Scale))
		}
		args[i] = x
	}
	attrs := map[string]ir.Attr{"coeffs": op.Attrs["coeffs"], "bias": op.Attrs["bias"], "wscale": 1.0}
	switch {
	case raw:
		attrs["wscale"] = float64(q[args[0].Type.Level-1])
	case !integer:
		if args[0].Type.Level < 1 {
			return nil, fmt.Errorf("no level left for a multiplication")
		}
		attrs["wscale"] = float64(q[args[0].Type.Level])
	}
	out, err := f.Append("ckks.dot", op.Result().Name, attrs, args...)
	if err == nil {
		pending[out] = !integer
		twice[out] = raw
	}
	return out, err
}
