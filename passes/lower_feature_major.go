package passes

import (
	"fmt"
	"math"
	"strconv"

	"github.com/fhec/fhec/ir"
)

// Feature-major packing (LowerToCKKS when SelectParams chose it, see
// Context.FeatureMajor) puts every element of a tensor in its own
// ciphertext, holding that element for N/2 samples, sample b in slot b. The
// program is then written once per element, and all N/2 samples run in
// SIMD: a dense layer is a weighted sum of ciphertexts (ckks.dot, an integer
// multiple of each, no plaintext and no rotation), so no Galois key is
// needed. Per sample this is the cheapest packing for large batches (the
// CryptoNets layout); per ciphertext it is the slowest, so it is a
// throughput choice only.
//
// lowerFeatureMajor:
//   - linear y = W x + b: one ckks.dot per output element over the inputs
//     with nonzero weights (a row of zeros keeps one operand with weight 0,
//     so that the element stays a ciphertext);
//   - mul/add/sub of two encrypted tensors of one shape: per element
//     ckks.mul / ckks.add / ckks.sub; a product is relinearized at once
//     unless dense layers are its only readers: a dot accepts degree-2
//     operands and is relinearized after the sum (one relinearization per
//     output of the dense layer instead of one per input);
//   - mul/add/sub by a constant: a one-operand ckks.dot (weight, or weight 1
//     and a bias);
//   - poly: one ckks.poly per element;
//   - reshape/flatten: free (row-major order is the element order).
//
// Requires: tensor-level IR after SelectParams with f.Attrs["packing"] =
// "feature-major" (attrs logN, q, log_scale), polynomials normalized to
// [-1, 1], no bootstraps.
// Guarantees: ckks-level IR whose parameters are the input elements (their
// grouping in attrs param_elements, param<i>_name, param<i>_shape), whose
// results are the output elements (grouped by result_elements), all in the
// layout {1, 1, N/2}; no rescale yet (ManageScales inserts them).
func lowerFeatureMajor(f *ir.Func, c *Context) error {
	q := f.Moduli()
	delta := math.Exp2(float64(f.Int64("log_scale", 40)))
	slots := 1 << (f.Int64("logN", 1) - 1)
	top := len(q) - 1
	lay := ir.Layout{Len: 1, Period: 1, Batch: slots}
	f.Attrs["batch"] = int64(slots)
	f.Attrs["scales"] = "nominal"

	users := f.Users()
	old, params := f.Ops, f.Params
	f.Ops, f.Params = nil, nil
	elems := map[*ir.Value][]*ir.Value{} // tensor value -> one ciphertext per element
	var counts []int64
	for i, p := range params {
		n := p.Type.NumElements()
		t := ir.Type{Kind: ir.CipherType, Shape: []int{1}, Level: top, Scale: delta, Degree: 1, Layout: lay}
		es := make([]*ir.Value, n)
		for e := range es {
			es[e] = f.AddParam(p.Name+"."+strconv.Itoa(e), t)
		}
		elems[p] = es
		counts = append(counts, int64(n))
		f.Attrs[fmt.Sprintf("param%d_name", i)] = p.Name
		f.Attrs[fmt.Sprintf("param%d_shape", i)] = toInt64s(p.Type.Shape)
	}
	f.Attrs["param_elements"] = counts

	// onlyDense: dense layers are v's only readers (through free reshapes).
	var onlyDense func(v *ir.Value) bool
	onlyDense = func(v *ir.Value) bool {
		if f.IsResult(v) || len(users[v]) == 0 {
			return false
		}
		for _, u := range users[v] {
			switch {
			case u.Code == "reshape" || u.Code == "flatten":
				if !onlyDense(u.Result()) {
					return false
				}
			case u.Code != "linear" || u.Args[0] != v:
				return false
			}
		}
		return true
	}
	dot := func(hint string, xs []*ir.Value, coeffs []float64, bias float64) (*ir.Value, error) {
		d, err := f.Append("ckks.dot", hint, map[string]ir.Attr{"coeffs": coeffs, "bias": bias, "wscale": delta}, xs...)
		if err != nil || d.Type.Degree == 1 {
			return d, err
		}
		return f.Append("ckks.relin", hint, nil, d)
	}

	for _, op := range old {
		if op.Code == "const" {
			continue
		}
		r := op.Result()
		if !r.Type.Secret {
			return fmt.Errorf("%s %%%s does not depend on the input (fold-constants should have removed it)", op.Code, r.Name)
		}
		xs := elems[op.Args[0]]
		if xs == nil {
			return fmt.Errorf("%s %%%s: operand %%%s is not an encrypted value", op.Code, r.Name, op.Args[0].Name)
		}
		n := r.Type.NumElements()
		out := make([]*ir.Value, n)
		name := func(e int) string { return r.Name + "." + strconv.Itoa(e) }
		var err error
		switch op.Code {
		case "reshape", "flatten":
			out = xs
		case "linear":
			w, b := constOf(f, op.Args[1]), constOf(f, op.Args[2])
			if w == nil || b == nil || len(w.Shape) != 2 || w.Shape[0] != n || w.Shape[1] != len(xs) || len(b.Data) != n {
				return fmt.Errorf("linear %%%s: weights are not a constant %dx%d matrix and bias", r.Name, n, len(xs))
			}
			cols := len(xs)
			for i := 0; i < n && err == nil; i++ {
				var args []*ir.Value
				var cs []float64
				for j, wij := range w.Data[i*cols : (i+1)*cols] {
					if wij != 0 {
						args, cs = append(args, xs[j]), append(cs, wij)
					}
				}
				if len(args) == 0 {
					args, cs = xs[:1], []float64{0}
				}
				out[i], err = dot(name(i), args, cs, b.Data[i])
			}
		case "poly":
			if op.Float("lo", 0) != -1 || op.Float("hi", 0) != 1 {
				return fmt.Errorf("poly %%%s is not on [-1, 1] (run normalize-poly first)", r.Name)
			}
			if op.Int("bootstrap", 0) != 0 {
				return fmt.Errorf("poly %%%s needs a bootstrap: feature-major packing does not bootstrap (compile without it)", r.Name)
			}
			coeffs := op.Floats("coeffs")
			attrs := map[string]ir.Attr{"coeffs": coeffs, "depth": int64(ir.PolyDepth(len(coeffs) - 1)), "scale": delta}
			for e := range out {
				if out[e], err = f.Append("ckks.poly", name(e), attrs, xs[e]); err != nil {
					break
				}
			}
		case "mul", "add", "sub":
			out, err = featureElementwise(f, op, xs, elems, onlyDense(r), dot)
		default:
			err = fmt.Errorf("%s %%%s has no CKKS lowering", op.Code, r.Name)
		}
		if err != nil {
			return err
		}
		if len(out) != n {
			return fmt.Errorf("%s %%%s: %d elements, want %d", op.Code, r.Name, len(out), n)
		}
		elems[r] = out
	}
	var results []*ir.Value
	counts = nil
	for i, r := range f.Results {
		es := elems[r]
		if es == nil {
			return fmt.Errorf("result %%%s does not depend on the encrypted input", r.Name)
		}
		recordResult(f, i, r)
		results = append(results, es...)
		counts = append(counts, int64(len(es)))
	}
	f.Results = results
	f.Attrs["result_elements"] = counts
	f.RemoveDead()
	return nil
}

