package ir

import (
	"fmt"
	"math"
)

// evalNN is the float64 semantics of the ops of ops_nn.go (called by evalOp
// for the codes it does not handle itself). Attributes are re-checked with
// the type rules' helpers, so a malformed op gives an error, not a panic.
func evalNN(f *Func, o *Op, args []Array) (Array, error) {
	switch o.Code {
	case "conv":
		var b *Array
		if len(args) == 3 {
			b = &args[2]
		}
		return evalConv(o, args[0], args[1], b)
	case "averagepool", "maxpool":
		return evalPool(o, args[0])
	case "globalaveragepool", "globalmaxpool":
		return evalGlobalPool(o, args[0])
	case "batchnorm":
		return evalBatchNorm(o, args)
	case "transpose":
		return evalTranspose(o, args[0])
	case "concat":
		return evalConcat(o, args)
	case "pad":
		return evalPad(o, args[0])
	case "clip":
		lo, hi, err := clipBounds(o)
		if err != nil {
			return Array{}, err
		}
		return unary(args[0], func(x float64) float64 { return math.Min(math.Max(x, lo), hi) }), nil
	case "sum", "mean":
		acc := args[0]
		for _, a := range args[1:] {
			var err error
			if acc, err = broadcastBinary(acc, a, func(x, y float64) float64 { return x + y }); err != nil {
				return Array{}, err
			}
		}
		if o.Code == "mean" {
			n := float64(len(args))
			return unary(acc, func(x float64) float64 { return x / n }), nil
		}
		if len(args) == 1 {
			acc = unary(acc, func(x float64) float64 { return x })
		}
		return acc, nil
	case "pow":
		return broadcastBinary(args[0], args[1], math.Pow)
	case "prelu":
		if s, err := BroadcastShapes(args[0].Shape, args[1].Shape); err != nil || !sameShape(s, args[0].Shape) {
			return Array{}, fmt.Errorf("prelu slope %v does not broadcast to the input %v", args[1].Shape, args[0].Shape)
		}
		return broadcastBinary(args[0], args[1], func(x, s float64) float64 {
			if x < 0 {
				return s * x
			}
			return x
		})
	case "softmax", "logsoftmax":
		axis, err := attrAxis(o, "axis", len(args[0].Shape), -1)
		if err != nil {
			return Array{}, err
		}
		return softmax(args[0], axis, o.Code == "logsoftmax"), nil
	case "argmax":
		return evalArgMax(o, args[0])
	}
	fn, err := nnUnary(o)
	if err != nil {
		return Array{}, err
	}
	return unary(args[0], fn), nil
}

// nnUnary returns the element-wise function of a unary op.
func nnUnary(o *Op) (func(float64) float64, error) {
	switch o.Code {
	case "sigmoid":
		return sigmoid, nil
	case "tanh":
		return math.Tanh, nil
	case "erf":
		return math.Erf, nil
	case "softplus":
		return softplus, nil
	case "exp":
		return math.Exp, nil
	case "log":
		return math.Log, nil
	case "sqrt":
		return math.Sqrt, nil
	case "abs":
		return math.Abs, nil
	case "reciprocal":
		return func(x float64) float64 { return 1 / x }, nil
	case "sign":
		return func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0 (keeping its sign bit) or NaN
		}, nil
	case "mish":
		return func(x float64) float64 { return x * math.Tanh(softplus(x)) }, nil
	case "hardswish":
		return func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }, nil
	case "leakyrelu":
		alpha, err := attrReal(o, "alpha", float64(float32(0.01)))
		if err != nil {
			return nil, err
		}
		return func(x float64) float64 {
			if x < 0 {
				return alpha * x
			}
			return x
		}, nil
	case "elu":
		alpha, err := attrReal(o, "alpha", 1)
		if err != nil {
			return nil, err
		}
		return func(x float64) float64 {
			if x > 0 {
				return x
			}
			return alpha * math.Expm1(x)
		}, nil
	case "selu":
		alpha, err := attrReal(o, "alpha", 1.67326319217681884765625)
		if err != nil {
			return nil, err
		}
		gamma, err := attrReal(o, "gamma", 1.05070102214813232421875)
		if err != nil {
			return nil, err
		}
		return func(x float64) float64 {
			if x > 0 {
				return gamma * x
			}
			return gamma * alpha * math.Expm1(x)
		}, nil
	case "hardsigmoid":
		alpha, err := attrReal(o, "alpha", float64(float32(0.2)))
		if err != nil {
			return nil, err
		}
		beta, err := attrReal(o, "beta", 0.5)
		if err != nil {
			return nil, err
		}
		return func(x float64) float64 { return math.Max(0, math.Min(1, alpha*x+beta)) }, nil
	case "gelu":
		switch a := o.Str("approximate", "none"); a {
		case "none":
			return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, nil
		case "tanh":
			k := math.Sqrt(2 / math.Pi)
			return func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))) }, nil
		default:
			return nil, fmt.Errorf("gelu approximate %q: want none or tanh", a)
		}
	}
	return nil, fmt.Errorf("no interpreter semantics for tensor op %q", o.Code)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+exp(x)) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// next advances the row-major multi-index idx within dims; false at the end.
