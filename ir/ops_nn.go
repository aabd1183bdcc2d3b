package ir

import (
	"fmt"
	"math"
)

// Tensor-level neural-network ops imported from ONNX: convolution, pooling,
// normalization, shape manipulation and element-wise activations. Their
// float64 semantics are in interp_nn.go. Every attribute is explicit and
// resolved by the frontend (auto_pad into pads, negative axes into
// non-negative ones, opset-dependent defaults into values); the type rules
// accept absent optional attributes with the defaults documented per row.
//
// Conventions shared by the windowed ops (conv, averagepool, maxpool), on an
// input [N, C, D1, ..., Dn] with n >= 1 spatial dims:
//   - strides, dilations: []int64 of n values >= 1 (default all 1);
//   - pads: []int64 of 2n values >= 0, the n begins then the n ends
//     (ONNX order x1_begin, x2_begin, ..., x1_end, x2_end; default all 0);
//   - the window along dim i covers (k_i-1)*dilations_i+1 positions of the
//     padded input; output dim = floor((D_i + begin_i + end_i - ext_i) /
//     strides_i) + 1, or with ceil_mode=1 the ceiling, minus one when the last
//     window would start in the end padding (ONNX >= 19, PyTorch).

// maxNNElements bounds the element count of a result shape computed by these
// type rules (against overflow; the frontend applies a tighter limit).
const maxNNElements = 1 << 40

// maxNNAttr bounds integer window attributes (kernel, strides, pads, ...).
const maxNNAttr = 1 << 30