// featureElementwise lowers mul/add/sub element by element: with a second
// encrypted tensor of the same shape, or with a constant (broadcast to the
// result's shape, which must be the encrypted operand's).
func featureElementwise(f *ir.Func, op *ir.Op, xs []*ir.Value, elems map[*ir.Value][]*ir.Value, onlyDense bool,
	dot func(string, []*ir.Value, []float64, float64) (*ir.Value, error)) ([]*ir.Value, error) {
	r := op.Result()
	out := make([]*ir.Value, len(xs))
	name := func(e int) string { return r.Name + "." + strconv.Itoa(e) }
	var err error
	if ys := elems[op.Args[1]]; ys != nil {
		if !sameShape(op.Args[0].Type.Shape, op.Args[1].Type.Shape) {
			return nil, fmt.Errorf("%s %%%s: broadcasting between encrypted operands %v and %v is not supported", op.Code, r.Name, op.Args[0].Type.Shape, op.Args[1].Type.Shape)
		}
		for e := range out {
			if out[e], err = f.Append("ckks."+op.Code, name(e), nil, xs[e], ys[e]); err != nil {
				return nil, err
			}
			if op.Code == "mul" && !onlyDense {
				if out[e], err = f.Append("ckks.relin", name(e), nil, out[e]); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	k := constOf(f, op.Args[1])
	if k == nil {
		return nil, fmt.Errorf("%s %%%s: operand %%%s is neither encrypted nor constant", op.Code, r.Name, op.Args[1].Name)
	}
	if !sameShape(r.Type.Shape, op.Args[0].Type.Shape) {
		return nil, fmt.Errorf("%s %%%s: a constant operand may not broadcast the encrypted one (%v to %v)", op.Code, r.Name, op.Args[0].Type.Shape, r.Type.Shape)
	}
	full, err := broadcastTo(k, r.Type.Shape)
	if err != nil {
		return nil, err
	}
	for e := range out {
		switch op.Code {
		case "mul":
			out[e], err = dot(name(e), xs[e:e+1], []float64{full[e]}, 0)
		case "add":
			out[e], err = dot(name(e), xs[e:e+1], []float64{1}, full[e])
		default:
			out[e], err = dot(name(e), xs[e:e+1], []float64{1}, -full[e])
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