func next(idx, dims []int) bool {
	for d := len(dims) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < dims[d] {
			return true
		}
		idx[d] = 0
	}
	return false
}

// windowTaps lists, per spatial dim and output index along it, the kernel
// indices whose tapped input position is inside the input (not padding).
// Memory is the sum over the dims of out*kernel, and iterating only the
// valid taps bounds the work by the input size, whatever the padding.
type windowTaps struct {
	w     Window
	start [][]int // start[i][o] .. start[i][o+1]: the taps of output o along dim i
	k, p  [][]int // kernel index and input position of each tap
}

func newWindowTaps(w Window) *windowTaps {
	n := len(w.In)
	t := &windowTaps{w: w, start: make([][]int, n), k: make([][]int, n), p: make([][]int, n)}
	for i := 0; i < n; i++ {
		t.start[i] = make([]int, w.Out[i]+1)
		for o := 0; o < w.Out[i]; o++ {
			base := o*w.Strides[i] - w.Begin[i]
			k0, k1 := kRange(base, w.Dilations[i], 0, w.In[i], w.Kernel[i])
			for k := k0; k < k1; k++ {
				t.k[i] = append(t.k[i], k)
				t.p[i] = append(t.p[i], base+k*w.Dilations[i])
			}
			t.start[i][o+1] = len(t.k[i])
		}
	}
	return t
}

// kRange returns the kernel indices k in [0, n) with lo <= base+k*d < hi
// (d >= 1) as the range [k0, k1).
func kRange(base, d, lo, hi, n int) (int, int) {
	if hi-1 < base {
		return 0, 0
	}
	k0, k1 := 0, min(n, (hi-1-base)/d+1)
	if base < lo {
		k0 = (lo - base + d - 1) / d
	}
	if k0 > k1 {
		k0 = k1
	}
	return k0, k1
}

// tap is one valid tap: the flat kernel offset and the flat input offset
// within one spatial plane.
type tap struct{ k, in int }

// at returns the valid taps of the output position o (a multi-index), using
// buf and spare as storage.
func (t *windowTaps) at(o []int, buf, spare []tap) ([]tap, []tap) {
	buf = append(buf[:0], tap{})
	for i := range o {
		lo, hi := t.start[i][o[i]], t.start[i][o[i]+1]
		spare = spare[:0]
		for _, b := range buf {
			for j := lo; j < hi; j++ {
				spare = append(spare, tap{b.k*t.w.Kernel[i] + t.k[i][j], b.in*t.w.In[i] + t.p[i][j]})
			}
		}
		buf, spare = spare, buf
	}
	return buf, spare
}

func evalConv(o *Op, x, w Array, b *Array) (Array, error) {
	var bs []int
	if b != nil {
		bs = b.Shape
	}
	win, group, err := ConvGeometry(o, x.Shape, w.Shape, bs)
	if err != nil {
		return Array{}, err
	}
	n, c, m := x.Shape[0], x.Shape[1], w.Shape[0]
	cg, mg := c/group, m/group
	wt := newWindowTaps(win)
	nOut, nK, plane := NumElements(win.Out), NumElements(win.Kernel), NumElements(win.In)
	out := NewArray(append([]int{n, m}, win.Out...))
	pos := make([]int, len(win.Out))
	var taps, spare []tap
	for of := 0; of < nOut; of++ {
		taps, spare = wt.at(pos, taps, spare)
		for s := 0; s < n; s++ {
			for oc := 0; oc < m; oc++ {
				acc := 0.0
				if b != nil {
					acc = b.Data[oc]
				}
				g := oc / mg
				for ci := 0; ci < cg; ci++ {
					src := x.Data[(s*c+g*cg+ci)*plane:]
					ker := w.Data[(oc*cg+ci)*nK:]
					for _, t := range taps {
						acc += ker[t.k] * src[t.in]
					}
				}
				out.Data[(s*m+oc)*nOut+of] = acc
			}
		}
		next(pos, win.Out)
	}
	return out, nil
}