func init() {
	def(OpInfo{Name: "conv", Level: TensorLevel, MinArgs: 2, MaxArgs: 3, Infer: inferConv,
		Doc: "ONNX Conv (cross-correlation): conv(X[N,C,D1..Dn], W[M,C/group,k1..kn], B[M]?) -> [N,M,O1..On]; " +
			"{strides, pads (begins then ends), dilations: []int64; group: int64 >= 1, C and M divisible by it (group = C = M: depthwise)}; " +
			"the kernel shape is W's; padding is zeros"})
	def(OpInfo{Name: "averagepool", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferPool,
		Doc: "ONNX AveragePool on [N,C,D1..Dn]: {kernel_shape, strides, pads (begins then ends), dilations: []int64; " +
			"ceil_mode: int64 0/1; count_include_pad: int64 0/1 (1: divide by the taps inside the explicitly padded input, " +
			"not the ceil_mode overhang; 0: by the taps inside the input)}"})
	def(OpInfo{Name: "maxpool", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferPool,
		Doc: "ONNX MaxPool (values only) on [N,C,D1..Dn]: {kernel_shape, strides, pads (begins then ends), dilations: []int64; " +
			"ceil_mode: int64 0/1}; padded positions are ignored"})
	def(OpInfo{Name: "globalaveragepool", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferGlobalPool,
		Doc: "mean over the spatial dims: [N,C,D1..Dn] -> [N,C,1..1]"})
	def(OpInfo{Name: "globalmaxpool", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferGlobalPool,
		Doc: "max over the spatial dims: [N,C,D1..Dn] -> [N,C,1..1]"})
	def(OpInfo{Name: "batchnorm", Level: TensorLevel, MinArgs: 5, MaxArgs: 5, Infer: inferBatchNorm,
		Doc: "inference BatchNormalization: batchnorm(X[N,C,...], scale[C], B[C], mean[C], var[C]) = " +
			"scale*(X-mean)/sqrt(var+epsilon)+B per channel (dim 1); {epsilon: float64, default 1e-5}"})
	def(OpInfo{Name: "transpose", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferTranspose,
		Doc: "permute the dims: output dim i is input dim perm[i]; {perm: []int64, a permutation of 0..rank-1}"})
	def(OpInfo{Name: "concat", Level: TensorLevel, MinArgs: 1, MaxArgs: -1, Infer: inferConcat,
		Doc: "concatenate along {axis: int64 in [0, rank)}; the other dims must agree"})
	def(OpInfo{Name: "pad", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferPad,
		Doc: "ONNX Pad: {pads: []int64 of 2*rank values, begins then ends (negative crops, constant mode only); " +
			"mode: string constant (default) | reflect (pads <= dim-1; the edge value is not repeated) | edge | wrap; " +
			"value: float64 for constant mode (default 0)}"})
	def(OpInfo{Name: "clip", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferClip,
		Doc: "min(max(x, min), max): {min, max: float64, each optional (absent: unbounded)}; min > max gives max"})
	def(OpInfo{Name: "sum", Level: TensorLevel, MinArgs: 1, MaxArgs: -1, Infer: inferVariadic,
		Doc: "element-wise sum of the operands with numpy broadcasting"})
	def(OpInfo{Name: "mean", Level: TensorLevel, MinArgs: 1, MaxArgs: -1, Infer: inferVariadic,
		Doc: "element-wise mean of the operands with numpy broadcasting"})
	def(OpInfo{Name: "pow", Level: TensorLevel, MinArgs: 2, MaxArgs: 2, Infer: inferBroadcast,
		Doc: "x^y element-wise with numpy broadcasting (math.Pow; the frontend requires a constant exponent)"})
	def(OpInfo{Name: "prelu", Level: TensorLevel, MinArgs: 2, MaxArgs: 2, Infer: inferPRelu,
		Doc: "prelu(x, slope): x if x >= 0 else slope*x; slope broadcasts to x's shape (unidirectional)"})
	for _, u := range []struct{ name, doc string }{
		{"sigmoid", "1/(1+exp(-x))"},
		{"tanh", "tanh(x)"},
		{"erf", "the error function erf(x)"},
		{"softplus", "log(1+exp(x))"},
		{"exp", "exp(x)"},
		{"log", "natural logarithm log(x)"},
		{"sqrt", "sqrt(x)"},
		{"abs", "|x|"},
		{"reciprocal", "1/x"},
		{"sign", "-1, 0 or 1 by the sign of x"},
		{"mish", "x*tanh(softplus(x))"},
		{"hardswish", "x*max(0, min(1, x/6+0.5))"},
	} {
		def(OpInfo{Name: u.name, Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame, Doc: u.doc})
	}
	def(OpInfo{Name: "leakyrelu", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame,
		Doc: "x if x >= 0 else alpha*x: {alpha: float64, default 0.01}"})
	def(OpInfo{Name: "elu", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame,
		Doc: "x if x > 0 else alpha*(exp(x)-1): {alpha: float64, default 1}"})
	def(OpInfo{Name: "selu", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame,
		Doc: "gamma*x if x > 0 else gamma*alpha*(exp(x)-1): {alpha: float64, default 1.67326319217681884765625; gamma: float64, default 1.05070102214813232421875}"})
	def(OpInfo{Name: "hardsigmoid", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferSame,
		Doc: "max(0, min(1, alpha*x+beta)): {alpha: float64, default 0.2; beta: float64, default 0.5}"})
	def(OpInfo{Name: "gelu", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferGelu,
		Doc: "{approximate: string none (default): x/2*(1+erf(x/sqrt(2))) | tanh: x/2*(1+tanh(sqrt(2/pi)*(x+0.044715x^3)))}"})
	def(OpInfo{Name: "softmax", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferAxisSame,
		Doc: "exp(x)/sum(exp(x)) along the single dim {axis: int64 in [0, rank)} (ONNX >= 13 semantics; the frontend reshapes older opsets' 2-D coercion)"})
	def(OpInfo{Name: "logsoftmax", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferAxisSame,
		Doc: "x - log(sum(exp(x))) along the single dim {axis: int64 in [0, rank)}"})
	def(OpInfo{Name: "argmax", Level: TensorLevel, MinArgs: 1, MaxArgs: 1, Infer: inferArgMax,
		Doc: "index of the maximum along {axis: int64 in [0, rank)} as a float64 value; {keepdims: int64 0/1, default 1: " +
			"keep axis as a dim of size 1; select_last_index: int64 0/1, default 0: which index among equal maxima}"})
}

