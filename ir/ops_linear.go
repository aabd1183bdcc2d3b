package ir

import (
	"fmt"
	"math"
)

func init() {
	def(OpInfo{Name: "ckks.linear", Level: CKKSLevel, MinArgs: 2, MaxArgs: -1, Infer: inferLinearCKKS,
		Doc: "sum_k rot(x, {offsets}[k]) * pt_k (operands x, pt_0, ...): a diagonal-method linear map, " +
			"baby-step giant-step with baby steps of {n1} slots, rotations hoisted (no rescale)"})
	def(OpInfo{Name: "ckks.dot", Level: CKKSLevel, MinArgs: 1, MaxArgs: -1, Infer: inferDot,
		Doc: "sum_k {coeffs}[k] * x_k + {bias} over ciphertexts of one level, scale and degree (feature-major dense row): " +
			"each coefficient is an integer round(c * {wscale}) times the ciphertext, no plaintext, no rotation, no rescale; " +
			"result scale = the operands' times {wscale}"})
}

// inferDot checks a ckks.dot: ciphertexts of one level, degree and scale, one
// finite coefficient each, a positive weight scale.
func inferDot(f *Func, op *Op) ([]Type, error) {
	coeffs := op.Floats("coeffs")
	if len(coeffs) != len(op.Args) {
		return nil, fmt.Errorf("%d coeffs for %d operands", len(coeffs), len(op.Args))
	}
	w := op.Float("wscale", 0)
	if !(w > 0) || math.IsInf(w, 0) {
		return nil, fmt.Errorf("weight scale %v is not positive and finite", w)
	}
	if b := op.Float("bias", 0); math.IsNaN(b) || math.IsInf(b, 0) {
		return nil, fmt.Errorf("bias is %v", b)
	}
	x := op.Args[0]
	for i, a := range op.Args {
		if err := cipher(a, fmt.Sprintf("operand %d", i)); err != nil {
			return nil, err
		}
		if a.Type.Degree != x.Type.Degree {
			return nil, fmt.Errorf("degrees differ: %%%s has %d, %%%s has %d", x.Name, x.Type.Degree, a.Name, a.Type.Degree)
		}
		if a.Type.Layout != x.Type.Layout {
			return nil, fmt.Errorf("layouts differ: %%%s and %%%s", x.Name, a.Name)
		}
		if !NominalScales(f) {
			if err := sameLevelScale(x, a); err != nil {
				return nil, err
			}
		}
		if c := coeffs[i]; math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c*w) >= 1<<62 {
			return nil, fmt.Errorf("coefficient %d (%v) times the weight scale %v is not an int64 weight", i, c, w)
		}
	}
	t := x.Type
	t.Shape = []int{1}
	for _, a := range op.Args {
		t.Level = min(t.Level, a.Type.Level)
	}
	t.Scale *= w
	return []Type{t}, nil
}

// inferLinearCKKS checks a ckks.linear: one ciphertext of degree 1, then one
// plaintext per offset, all at the ciphertext's level and one scale (the
// runtime encodes them as one linear transformation).
func inferLinearCKKS(f *Func, op *Op) ([]Type, error) {
	x := op.Args[0]
	if err := cipher(x, "operand 0"); err != nil {
		return nil, err
	}
	if x.Type.Degree != 1 {
		return nil, fmt.Errorf("linear needs a relinearized ciphertext")
	}
	offs := op.Ints("offsets")
	if len(offs) != len(op.Args)-1 {
		return nil, fmt.Errorf("%d offsets for %d plaintexts", len(offs), len(op.Args)-1)
	}
	n1 := op.Int("n1", 0)
	if n1 < 1 || n1&(n1-1) != 0 {
		return nil, fmt.Errorf("baby-step size n1 = %d is not a power of two", n1)
	}
	seen := map[int64]bool{}
	for _, o := range offs {
		if seen[o] {
			return nil, fmt.Errorf("offset %d repeated", o)
		}
		seen[o] = true
	}
	var scale float64
	for i, p := range op.Args[1:] {
		if err := plain(p, fmt.Sprintf("operand %d", i+1)); err != nil {
			return nil, err
		}
		if p.Type.Level != x.Type.Level {
			return nil, fmt.Errorf("levels differ: %%%s at %d, %%%s at %d", x.Name, x.Type.Level, p.Name, p.Type.Level)
		}
		if i == 0 {
			scale = p.Type.Scale
		} else if p.Type.Scale != scale {
			return nil, fmt.Errorf("plaintext scales differ: %%%s and %%%s", op.Args[1].Name, p.Name)
		}
	}
	t := x.Type
	t.Scale *= scale
	return []Type{t}, nil
}
