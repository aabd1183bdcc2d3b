package ir

import (
	"fmt"
	"math"
)

// Level says whether an op works on tensors or on CKKS ciphertexts.
type Level int

const (
	// TensorLevel ops come from ONNX and run in the float64 interpreter.
	TensorLevel Level = iota
	// CKKSLevel ops come from lowering and map one to one onto runtime instructions.
	CKKSLevel
)

// OpInfo is one row of the op table.
type OpInfo struct {
	Name    string
	Level   Level
	MinArgs int
	MaxArgs int // -1: unbounded
	// Infer checks the operands and attributes and returns the result types.
	Infer func(f *Func, op *Op) ([]Type, error)
	Doc   string
}

func (i OpInfo) checkArity(n int) error {
	if n < i.MinArgs || (i.MaxArgs >= 0 && n > i.MaxArgs) {
		if i.MinArgs == i.MaxArgs {
			return fmt.Errorf("ir: %s takes %d operands, got %d", i.Name, i.MinArgs, n)
		}
		return fmt.Errorf("ir: %s takes %d to %d operands, got %d", i.Name, i.MinArgs, i.MaxArgs, n)
	}
	return nil
}

// Ops is the op table: adding an op is one row here plus its semantics
// (interp.go for tensor ops, the runtime for ckks ops).
var Ops = map[string]OpInfo{}

func def(i OpInfo) { Ops[i.Name] = i }

func init() {
	// ---- tensor level ----
	def(OpInfo{Name: "const", Level: TensorLevel, MinArgs: 0, MaxArgs: 0, Infer: inferConst,
		Doc: "a tensor from the constant pool: {const=\"name\"}"})
	def(OpInfo{Name: "gemm", Level: TensorLevel, MinArgs: 2, MaxArgs: 3, Infer: inferGemm,
		Doc: "alpha*op(A)*op(B) + beta*C, ONNX Gemm: {alpha, beta, transA, transB}"})
	def(OpInfo{Name: "matmul", Level: TensorLevel, MinArgs: 2, MaxArgs: 2, Infer: inferMatMul,
		Doc: "matrix product with numpy broadcasting of the batch dims"})
	for _, n := range []string{"add", "sub", "mul", "div"} {
		def(OpInfo{Name: n, Level: TensorLevel, MinArgs: 2, MaxArgs: 2, Infer: inferBroadcast,
			Doc: "element-wise with numpy broadcasting"})
	}
	def(OpInfo{Name: "relu", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame, Doc: "max(x, 0)"})
	def(OpInfo{Name: "flatten", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferFlatten,
		Doc: "ONNX Flatten: {axis}"})
	def(OpInfo{Name: "reshape", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferReshape,
		Doc: "reshape to {shape} (fully resolved: no 0 or -1)"})
	def(OpInfo{Name: "linear", Level: TensorLevel, MinArgs: 3, MaxArgs: 3, Infer: inferLinear,
		Doc: "y[1,m] = W[m,n] * flatten(x)[n] + b[m]: a dense layer on one sample (W, b constant)"})
	def(OpInfo{Name: "poly", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferPoly,
		Doc: "sum_k coeffs[k]*T_k((2x-lo-hi)/(hi-lo)), a Chebyshev series on [lo, hi]; {coeffs, lo, hi, fn, max_err}"})

	// ---- ckks level ----
	def(OpInfo{Name: "ckks.encode", Level: CKKSLevel, MinArgs: 0, MaxArgs: 0, Infer: inferEncode,
		Doc: "a plaintext from constant {const} tiled over the slots with {batch}, at {level} and {scale}"})
	def(OpInfo{Name: "ckks.rotate", Level: CKKSLevel, MinArgs: 1, MaxArgs: 1, Infer: inferRotate,
		Doc: "cyclic left rotation of the slots by {offset}"})
	def(OpInfo{Name: "ckks.add", Level: CKKSLevel, MinArgs: 2, MaxArgs: 2, Infer: inferCtCtAdd, Doc: "ct + ct"})
	def(OpInfo{Name: "ckks.sub", Level: CKKSLevel, MinArgs: 2, MaxArgs: 2, Infer: inferCtCtAdd, Doc: "ct - ct"})
	def(OpInfo{Name: "ckks.add_plain", Level: CKKSLevel, MinArgs: 2, MaxArgs: 2, Infer: inferAddPlain, Doc: "ct + pt"})
	def(OpInfo{Name: "ckks.mul_plain", Level: CKKSLevel, MinArgs: 2, MaxArgs: 2, Infer: inferMulPlain, Doc: "ct * pt (no rescale)"})
	def(OpInfo{Name: "ckks.mul", Level: CKKSLevel, MinArgs: 2, MaxArgs: 2, Infer: inferCtCtMul, Doc: "ct * ct, degree 2 (no relinearization, no rescale)"})
	def(OpInfo{Name: "ckks.relin", Level: CKKSLevel, MinArgs: 1, MaxArgs: 1, Infer: inferRelin, Doc: "relinearize a degree-2 ciphertext"})
	def(OpInfo{Name: "ckks.rescale", Level: CKKSLevel, MinArgs: 1, MaxArgs: 1, Infer: inferRescale, Doc: "divide by the last prime, dropping one level"})
	def(OpInfo{Name: "ckks.poly", Level: CKKSLevel, MinArgs: 1, MaxArgs: 1, Infer: inferCKKSPoly,
		Doc: "Chebyshev series {coeffs} of an input already mapped to [-1, 1]; consumes {depth} levels; result at {scale}"})
}