func evalPool(o *Op, x Array) (Array, error) {
	win, err := PoolGeometry(o, x.Shape)
	if err != nil {
		return Array{}, err
	}
	wt := newWindowTaps(win)
	nOut, plane := NumElements(win.Out), NumElements(win.In)
	// the divisor with count_include_pad: the taps inside the explicitly
	// padded input, a product over the spatial dims
	includePad, _ := attrFlag(o, "count_include_pad", 0)
	includePad = includePad && o.Code == "averagepool"
	padCount := func(pos []int) float64 {
		cnt := 1
		for i, oi := range pos {
			k0, k1 := kRange(oi*win.Strides[i]-win.Begin[i], win.Dilations[i], -win.Begin[i], win.In[i]+win.End[i], win.Kernel[i])
			cnt *= k1 - k0
		}
		return float64(cnt)
	}
	n, c := x.Shape[0], x.Shape[1]
	out := NewArray(append([]int{n, c}, win.Out...))
	pos := make([]int, len(win.Out))
	var taps, spare []tap
	for of := 0; of < nOut; of++ {
		taps, spare = wt.at(pos, taps, spare)
		div := float64(len(taps))
		if includePad {
			div = padCount(pos)
		}
		for p := 0; p < n*c; p++ {
			src := x.Data[p*plane:]
			if o.Code == "maxpool" {
				m := math.Inf(-1)
				for _, t := range taps {
					if v := src[t.in]; v > m || math.IsNaN(v) {
						m = v
					}
				}
				out.Data[p*nOut+of] = m
				continue
			}
			sum := 0.0
			for _, t := range taps {
				sum += src[t.in]
			}
			out.Data[p*nOut+of] = sum / div
		}
		next(pos, win.Out)
	}
	return out, nil
}

func evalGlobalPool(o *Op, x Array) (Array, error) {
	if len(x.Shape) < 3 {
		return Array{}, fmt.Errorf("%s input %v: need [N, C, D1, ...]", o.Code, x.Shape)
	}
	shape := append([]int{}, x.Shape...)
	for i := 2; i < len(shape); i++ {
		shape[i] = 1
	}
	plane := NumElements(x.Shape[2:])
	if plane == 0 {
		return Array{}, fmt.Errorf("%s of an empty spatial dim in %v", o.Code, x.Shape)
	}
	out := NewArray(shape)
	for p := range out.Data {
		src := x.Data[p*plane : (p+1)*plane]
		if o.Code == "globalmaxpool" {
			m := math.Inf(-1)
			for _, v := range src {
				if v > m || math.IsNaN(v) {
					m = v
				}
			}
			out.Data[p] = m
			continue
		}
		s := 0.0
		for _, v := range src {
			s += v
		}
		out.Data[p] = s / float64(plane)
	}
	return out, nil
}

func evalBatchNorm(o *Op, args []Array) (Array, error) {
	x := args[0]
	if len(x.Shape) < 2 {
		return Array{}, fmt.Errorf("batchnorm input %v: need [N, C, ...]", x.Shape)
	}
	c := x.Shape[1]
	for i, a := range args[1:] {
		if len(a.Shape) != 1 || a.Shape[0] != c {
			return Array{}, fmt.Errorf("batchnorm operand %d has shape %v, want [%d]", i+1, a.Shape, c)
		}
	}
	eps, err := attrReal(o, "epsilon", 1e-5)
	if err != nil {
		return Array{}, err
	}
	scale, bias, mean, vr := args[1].Data, args[2].Data, args[3].Data, args[4].Data
	inner := NumElements(x.Shape[2:])
	out := NewArray(x.Shape)
	for i := range out.Data {
		ch := (i / inner) % c
		out.Data[i] = scale[ch]*(x.Data[i]-mean[ch])/math.Sqrt(vr[ch]+eps) + bias[ch]
	}
	return out, nil
}

