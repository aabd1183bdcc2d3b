package ir

import (
	"fmt"
	"math"
)

// Array is a dense float64 tensor in row-major order. A scalar has an empty
// Shape and one element.
type Array struct {
	Shape []int
	Data  []float64
}

// NewArray returns a zero-filled array of the given shape.
func NewArray(shape []int) Array {
	return Array{Shape: append([]int{}, shape...), Data: make([]float64, NumElements(shape))}
}

func (a Array) check() error {
	for _, d := range a.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", a.Shape)
		}
	}
	if n := NumElements(a.Shape); n != len(a.Data) {
		return fmt.Errorf("shape %v needs %d values, array has %d", a.Shape, n, len(a.Data))
	}
	return nil
}

// Interpret runs the tensor-level function f in float64 on inputs (one per
// parameter, in order) and returns its results in f.Results order. It is the
// reference semantics of every tensor-level op. It returns an error (never
// panics) when the inputs do not match the parameters' shapes or when f holds
// an op that is not tensor level.
func Interpret(f *Func, inputs []Array) ([]Array, error) {
	vals, err := InterpretAll(f, inputs)
	if err != nil {
		return nil, err
	}
	out := make([]Array, len(f.Results))
	for i, r := range f.Results {
		a, ok := vals[r]
		if !ok {
			return nil, fmt.Errorf("interp @%s: result %d (%%%s) is not defined", f.Name, i, r.Name)
		}
		out[i] = a
	}
	return out, nil
}