func inferConst(f *Func, op *Op) ([]Type, error) {
	name, ok := op.Attrs["const"].(string)
	if !ok {
		return nil, fmt.Errorf("missing const attribute")
	}
	c := f.Consts[name]
	if c == nil {
		return nil, fmt.Errorf("unknown constant @%s", name)
	}
	if len(c.Data) != NumElements(c.Shape) {
		return nil, fmt.Errorf("constant @%s has %d values for shape %v", name, len(c.Data), c.Shape)
	}
	return []Type{Tensor(c.Shape, false)}, nil
}

func tensors(op *Op) error {
	for i, a := range op.Args {
		if a.Type.Kind != TensorType {
			return fmt.Errorf("operand %d (%%%s) is not a tensor", i, a.Name)
		}
	}
	return nil
}

func anySecret(op *Op) bool {
	for _, a := range op.Args {
		if a.Type.Secret {
			return true
		}
	}
	return false
}

func inferSame(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	return []Type{Tensor(op.Args[0].Type.Shape, anySecret(op))}, nil
}

func inferPoly(f *Func, op *Op) ([]Type, error) {
	if len(op.Floats("coeffs")) == 0 {
		return nil, fmt.Errorf("missing coeffs")
	}
	lo, hi := op.Float("lo", math.NaN()), op.Float("hi", math.NaN())
	if !(lo < hi) {
		return nil, fmt.Errorf("interval [%v, %v] is empty", lo, hi)
	}
	return inferSame(f, op)
}

// BroadcastShapes returns the numpy broadcast of a and b.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := len(a)
	if len(b) > n {
		n = len(b)
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func inferBroadcast(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	s, err := BroadcastShapes(op.Args[0].Type.Shape, op.Args[1].Type.Shape)
	if err != nil {
		return nil, err
	}
	return []Type{Tensor(s, anySecret(op))}, nil
}

func inferGemm(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	a, b := op.Args[0].Type.Shape, op.Args[1].Type.Shape
	if len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("gemm needs 2-D A and B, got %v and %v", a, b)
	}
	m, k := a[0], a[1]
	if op.Int("transA", 0) != 0 {
		m, k = k, m
	}
	k2, n := b[0], b[1]
	if op.Int("transB", 0) != 0 {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("gemm inner dimensions differ: A %v, B %v", a, b)
	}
	if len(op.Args) == 3 {
		if _, err := BroadcastShapes([]int{m, n}, op.Args[2].Type.Shape); err != nil {
			return nil, fmt.Errorf("gemm bias: %w", err)
		}
		if s, _ := BroadcastShapes([]int{m, n}, op.Args[2].Type.Shape); s[0] != m || s[1] != n {
			return nil, fmt.Errorf("gemm bias %v does not broadcast to [%d %d]", op.Args[2].Type.Shape, m, n)
		}
	}
	return []Type{Tensor([]int{m, n}, anySecret(op))}, nil
}

