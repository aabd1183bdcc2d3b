package ir

import "fmt"

func init() {
	def(OpInfo{Name: "ckks.linear", Level: CKKSLevel, MinArgs: 2, MaxArgs: -1, Infer: inferLinearCKKS,
		Doc: "sum_k rot(x, {offsets}[k]) * pt_k (operands x, pt_0, ...): a diagonal-method linear map, " +
			"baby-step giant-step with baby steps of {n1} slots, rotations hoisted (no rescale)"})
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