func evalTranspose(o *Op, x Array) (Array, error) {
	perm, err := permOf(o, len(x.Shape))
	if err != nil {
		return Array{}, err
	}
	n := len(x.Shape)
	inStride := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		inStride[i] = s
		s *= x.Shape[i]
	}
	shape, stride := make([]int, n), make([]int, n)
	for i, d := range perm {
		shape[i], stride[i] = x.Shape[d], inStride[d]
	}
	out := NewArray(shape)
	if len(out.Data) == 0 {
		return out, nil
	}
	idx := make([]int, n)
	for k := range out.Data {
		src := 0
		for i, v := range idx {
			src += v * stride[i]
		}
		out.Data[k] = x.Data[src]
		next(idx, shape)
	}
	return out, nil
}

func evalConcat(o *Op, args []Array) (Array, error) {
	shapes := make([][]int, len(args))
	for i, a := range args {
		shapes[i] = a.Shape
	}
	shape, axis, err := concatShape(o, shapes)
	if err != nil {
		return Array{}, err
	}
	outer, inner := NumElements(shape[:axis]), NumElements(shape[axis+1:])
	out := NewArray(shape)
	k := 0
	for i := 0; i < outer; i++ {
		for _, a := range args {
			blk := a.Shape[axis] * inner
			k += copy(out.Data[k:], a.Data[i*blk:(i+1)*blk])
		}
	}
	return out, nil
}

func evalPad(o *Op, x Array) (Array, error) {
	begin, _, shape, mode, err := PadGeometry(o, x.Shape)
	if err != nil {
		return Array{}, err
	}
	value, _ := attrReal(o, "value", 0)
	n := len(shape)
	inStride := make([]int, n)
	s := 1
	for i := n - 1; i >= 0; i-- {
		inStride[i] = s
		s *= x.Shape[i]
	}
	out := NewArray(shape)
	if len(out.Data) == 0 {
		return out, nil
	}
	idx := make([]int, n)
	for k := range out.Data {
		src, inside := 0, true
		for i, v := range idx {
			p, d := v-begin[i], x.Shape[i]
			if p < 0 || p >= d {
				switch mode {
				case "constant":
					inside = false
				case "edge":
					p = min(max(p, 0), d-1)
				case "reflect":
					if p < 0 {
						p = -p
					} else {
						p = 2*(d-1) - p
					}
				case "wrap":
					p = ((p % d) + d) % d
				}
			}
			if !inside {
				break
			}
			src += p * inStride[i]
		}
		if inside {
			out.Data[k] = x.Data[src]
		} else {
			out.Data[k] = value
		}
		next(idx, shape)
	}
	return out, nil
}

// softmax along axis (log-softmax when logOut), stabilized by the maximum.
func softmax(x Array, axis int, logOut bool) Array {
	outer, d, inner := NumElements(x.Shape[:axis]), x.Shape[axis], NumElements(x.Shape[axis+1:])
	out := NewArray(x.Shape)
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*d*inner + j
			m := math.Inf(-1)
			for k := 0; k < d; k++ {
				m = math.Max(m, x.Data[base+k*inner])
			}
			sum := 0.0
			for k := 0; k < d; k++ {
				sum += math.Exp(x.Data[base+k*inner] - m)
			}
			for k := 0; k < d; k++ {
				v := x.Data[base+k*inner] - m
				if logOut {
					out.Data[base+k*inner] = v - math.Log(sum)
				} else {
					out.Data[base+k*inner] = math.Exp(v) / sum
				}
			}
		}
	}
	return out
}

func evalArgMax(o *Op, x Array) (Array, error) {
	shape, axis, err := argMaxShape(o, x.Shape)
	if err != nil {
		return Array{}, err
	}
	last, _ := attrFlag(o, "select_last_index", 0)
	outer, d, inner := NumElements(x.Shape[:axis]), x.Shape[axis], NumElements(x.Shape[axis+1:])
	out := NewArray(shape)
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*d*inner + j
			best, bi := x.Data[base], 0
			for k := 1; k < d; k++ {
				v := x.Data[base+k*inner]
				if v > best || (last && v == best) || (math.IsNaN(v) && !math.IsNaN(best)) {
					best, bi = v, k
				}
			}
			out.Data[i*inner+j] = float64(bi)
		}
	}
	return out, nil
}