func inferMatMul(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	a, b := op.Args[0].Type.Shape, op.Args[1].Type.Shape
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("matmul of a scalar")
	}
	// numpy semantics: 1-D operands are promoted, then the promoted dim dropped.
	pa, pb := a, b
	if len(a) == 1 {
		pa = []int{1, a[0]}
	}
	if len(b) == 1 {
		pb = []int{b[0], 1}
	}
	if pa[len(pa)-1] != pb[len(pb)-2] {
		return nil, fmt.Errorf("matmul inner dimensions differ: %v and %v", a, b)
	}
	batch, err := BroadcastShapes(pa[:len(pa)-2], pb[:len(pb)-2])
	if err != nil {
		return nil, err
	}
	out := append(batch, pa[len(pa)-2], pb[len(pb)-1])
	switch {
	case len(a) == 1 && len(b) == 1: // vector . vector: a scalar
		out = out[:len(out)-2]
	case len(a) == 1: // drop the promoted row dim
		out = append(out[:len(out)-2], out[len(out)-1])
	case len(b) == 1: // drop the promoted column dim
		out = out[:len(out)-1]
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

func inferLinear(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	x, w, b := op.Args[0].Type, op.Args[1].Type, op.Args[2].Type
	if len(w.Shape) != 2 || w.Shape[1] != x.NumElements() {
		return nil, fmt.Errorf("weight %v does not match an input of %d elements", w.Shape, x.NumElements())
	}
	if len(b.Shape) != 1 || b.Shape[0] != w.Shape[0] {
		return nil, fmt.Errorf("bias %v does not match %d outputs", b.Shape, w.Shape[0])
	}
	if w.Secret || b.Secret {
		return nil, fmt.Errorf("weight and bias must be constant")
	}
	return []Type{Tensor([]int{1, w.Shape[0]}, x.Secret)}, nil
}

func inferFlatten(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	s := op.Args[0].Type.Shape
	axis := int(op.Int("axis", 1))
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis > len(s) {
		return nil, fmt.Errorf("flatten axis %d out of range for shape %v", op.Int("axis", 1), s)
	}
	return []Type{Tensor([]int{NumElements(s[:axis]), NumElements(s[axis:])}, anySecret(op))}, nil
}

func inferReshape(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	shape := op.Ints("shape")
	out := make([]int, len(shape))
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("reshape dim %d is %d (must be resolved)", i, d)
		}
		out[i] = int(d)
	}
	if NumElements(out) != op.Args[0].Type.NumElements() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", op.Args[0].Type.Shape, op.Args[0].Type.NumElements(), out)
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

// ---- ckks level ----

func cipher(v *Value, what string) error {
	if v.Type.Kind != CipherType {
		return fmt.Errorf("%s (%%%s) is not a ciphertext", what, v.Name)
	}
	return nil
}

func plain(v *Value, what string) error {
	if v.Type.Kind != PlainType {
		return fmt.Errorf("%s (%%%s) is not a plaintext", what, v.Name)
	}
	return nil
}

