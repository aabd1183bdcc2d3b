package ir

import (
	"fmt"
	"strings"

	"github.com/fhec/fhec/layout"
)

// Simulate runs a ckks-level function on cleartext slot vectors: inputs holds
// one vector of slots values per parameter, and the result is one vector per
// function result. Values are the real numbers the ciphertexts encrypt;
// levels and scales do not change them:
//
//   - ckks.encode: constant {const} broadcast over the slots with {batch}
//     (layout.Broadcast);
//   - ckks.rotate {offset}: cyclic left rotation, out[i] = in[(i+offset) mod slots];
//   - ckks.add, ckks.add_plain: element-wise sum;
//   - ckks.mul, ckks.mul_plain: element-wise product;
//   - ckks.relin, ckks.rescale: identity;
//   - ckks.linear {offsets}: sum_k rot(x, offsets[k]) * pt_k;
//   - ckks.dot {coeffs, bias}: sum_k coeffs[k] * x_k + bias (the weights'
//     rounding to integers is not modelled);
//   - ckks.poly {coeffs}: the Chebyshev series ChebyshevEval(coeffs, x) per slot
//     (the input is taken to be in [-1, 1]; it is not clamped).
//
// Any other op is an error.
func Simulate(f *Func, slots int, inputs [][]float64) ([][]float64, error) {
	if slots < 1 {
		return nil, fmt.Errorf("simulate @%s: %d slots", f.Name, slots)
	}
	if len(inputs) != len(f.Params) {
		return nil, fmt.Errorf("simulate @%s: %d inputs for %d parameters", f.Name, len(inputs), len(f.Params))
	}
	vals := map[*Value][]float64{}
	for i, p := range f.Params {
		if len(inputs[i]) != slots {
			return nil, fmt.Errorf("simulate @%s: input %d (%%%s) has %d slots, want %d", f.Name, i, p.Name, len(inputs[i]), slots)
		}
		vals[p] = inputs[i]
	}
	for i, o := range f.Ops {
		if o == nil {
			return nil, fmt.Errorf("simulate @%s: op %d is nil", f.Name, i)
		}
		out, err := simOp(f, o, slots, vals)
		if err != nil {
			return nil, fmt.Errorf("simulate @%s: op %d (%s -> %%%s): %w", f.Name, i, o.Code, firstName(o), err)
		}
		if len(o.Results) != 1 {
			return nil, fmt.Errorf("simulate @%s: op %d (%s): %d results, want 1", f.Name, i, o.Code, len(o.Results))
		}
		vals[o.Results[0]] = out
	}
	res := make([][]float64, len(f.Results))
	for i, r := range f.Results {
		v, ok := vals[r]
		if !ok {
			return nil, fmt.Errorf("simulate @%s: result %d is not computed", f.Name, i)
		}
		res[i] = append([]float64(nil), v...)
	}
	return res, nil
}

func simOp(f *Func, o *Op, slots int, vals map[*Value][]float64) ([]float64, error) {
	if !strings.HasPrefix(o.Code, "ckks.") {
		return nil, fmt.Errorf("op %q is not a ckks-level op", o.Code)
	}
	arity := map[string]int{
		"ckks.encode": 0, "ckks.rotate": 1, "ckks.add": 2, "ckks.sub": 2, "ckks.add_plain": 2, "ckks.mul": 2,
		"ckks.mul_plain": 2, "ckks.relin": 1, "ckks.rescale": 1, "ckks.poly": 1, "ckks.bootstrap": 1,
	}
	n, known := arity[o.Code]
	if o.Code == "ckks.linear" {
		n, known = len(o.Args), len(o.Args) >= 2
	}
	if o.Code == "ckks.dot" {
		n, known = len(o.Args), len(o.Args) >= 1
	}
	if !known {
		return nil, fmt.Errorf("the simulator does not know op %q", o.Code)
	}
	if len(o.Args) != n {
		return nil, fmt.Errorf("%d operands, want %d", len(o.Args), n)
	}
	args := make([][]float64, n)
	for i, a := range o.Args {
		v, ok := vals[a]
		if !ok {
			name := "<nil>"
			if a != nil {
				name = "%" + a.Name
			}
			return nil, fmt.Errorf("operand %d (%s) is not computed yet", i, name)
		}
		if len(v) != slots {
			return nil, fmt.Errorf("operand %d (%%%s) has %d slots, want %d", i, a.Name, len(v), slots)
		}
		args[i] = v
	}
	out := make([]float64, slots)
	switch o.Code {
	case "ckks.encode":
		name, _ := o.Attrs["const"].(string)
		c := f.Consts[name]
		if c == nil {
			return nil, fmt.Errorf("unknown constant @%s", name)
		}
		v, err := layout.Broadcast(c.Data, int(o.Int("batch", 1)), slots)
		if err != nil {
			return nil, fmt.Errorf("constant @%s: %w", name, err)
		}
		return v, nil
	case "ckks.rotate":
		off, ok := o.Attrs["offset"].(int64)
		if !ok {
			return nil, fmt.Errorf("missing offset")
		}
		k := int(off % int64(slots))
		if k < 0 {
			k += slots
		}
		in := args[0]
		for i := range out {
			j := i + k
			if j >= slots {
				j -= slots
			}
			out[i] = in[j]
		}
	case "ckks.add", "ckks.add_plain":
		for i := range out {
			out[i] = args[0][i] + args[1][i]
		}
	case "ckks.sub":
		for i := range out {
			out[i] = args[0][i] - args[1][i]
		}
	case "ckks.mul", "ckks.mul_plain":
		for i := range out {
			out[i] = args[0][i] * args[1][i]
		}
	case "ckks.relin", "ckks.rescale", "ckks.bootstrap":
		copy(out, args[0])
	case "ckks.linear":
		offs := o.Ints("offsets")
		if len(offs) != n-1 {
			return nil, fmt.Errorf("%d offsets for %d plaintexts", len(offs), n-1)
		}
		for t, off := range offs {
			k := int(((off % int64(slots)) + int64(slots)) % int64(slots))
			d := args[t+1]
			for i := range out {
				out[i] += args[0][(i+k)%slots] * d[i]
			}
		}
	case "ckks.dot":
		coeffs := o.Floats("coeffs")
		if len(coeffs) != n {
			return nil, fmt.Errorf("%d coeffs for %d operands", len(coeffs), n)
		}
		b := o.Float("bias", 0)
		for i := range out {
			out[i] = b
		}
		for k, c := range coeffs {
			for i, x := range args[k] {
				out[i] += c * x
			}
		}
	case "ckks.poly":
		coeffs := o.Floats("coeffs")
		if len(coeffs) == 0 {
			return nil, fmt.Errorf("missing coeffs")
		}
		for i, x := range args[0] {
			out[i] = ChebyshevEval(coeffs, x)
		}
	}
	return out, nil
}

// ChebyshevEval returns sum_k coeffs[k]*T_k(x), T_k the Chebyshev polynomials
// of the first kind, by Clenshaw's recurrence (stable on [-1, 1]; x is not
// clamped). It is 0 for no coefficients.
func ChebyshevEval(coeffs []float64, x float64) float64 {
	if len(coeffs) == 0 {
		return 0
	}
	var b1, b2 float64 // b_{k+1}, b_{k+2}
	for k := len(coeffs) - 1; k >= 1; k-- {
		b1, b2 = coeffs[k]+2*x*b1-b2, b1
	}
	return coeffs[0] + x*b1 - b2
}