// InterpretAll is Interpret returning the value of every parameter and every
// op result (used for range calibration).
func InterpretAll(f *Func, inputs []Array) (map[*Value]Array, error) {
	if f == nil {
		return nil, fmt.Errorf("interp: nil function")
	}
	if len(inputs) != len(f.Params) {
		return nil, fmt.Errorf("interp @%s: %d inputs for %d parameters", f.Name, len(inputs), len(f.Params))
	}
	vals := make(map[*Value]Array, len(f.Params)+len(f.Ops))
	for i, p := range f.Params {
		in := inputs[i]
		if p.Type.Kind != TensorType {
			return nil, fmt.Errorf("interp @%s: parameter %%%s has type %s, not a tensor", f.Name, p.Name, p.Type)
		}
		if err := in.check(); err != nil {
			return nil, fmt.Errorf("interp @%s: input %d (%%%s): %w", f.Name, i, p.Name, err)
		}
		if !sameShape(in.Shape, p.Type.Shape) {
			return nil, fmt.Errorf("interp @%s: input %d (%%%s) has shape %v, parameter wants %v", f.Name, i, p.Name, in.Shape, p.Type.Shape)
		}
		vals[p] = in
	}
	for i, o := range f.Ops {
		info, ok := Ops[o.Code]
		if !ok {
			return nil, fmt.Errorf("interp @%s: op %d: unknown op %q", f.Name, i, o.Code)
		}
		if info.Level != TensorLevel {
			return nil, fmt.Errorf("interp @%s: op %d (%s): not a tensor-level op", f.Name, i, o.Code)
		}
		if err := info.checkArity(len(o.Args)); err != nil {
			return nil, fmt.Errorf("interp @%s: op %d: %w", f.Name, i, err)
		}
		if len(o.Results) != 1 {
			return nil, fmt.Errorf("interp @%s: op %d (%s): %d results, want 1", f.Name, i, o.Code, len(o.Results))
		}
		args := make([]Array, len(o.Args))
		for j, a := range o.Args {
			v, ok := vals[a]
			if a == nil || !ok {
				return nil, fmt.Errorf("interp @%s: op %d (%s): operand %d is not defined before use", f.Name, i, o.Code, j)
			}
			args[j] = v
		}
		r, err := evalOp(f, o, args)
		if err != nil {
			return nil, fmt.Errorf("interp @%s: op %d (%s -> %%%s): %w", f.Name, i, o.Code, o.Results[0].Name, err)
		}
		if want := o.Results[0].Type.Shape; !sameShape(r.Shape, want) {
			return nil, fmt.Errorf("interp @%s: op %d (%s -> %%%s): computed shape %v, type says %v", f.Name, i, o.Code, o.Results[0].Name, r.Shape, want)
		}
		vals[o.Results[0]] = r
	}
	for i, r := range f.Results {
		if _, ok := vals[r]; !ok {
			return nil, fmt.Errorf("interp @%s: result %d (%%%s) is not defined", f.Name, i, r.Name)
		}
	}
	return vals, nil
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

func evalOp(f *Func, o *Op, args []Array) (Array, error) {
	switch o.Code {
	case "const":
		name, _ := o.Attrs["const"].(string)
		c := f.Consts[name]
		if c == nil {
			return Array{}, fmt.Errorf("unknown constant @%s", name)
		}
		a := Array{Shape: append([]int{}, c.Shape...), Data: append([]float64{}, c.Data...)}
		if err := a.check(); err != nil {
			return Array{}, fmt.Errorf("constant @%s: %w", name, err)
		}
		return a, nil
	case "add":
		return broadcastBinary(args[0], args[1], func(x, y float64) float64 { return x + y })
	case "sub":
		return broadcastBinary(args[0], args[1], func(x, y float64) float64 { return x - y })
	case "mul":
		return broadcastBinary(args[0], args[1], func(x, y float64) float64 { return x * y })
	case "div":
		return broadcastBinary(args[0], args[1], func(x, y float64) float64 { return x / y })
	case "relu":
		return unary(args[0], func(x float64) float64 {
			if x > 0 {
				return x
			}
			return 0
		}), nil
	case "poly":
		coeffs := o.Floats("coeffs")
		lo, hi := o.Float("lo", math.NaN()), o.Float("hi", math.NaN())
		if len(coeffs) == 0 || !(lo < hi) {
			return Array{}, fmt.Errorf("poly needs coeffs and lo < hi")
		}
		return unary(args[0], func(x float64) float64 {
			return ChebyshevEval(coeffs, (2*x-lo-hi)/(hi-lo))
		}), nil
	case "flatten":
		s := args[0].Shape
		axis := int(o.Int("axis", 1))
		if axis < 0 {
			axis += len(s)
		}
		if axis < 0 || axis > len(s) {
			return Array{}, fmt.Errorf("flatten axis %d out of range for shape %v", o.Int("axis", 1), s)
		}
		return Array{Shape: []int{NumElements(s[:axis]), NumElements(s[axis:])}, Data: append([]float64{}, args[0].Data...)}, nil
	case "reshape":
		shape := o.Ints("shape")
		out := make([]int, len(shape))
		for i, d := range shape {
			if d < 0 {
				return Array{}, fmt.Errorf("reshape dim %d is %d (must be resolved)", i, d)
			}
			out[i] = int(d)
		}
		if NumElements(out) != len(args[0].Data) {
			return Array{}, fmt.Errorf("cannot reshape %v to %v", args[0].Shape, out)
		}
		return Array{Shape: out, Data: append([]float64{}, args[0].Data...)}, nil
	case "linear":
		return linear(args[0], args[1], args[2])
	case "matmul":
		return matmul(args[0], args[1])
	case "gemm":
		var c *Array
		if len(args) == 3 {
			c = &args[2]
		}
		return gemm(args[0], args[1], c, o.Float("alpha", 1), o.Float("beta", 1),
			o.Int("transA", 0) != 0, o.Int("transB", 0) != 0)
	}
	return evalNN(f, o, args) // the ops of ops_nn.go; unknown codes get an error there
}

func unary(a Array, fn func(float64) float64) Array {
	out := Array{Shape: append([]int{}, a.Shape...), Data: make([]float64, len(a.Data))}
	for i, x := range a.Data {
		out.Data[i] = fn(x)
	}
	return out
}

// broadcastStrides returns, for an operand of shape s broadcast to out, the
// element stride of each output dimension (0 on broadcast dimensions).
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := len(out) - len(s) + i
		if s[i] != 1 {
			st[j] = stride
		}
		stride *= s[i]
	}
	return st
}