// ScalesMatch reports whether two exact scales are equal up to float64 rounding.
func ScalesMatch(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func sameLevelScale(a, b *Value) error {
	if a.Type.Level != b.Type.Level {
		return fmt.Errorf("levels differ: %%%s at %d, %%%s at %d", a.Name, a.Type.Level, b.Name, b.Type.Level)
	}
	if !ScalesMatch(a.Type.Scale, b.Type.Scale) {
		return fmt.Errorf("scales differ: %%%s at 2^%.6f, %%%s at 2^%.6f", a.Name, math.Log2(a.Type.Scale), b.Name, math.Log2(b.Type.Scale))
	}
	return nil
}

func inferEncode(f *Func, op *Op) ([]Type, error) {
	name, _ := op.Attrs["const"].(string)
	c := f.Consts[name]
	if c == nil {
		return nil, fmt.Errorf("unknown constant @%s", name)
	}
	n := len(c.Data)
	if n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("encoded constant @%s has %d values, not a power of two", name, n)
	}
	scale := op.Float("scale", 0)
	if !(scale > 0) {
		return nil, fmt.Errorf("encode needs a positive scale")
	}
	batch := int(op.Int("batch", 1))
	if batch < 1 {
		return nil, fmt.Errorf("encode batch %d < 1", batch)
	}
	return []Type{{Kind: PlainType, Shape: []int{n}, Level: int(op.Int("level", 0)), Scale: scale,
		Layout: Layout{Len: n, Period: n, Batch: batch}}}, nil
}

func inferRotate(f *Func, op *Op) ([]Type, error) {
	if err := cipher(op.Args[0], "operand"); err != nil {
		return nil, err
	}
	if op.Args[0].Type.Degree != 1 {
		return nil, fmt.Errorf("rotate needs a relinearized ciphertext")
	}
	if _, ok := op.Attrs["offset"].(int64); !ok {
		return nil, fmt.Errorf("missing offset")
	}
	return []Type{op.Args[0].Type}, nil
}

func inferCtCtAdd(f *Func, op *Op) ([]Type, error) {
	a, b := op.Args[0], op.Args[1]
	if err := cipher(a, "lhs"); err != nil {
		return nil, err
	}
	if err := cipher(b, "rhs"); err != nil {
		return nil, err
	}
	// Operands may sit at different levels (the result is at the lower one,
	// as Lattigo computes it), but their scales must be equal, except in
	// functions whose scales are still nominal (before scale management).
	if !ScalesMatch(a.Type.Scale, b.Type.Scale) && !NominalScales(f) {
		return nil, fmt.Errorf("scales differ: %%%s at 2^%.6f, %%%s at 2^%.6f", a.Name, math.Log2(a.Type.Scale), b.Name, math.Log2(b.Type.Scale))
	}
	t := a.Type
	t.Level = min(a.Type.Level, b.Type.Level)
	t.Scale = max(a.Type.Scale, b.Type.Scale)
	if b.Type.Degree > t.Degree {
		t.Degree = b.Type.Degree
	}
	return []Type{t}, nil
}

func inferAddPlain(f *Func, op *Op) ([]Type, error) {
	a, p := op.Args[0], op.Args[1]
	if err := cipher(a, "lhs"); err != nil {
		return nil, err
	}
	if err := plain(p, "rhs"); err != nil {
		return nil, err
	}
	if err := sameLevelScale(a, p); err != nil {
		return nil, err
	}
	return []Type{a.Type}, nil
}

func inferMulPlain(f *Func, op *Op) ([]Type, error) {
	a, p := op.Args[0], op.Args[1]
	if err := cipher(a, "lhs"); err != nil {
		return nil, err
	}
	if err := plain(p, "rhs"); err != nil {
		return nil, err
	}
	if a.Type.Level != p.Type.Level {
		return nil, fmt.Errorf("levels differ: %%%s at %d, %%%s at %d", a.Name, a.Type.Level, p.Name, p.Type.Level)
	}
	t := a.Type
	t.Scale *= p.Type.Scale
	return []Type{t}, nil
}