// attrInts returns an []int64 attribute of n values in [lo, maxNNAttr] as
// ints, or n copies of def when absent.
func attrIntList(op *Op, name string, n int, lo, def int) ([]int, error) {
	out := make([]int, n)
	v, present := op.Attrs[name]
	if !present {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	l, ok := v.([]int64)
	if !ok {
		return nil, fmt.Errorf("attribute %s is %T, want []int64", name, v)
	}
	if len(l) != n {
		return nil, fmt.Errorf("attribute %s has %d values, want %d", name, len(l), n)
	}
	for i, x := range l {
		if x < int64(lo) || x > maxNNAttr {
			return nil, fmt.Errorf("attribute %s = %v: value %d out of range [%d, %d]", name, l, x, lo, maxNNAttr)
		}
		out[i] = int(x)
	}
	return out, nil
}

// attrFlag returns a 0/1 int64 attribute (def when absent).
func attrFlag(op *Op, name string, def int64) (bool, error) {
	v, present := op.Attrs[name]
	if !present {
		return def != 0, nil
	}
	x, ok := v.(int64)
	if !ok || (x != 0 && x != 1) {
		return false, fmt.Errorf("attribute %s = %v, want int64 0 or 1", name, v)
	}
	return x == 1, nil
}

// attrAxis returns an int64 attribute in [0, rank).
func attrAxis(op *Op, name string, rank int, def int64) (int, error) {
	v, present := op.Attrs[name]
	x := def
	if !present && def < 0 {
		return 0, fmt.Errorf("missing %s", name)
	}
	if present {
		var ok bool
		if x, ok = v.(int64); !ok {
			return 0, fmt.Errorf("attribute %s is %T, want int64", name, v)
		}
	}
	if x < 0 || x >= int64(rank) {
		return 0, fmt.Errorf("%s %d out of range for rank %d", name, x, rank)
	}
	return int(x), nil
}

// attrReal returns a float64 attribute (int64 converts; def when absent).
func attrReal(op *Op, name string, def float64) (float64, error) {
	switch v := op.Attrs[name].(type) {
	case nil:
		return def, nil
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	default:
		return 0, fmt.Errorf("attribute %s is %T, want float64", name, v)
	}
}

func checkElements(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in %v", shape)
		}
		if d > 0 && n > maxNNElements/d {
			return fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return nil
}

// Window is the resolved geometry of a windowed op (conv, averagepool,
// maxpool) over the spatial dims of its input.
type Window struct {
	In, Kernel, Strides, Dilations, Begin, End, Out []int
}

// PoolOutDim is the output size of one spatial dim of a windowed op (see the
// conventions at the top of ops_nn.go); it returns -1 when the window is
// larger than the padded input.
func PoolOutDim(in, k, stride, begin, end, dilation int, ceil bool) int {
	ext := (k-1)*dilation + 1
	span := in + begin + end - ext
	if span < 0 || stride < 1 {
		return -1
	}
	out := span/stride + 1
	if ceil && span%stride != 0 {
		out++
		if (out-1)*stride >= in+begin {
			out--
		}
	}
	return out
}

// windowOf resolves the geometry of op on spatial dims in with the given
// kernel (kernel nil: read the kernel_shape attribute).
func windowOf(op *Op, in, kernel []int, ceil bool) (Window, error) {
	n := len(in)
	var w Window
	var err error
	w.In = in
	if kernel == nil {
		if w.Kernel, err = attrIntList(op, "kernel_shape", n, 1, -1); err != nil {
			return w, err
		}
		if _, ok := op.Attrs["kernel_shape"]; !ok {
			return w, fmt.Errorf("missing kernel_shape")
		}
	} else {
		w.Kernel = kernel
		for _, k := range kernel {
			if k < 1 || k > maxNNAttr {
				return w, fmt.Errorf("kernel shape %v out of range", kernel)
			}
		}
	}
	if w.Strides, err = attrIntList(op, "strides", n, 1, 1); err != nil {
		return w, err
	}
	if w.Dilations, err = attrIntList(op, "dilations", n, 1, 1); err != nil {
		return w, err
	}
	pads, err := attrIntList(op, "pads", 2*n, 0, 0)
	if err != nil {
		return w, err
	}
	w.Begin, w.End = pads[:n], pads[n:]
	w.Out = make([]int, n)
	for i := range in {
		w.Out[i] = PoolOutDim(in[i], w.Kernel[i], w.Strides[i], w.Begin[i], w.End[i], w.Dilations[i], ceil)
		if w.Out[i] < 1 {
			return w, fmt.Errorf("spatial dim %d: window of %d (dilation %d) larger than the padded input %d+%d+%d",
				i, w.Kernel[i], w.Dilations[i], w.Begin[i], in[i], w.End[i])
		}
	}
	return w, nil
}

// ConvGeometry checks conv operands of shapes x, w (and bias b, nil when
// absent) against op's attributes and returns the window and the group.
func ConvGeometry(op *Op, x, w, b []int) (Window, int, error) {
	if len(x) < 3 {
		return Window{}, 0, fmt.Errorf("conv input %v: need [N, C, D1, ...] with at least one spatial dim", x)
	}
	if len(w) != len(x) {
		return Window{}, 0, fmt.Errorf("conv weight %v has rank %d, input %v has rank %d", w, len(w), x, len(x))
	}
	g := op.Int("group", 1)
	if g < 1 || g > maxNNAttr {
		return Window{}, 0, fmt.Errorf("conv group %d < 1", g)
	}
	group := int(g)
	c, m := x[1], w[0]
	if c%group != 0 || m%group != 0 || w[1]*group != c {
		return Window{}, 0, fmt.Errorf("conv with group %d: input channels %d and weight %v do not fit", group, c, w)
	}
	if b != nil && (len(b) != 1 || b[0] != m) {
		return Window{}, 0, fmt.Errorf("conv bias %v, want [%d]", b, m)
	}
	win, err := windowOf(op, x[2:], w[2:], false)
	return win, group, err
}

func inferConv(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	var b []int
	if len(op.Args) == 3 {
		b = op.Args[2].Type.Shape
	}
	x, w := op.Args[0].Type.Shape, op.Args[1].Type.Shape
	win, _, err := ConvGeometry(op, x, w, b)
	if err != nil {
		return nil, err
	}
	out := append([]int{x[0], w[0]}, win.Out...)
	if err := checkElements(out); err != nil {
		return nil, err
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

// PoolGeometry checks a pooling op on an input of shape x.
func PoolGeometry(op *Op, x []int) (Window, error) {
	if len(x) < 3 {
		return Window{}, fmt.Errorf("%s input %v: need [N, C, D1, ...] with at least one spatial dim", op.Code, x)
	}
	ceil, err := attrFlag(op, "ceil_mode", 0)
	if err != nil {
		return Window{}, err
	}
	if op.Code == "averagepool" {
		if _, err := attrFlag(op, "count_include_pad", 0); err != nil {
			return Window{}, err
		}
	}
	return windowOf(op, x[2:], nil, ceil)
}

func inferPool(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	x := op.Args[0].Type.Shape
	win, err := PoolGeometry(op, x)
	if err != nil {
		return nil, err
	}
	out := append([]int{x[0], x[1]}, win.Out...)
	if err := checkElements(out); err != nil {
		return nil, err
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

func inferGlobalPool(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	x := op.Args[0].Type.Shape
	if len(x) < 3 {
		return nil, fmt.Errorf("%s input %v: need [N, C, D1, ...]", op.Code, x)
	}
	out := make([]int, len(x))
	copy(out, x[:2])
	for i := 2; i < len(x); i++ {
		if x[i] == 0 {
			return nil, fmt.Errorf("%s of an empty spatial dim in %v", op.Code, x)
		}
		out[i] = 1
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

func inferBatchNorm(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	x := op.Args[0].Type.Shape
	if len(x) < 2 {
		return nil, fmt.Errorf("batchnorm input %v: need [N, C, ...]", x)
	}
	for i, what := range []string{"scale", "bias", "mean", "var"} {
		s := op.Args[i+1].Type.Shape
		if len(s) != 1 || s[0] != x[1] {
			return nil, fmt.Errorf("batchnorm %s %v, want [%d]", what, s, x[1])
		}
	}
	if _, err := attrReal(op, "epsilon", 1e-5); err != nil {
		return nil, err
	}
	return []Type{Tensor(x, anySecret(op))}, nil
}

// permOf checks the perm attribute against rank.
func permOf(op *Op, rank int) ([]int, error) {
	p, err := attrIntList(op, "perm", rank, 0, -1)
	if err != nil {
		return nil, err
	}
	if _, ok := op.Attrs["perm"]; !ok {
		return nil, fmt.Errorf("missing perm")
	}
	seen := make([]bool, rank)
	for _, d := range p {
		if d >= rank || seen[d] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", op.Ints("perm"), rank-1)
		}
		seen[d] = true
	}
	return p, nil
}

func inferTranspose(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	x := op.Args[0].Type.Shape
	p, err := permOf(op, len(x))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(x))
	for i, d := range p {
		out[i] = x[d]
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

// concatShape checks the operand shapes of concat and returns the result's.
func concatShape(op *Op, shapes [][]int) ([]int, int, error) {
	first := shapes[0]
	axis, err := attrAxis(op, "axis", len(first), -1)
	if err != nil {
		return nil, 0, err
	}
	out := append([]int{}, first...)
	for k, s := range shapes[1:] {
		if len(s) != len(first) {
			return nil, 0, fmt.Errorf("concat operand %d has shape %v, operand 0 %v", k+1, s, first)
		}
		for i := range s {
			if i != axis && s[i] != first[i] {
				return nil, 0, fmt.Errorf("concat operand %d has shape %v, operand 0 %v (axis %d)", k+1, s, first, axis)
			}
		}
		out[axis] += s[axis]
	}
	if err := checkElements(out); err != nil {
		return nil, 0, err
	}
	return out, axis, nil
}

func inferConcat(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	shapes := make([][]int, len(op.Args))
	for i, a := range op.Args {
		shapes[i] = a.Type.Shape
	}
	out, _, err := concatShape(op, shapes)
	if err != nil {
		return nil, err
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

// PadGeometry checks pad's attributes on an input of shape x and returns the
// begins, the ends, the output shape and the mode.
func PadGeometry(op *Op, x []int) (begin, end, out []int, mode string, err error) {
	n := len(x)
	v, ok := op.Attrs["pads"].([]int64)
	if !ok || len(v) != 2*n {
		return nil, nil, nil, "", fmt.Errorf("pads %v: want %d values for rank %d", op.Attrs["pads"], 2*n, n)
	}
	mode = op.Str("mode", "constant")
	switch mode {
	case "constant", "reflect", "edge", "wrap":
	default:
		return nil, nil, nil, "", fmt.Errorf("pad mode %q: want constant, reflect, edge or wrap", mode)
	}
	if _, err := attrReal(op, "value", 0); err != nil {
		return nil, nil, nil, "", err
	}
	begin, end, out = make([]int, n), make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		b, e := v[i], v[n+i]
		if b < -maxNNAttr || b > maxNNAttr || e < -maxNNAttr || e > maxNNAttr {
			return nil, nil, nil, "", fmt.Errorf("pads %v out of range", v)
		}
		begin[i], end[i] = int(b), int(e)
		out[i] = x[i] + begin[i] + end[i]
		if out[i] < 0 {
			return nil, nil, nil, "", fmt.Errorf("pads %v crop more than dim %d of %v", v, i, x)
		}
		if mode == "constant" {
			continue
		}
		// the other modes copy input values: no cropping, and a source to copy
		if begin[i] < 0 || end[i] < 0 {
			return nil, nil, nil, "", fmt.Errorf("negative pads %v need constant mode (mode %s)", v, mode)
		}
		if (begin[i] > 0 || end[i] > 0) && x[i] == 0 {
			return nil, nil, nil, "", fmt.Errorf("%s padding of the empty dim %d of %v", mode, i, x)
		}
		if mode == "reflect" && (begin[i] > x[i]-1 || end[i] > x[i]-1) {
			return nil, nil, nil, "", fmt.Errorf("reflect pads %v exceed dim %d of %v minus one", v, i, x)
		}
	}
	if err := checkElements(out); err != nil {
		return nil, nil, nil, "", err
	}
	return begin, end, out, mode, nil
}

func inferPad(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	_, _, out, _, err := PadGeometry(op, op.Args[0].Type.Shape)
	if err != nil {
		return nil, err
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}

func clipBounds(op *Op) (lo, hi float64, err error) {
	if lo, err = attrReal(op, "min", math.Inf(-1)); err != nil {
		return 0, 0, err
	}
	if hi, err = attrReal(op, "max", math.Inf(1)); err != nil {
		return 0, 0, err
	}
	return lo, hi, nil
}

func inferClip(f *Func, op *Op) ([]Type, error) {
	if _, _, err := clipBounds(op); err != nil {
		return nil, err
	}
	return inferSame(f, op)
}

func inferVariadic(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	s := op.Args[0].Type.Shape
	for _, a := range op.Args[1:] {
		var err error
		if s, err = BroadcastShapes(s, a.Type.Shape); err != nil {
			return nil, err
		}
	}
	return []Type{Tensor(s, anySecret(op))}, nil
}

func inferPRelu(f *Func, op *Op) ([]Type, error) {
	ts, err := inferBroadcast(f, op)
	if err != nil {
		return nil, err
	}
	if !sameShape(ts[0].Shape, op.Args[0].Type.Shape) {
		return nil, fmt.Errorf("prelu slope %v does not broadcast to the input %v", op.Args[1].Type.Shape, op.Args[0].Type.Shape)
	}
	return ts, nil
}

func inferGelu(f *Func, op *Op) ([]Type, error) {
	switch a := op.Str("approximate", "none"); a {
	case "none", "tanh":
	default:
		return nil, fmt.Errorf("gelu approximate %q: want none or tanh", a)
	}
	return inferSame(f, op)
}

func inferAxisSame(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	if _, err := attrAxis(op, "axis", len(op.Args[0].Type.Shape), -1); err != nil {
		return nil, err
	}
	return inferSame(f, op)
}

// argMaxShape checks argmax's attributes on an input of shape x.
func argMaxShape(op *Op, x []int) ([]int, int, error) {
	axis, err := attrAxis(op, "axis", len(x), 0)
	if err != nil {
		return nil, 0, err
	}
	if x[axis] == 0 {
		return nil, 0, fmt.Errorf("argmax along an empty dim of %v", x)
	}
	keep, err := attrFlag(op, "keepdims", 1)
	if err != nil {
		return nil, 0, err
	}
	if _, err := attrFlag(op, "select_last_index", 0); err != nil {
		return nil, 0, err
	}
	out := append([]int{}, x...)
	if keep {
		out[axis] = 1
	} else {
		out = append(out[:axis], out[axis+1:]...)
	}
	return out, axis, nil
}

func inferArgMax(f *Func, op *Op) ([]Type, error) {
	if err := tensors(op); err != nil {
		return nil, err
	}
	out, _, err := argMaxShape(op, op.Args[0].Type.Shape)
	if err != nil {
		return nil, err
	}
	return []Type{Tensor(out, anySecret(op))}, nil
}