func broadcastBinary(a, b Array, fn func(x, y float64) float64) (Array, error) {
	shape, err := BroadcastShapes(a.Shape, b.Shape)
	if err != nil {
		return Array{}, err
	}
	out := NewArray(shape)
	if sameShape(a.Shape, b.Shape) {
		for i := range out.Data {
			out.Data[i] = fn(a.Data[i], b.Data[i])
		}
		return out, nil
	}
	sa, sb := broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape)
	idx := make([]int, len(shape))
	ia, ib := 0, 0
	for k := range out.Data {
		out.Data[k] = fn(a.Data[ia], b.Data[ib])
		// odometer increment of idx, keeping the operand offsets in step
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			ia += sa[d]
			ib += sb[d]
			if idx[d] < shape[d] {
				break
			}
			ia -= sa[d] * idx[d]
			ib -= sb[d] * idx[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// matmul is numpy matmul: 1-D operands are promoted (a row vector on the
// left, a column vector on the right) and the promoted dim dropped from the
// result; leading batch dims broadcast.
func matmul(a, b Array) (Array, error) {
	if len(a.Shape) == 0 || len(b.Shape) == 0 {
		return Array{}, fmt.Errorf("matmul of a scalar")
	}
	pa, pb := a.Shape, b.Shape
	if len(pa) == 1 {
		pa = []int{1, pa[0]}
	}
	if len(pb) == 1 {
		pb = []int{pb[0], 1}
	}
	m, k := pa[len(pa)-2], pa[len(pa)-1]
	k2, n := pb[len(pb)-2], pb[len(pb)-1]
	if k != k2 {
		return Array{}, fmt.Errorf("matmul inner dimensions differ: %v and %v", a.Shape, b.Shape)
	}
	ba, bb := pa[:len(pa)-2], pb[:len(pb)-2]
	batch, err := BroadcastShapes(ba, bb)
	if err != nil {
		return Array{}, err
	}
	nb := NumElements(batch)
	out := make([]float64, nb*m*n)
	sa, sb := broadcastStrides(ba, batch), broadcastStrides(bb, batch)
	idx := make([]int, len(batch))
	for t := 0; t < nb; t++ {
		oa, ob := 0, 0
		for d := range batch {
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		A := a.Data[oa*m*k : (oa+1)*m*k]
		B := b.Data[ob*k*n : (ob+1)*k*n]
		C := out[t*m*n : (t+1)*m*n]
		for i := 0; i < m; i++ {
			for p := 0; p < k; p++ {
				x := A[i*k+p]
				for j := 0; j < n; j++ {
					C[i*n+j] += x * B[p*n+j]
				}
			}
		}
		for d := len(batch) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	shape := append(append([]int{}, batch...), m, n)
	if len(b.Shape) == 1 {
		shape = shape[:len(shape)-1]
	}
	if len(a.Shape) == 1 {
		// drop the promoted m (=1) dim: it sits just before n, or last if n was dropped
		if len(b.Shape) == 1 {
			shape = shape[:len(shape)-1]
		} else {
			shape = append(shape[:len(shape)-2], shape[len(shape)-1])
		}
	}
	return Array{Shape: shape, Data: out}, nil
}

// gemm is ONNX Gemm: alpha*op(A)*op(B) + beta*C with C broadcast to [M, N].
func gemm(a, b Array, c *Array, alpha, beta float64, transA, transB bool) (Array, error) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return Array{}, fmt.Errorf("gemm needs 2-D A and B, got %v and %v", a.Shape, b.Shape)
	}
	m, k := a.Shape[0], a.Shape[1]
	at := func(i, p int) float64 { return a.Data[i*k+p] }
	if transA {
		m, k = k, m
		at = func(i, p int) float64 { return a.Data[p*m+i] }
	}
	k2, n := b.Shape[0], b.Shape[1]
	bt := func(p, j int) float64 { return b.Data[p*n+j] }
	if transB {
		k2, n = n, k2
		bt = func(p, j int) float64 { return b.Data[j*k2+p] }
	}
	if k != k2 {
		return Array{}, fmt.Errorf("gemm inner dimensions differ: A %v, B %v", a.Shape, b.Shape)
	}
	out := NewArray([]int{m, n})
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += at(i, p) * bt(p, j)
			}
			out.Data[i*n+j] = alpha * s
		}
	}
	if c != nil {
		bc, err := BroadcastShapes([]int{m, n}, c.Shape)
		if err != nil || !sameShape(bc, []int{m, n}) {
			return Array{}, fmt.Errorf("gemm bias %v does not broadcast to [%d %d]", c.Shape, m, n)
		}
		return broadcastBinary(out, *c, func(x, y float64) float64 { return x + beta*y })
	}
	return out, nil
}