func inferCtCtMul(f *Func, op *Op) ([]Type, error) {
	a, b := op.Args[0], op.Args[1]
	if err := cipher(a, "lhs"); err != nil {
		return nil, err
	}
	if err := cipher(b, "rhs"); err != nil {
		return nil, err
	}
	if a.Type.Degree != 1 || b.Type.Degree != 1 {
		return nil, fmt.Errorf("mul needs degree-1 operands")
	}
	if a.Type.Level != b.Type.Level {
		return nil, fmt.Errorf("levels differ: %%%s at %d, %%%s at %d", a.Name, a.Type.Level, b.Name, b.Type.Level)
	}
	t := a.Type
	t.Scale *= b.Type.Scale
	t.Degree = 2
	return []Type{t}, nil
}

func inferRelin(f *Func, op *Op) ([]Type, error) {
	if err := cipher(op.Args[0], "operand"); err != nil {
		return nil, err
	}
	if op.Args[0].Type.Degree != 2 {
		return nil, fmt.Errorf("relin of a degree-%d ciphertext", op.Args[0].Type.Degree)
	}
	t := op.Args[0].Type
	t.Degree = 1
	return []Type{t}, nil
}

// NominalScales reports whether f's ckks-level scales are still nominal:
// lowering sets the function attribute scales = "nominal", and scale
// management, which makes every scale exact, sets it to "exact". Additions of
// operands with different nominal scales are accepted until then.
func NominalScales(f *Func) bool {
	s, _ := f.Attrs["scales"].(string)
	return s == "nominal"
}

// Moduli returns the ciphertext primes recorded by parameter selection
// (function attribute "q"), or nil.
func (f *Func) Moduli() []uint64 {
	q := f.Ints("q")
	out := make([]uint64, len(q))
	for i, v := range q {
		out[i] = uint64(v)
	}
	return out
}

// Ints returns an []int64 function attribute.
func (f *Func) Ints(name string) []int64 {
	v, _ := f.Attrs[name].([]int64)
	return v
}

func inferRescale(f *Func, op *Op) ([]Type, error) {
	a := op.Args[0]
	if err := cipher(a, "operand"); err != nil {
		return nil, err
	}
	q := f.Moduli()
	if len(q) == 0 {
		return nil, fmt.Errorf("rescale before the moduli are chosen (function attribute q)")
	}
	if a.Type.Level < 1 || a.Type.Level >= len(q) {
		return nil, fmt.Errorf("rescale at level %d: no prime to drop", a.Type.Level)
	}
	t := a.Type
	t.Scale /= float64(q[t.Level])
	t.Level--
	return []Type{t}, nil
}

func inferCKKSPoly(f *Func, op *Op) ([]Type, error) {
	a := op.Args[0]
	if err := cipher(a, "operand"); err != nil {
		return nil, err
	}
	coeffs := op.Floats("coeffs")
	if len(coeffs) < 2 {
		return nil, fmt.Errorf("poly needs at least 2 coefficients")
	}
	depth := int(op.Int("depth", -1))
	if want := PolyDepth(len(coeffs) - 1); depth != want {
		return nil, fmt.Errorf("poly of degree %d has depth %d, attribute says %d", len(coeffs)-1, want, depth)
	}
	if a.Type.Level < depth {
		return nil, fmt.Errorf("poly needs %d levels, operand at level %d", depth, a.Type.Level)
	}
	scale := op.Float("scale", 0)
	if !(scale > 0) {
		return nil, fmt.Errorf("poly needs a positive target scale")
	}
	t := a.Type
	t.Level -= depth
	t.Scale = scale
	return []Type{t}, nil
}

// PolyDepth is the multiplicative depth of evaluating a degree-d polynomial
// (Lattigo's baby-step giant-step Paterson-Stockmeyer evaluation): ceil(log2(d+1)).
func PolyDepth(d int) int {
	depth := 0
	for (1 << depth) < d+1 {
		depth++
	}
	return depth
}
