package frontend

import (
	"math"

	"github.com/fhec/fhec/ir"
)

// Handlers of the neural-network ops (ir/ops_nn.go). Everything static is
// resolved here: auto_pad into explicit pads from the static input shape,
// negative axes, opset-dependent defaults and attribute-or-input forms;
// Squeeze and Unsqueeze become reshape.

func addNNHandlers(h map[string]handler) {
	for onnxName, code := range map[string]string{
		"Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Softplus": "softplus", "Exp": "exp",
		"Log": "log", "Sqrt": "sqrt", "Abs": "abs", "Reciprocal": "reciprocal", "Sign": "sign",
		"Mish": "mish", "HardSwish": "hardswish",
	} {
		h[onnxName] = unaryOp(code)
	}
	h["Conv"] = convConv
	h["AveragePool"] = poolOp("averagepool")
	h["MaxPool"] = poolOp("maxpool")
	h["GlobalAveragePool"] = unaryOp("globalaveragepool")
	h["GlobalMaxPool"] = unaryOp("globalmaxpool")
	h["BatchNormalization"] = convBatchNorm
	h["Transpose"] = convTranspose
	h["Squeeze"] = convSqueeze
	h["Unsqueeze"] = convUnsqueeze
	h["Concat"] = convConcat
	h["Pad"] = convPad
	h["Clip"] = convClip
	h["Sum"] = variadicOp("sum")
	h["Mean"] = variadicOp("mean")
	h["Pow"] = binaryOp("pow")
	h["PRelu"] = convPRelu
	h["LeakyRelu"] = floatAttrOp("leakyrelu", fattr{"alpha", 0.01})
	h["Elu"] = floatAttrOp("elu", fattr{"alpha", 1})
	h["Selu"] = floatAttrOp("selu", fattr{"alpha", 1.67326319217681884765625}, fattr{"gamma", 1.05070102214813232421875})
	h["HardSigmoid"] = floatAttrOp("hardsigmoid", fattr{"alpha", 0.2}, fattr{"beta", 0.5})
	h["Gelu"] = convGelu
	h["Softmax"] = softmaxOp("softmax")
	h["LogSoftmax"] = softmaxOp("logsoftmax")
	h["ArgMax"] = convArgMax
}

// attrString returns a string attribute (onnx-go's decode, else onnxpb's).
func (c *nodeCtx) attrString(name, def string) string {
	if v, ok := c.attr(name).(string); ok {
		return v
	}
	if a := c.pbAttr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

// finish emits op code, checks the result's size and defines output 0.
func (c *nodeCtx) finish(code string, attrs map[string]ir.Attr, args ...*ir.Value) error {
	v, err := c.emit(code, attrs, args...)
	if err != nil {
		return err
	}
	if _, _, err := shapeOf(toInt64s(v.Type.Shape)); err != nil {
		return c.errorf("result: %v", err)
	}
	c.define(0, v)
	return nil
}

// unsupportedOutputs makes outputs from index `from` on errors when used.
func (c *nodeCtx) unsupportedOutputs(from int, why string) {
	for i := from; i < len(c.n.GetOutput()); i++ {
		if c.n.Output[i] != "" {
			c.l.env[c.n.Output[i]] = &entry{err: why}
		}
	}
}

// constInts returns constant input i as integers.
func (c *nodeCtx) constInts(i int, what string) ([]int64, error) {
	a, err := c.constIn(i, what)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) > 1 {
		return nil, c.errorf("input %d (%s) must be a scalar or 1-D, has shape %v", i, what, a.Shape)
	}
	out := make([]int64, len(a.Data))
	for k, d := range a.Data {
		if d != math.Trunc(d) || math.Abs(d) > maxElements {
			return nil, c.errorf("input %d (%s) holds %v, not an integer in range", i, what, d)
		}
		out[k] = int64(d)
	}
	return out, nil
}

// constScalar returns constant input i, which must hold one value.
func (c *nodeCtx) constScalar(i int, what string) (float64, error) {
	a, err := c.constIn(i, what)
	if err != nil {
		return 0, err
	}
	if len(a.Data) != 1 {
		return 0, c.errorf("input %d (%s) must hold one value, has shape %v", i, what, a.Shape)
	}
	return a.Data[0], nil
}

// axisIn normalizes axis a for a tensor of rank r.
func (c *nodeCtx) axisIn(a int64, r int, what string) (int, error) {
	if a < -int64(r) || a >= int64(r) {
		return 0, c.errorf("%s %d out of range for rank %d", what, a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

func (c *nodeCtx) inputRank(x *ir.Value, min int) error {
	if len(x.Type.Shape) < min {
		return c.errorf("input shape %v: need rank >= %d ([N, C, spatial...])", x.Type.Shape, min)
	}
	return nil
}

// spatialInts reads an []int64 attribute of n values (n copies of def when
// absent), each >= lo.
func (c *nodeCtx) spatialInts(name string, n int, def, lo int64) ([]int64, error) {
	v, ok := c.attrInts(name)
	if !ok {
		out := make([]int64, n)
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != n {
		return nil, c.errorf("attribute %s = %v: want %d values", name, v, n)
	}
	for _, x := range v {
		if x < lo || x > 1<<30 {
			return nil, c.errorf("attribute %s = %v: values must be in [%d, 2^30]", name, v, lo)
		}
	}
	return append([]int64{}, v...), nil
}

// windowAttrs resolves strides, dilations and pads (auto_pad included) of a
// windowed op on spatial dims in with kernel k.
func (c *nodeCtx) windowAttrs(in []int, k []int64, dilations bool) (map[string]ir.Attr, error) {
	n := len(in)
	strides, err := c.spatialInts("strides", n, 1, 1)
	if err != nil {
		return nil, err
	}
	dil := make([]int64, n)
	for i := range dil {
		dil[i] = 1
	}
	if dilations {
		if dil, err = c.spatialInts("dilations", n, 1, 1); err != nil {
			return nil, err
		}
	} else if d, ok := c.attrInts("dilations"); ok {
		for _, v := range d {
			if v != 1 {
				return nil, c.errorf("attribute dilations = %v is not defined for %s at opset %d", d, c.n.GetOpType(), c.l.opset)
			}
		}
	}
	var pads []int64
	switch ap := c.attrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		if pads, err = c.spatialInts("pads", 2*n, 0, 0); err != nil {
			return nil, err
		}
	case "VALID":
		pads = make([]int64, 2*n)
	case "SAME_UPPER", "SAME_LOWER":
		// output = ceil(in / stride); the total padding is split evenly, the
		// odd one at the end (SAME_UPPER) or at the beginning (SAME_LOWER)
		pads = make([]int64, 2*n)
		for i := 0; i < n; i++ {
			d, s := int64(in[i]), strides[i]
			out := (d + s - 1) / s
			total := (out-1)*s + (k[i]-1)*dil[i] + 1 - d
			if total < 0 {
				total = 0
			}
			small := total / 2
			if ap == "SAME_UPPER" {
				pads[i], pads[n+i] = small, total-small
			} else {
				pads[i], pads[n+i] = total-small, small
			}
		}
	default:
		return nil, c.errorf("auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", ap)
	}
	return map[string]ir.Attr{"strides": strides, "dilations": dil, "pads": pads}, nil
}

func convConv(c *nodeCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	args, err := c.ins(2, 3)
	if err != nil {
		return err
	}
	x, w := args[0], args[1]
	if err := c.inputRank(x, 3); err != nil {
		return err
	}
	if len(w.Type.Shape) != len(x.Type.Shape) {
		return c.errorf("weight shape %v does not match the input's rank %d", w.Type.Shape, len(x.Type.Shape))
	}
	k := toInt64s(w.Type.Shape[2:])
	if ks, ok := c.attrInts("kernel_shape"); ok && !equalInt64s(ks, k) {
		return c.errorf("kernel_shape %v differs from the weight's spatial dims %v", ks, k)
	}
	attrs, err := c.windowAttrs(x.Type.Shape[2:], k, true)
	if err != nil {
		return err
	}
	g := c.attrInt("group", 1)
	if g < 1 || g > 1<<30 {
		return c.errorf("group %d < 1", g)
	}
	attrs["group"] = g
	return c.finish("conv", attrs, args...)
}

func equalInt64s(a, b []int64) bool {
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

// poolOp converts AveragePool and MaxPool. Only MaxPool's first output (the
// values) is supported; its Indices output may be named but not used.
func poolOp(code string) handler {
	return func(c *nodeCtx) error {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		x, err := c.in(0)
		if err != nil {
			return err
		}
		if err := c.inputRank(x, 3); err != nil {
			return err
		}
		n := len(x.Type.Shape) - 2
		ks, ok := c.attrInts("kernel_shape")
		if !ok {
			return c.errorf("missing kernel_shape")
		}
		if len(ks) != n {
			return c.errorf("kernel_shape %v: want %d values", ks, n)
		}
		k, err := c.spatialInts("kernel_shape", n, 1, 1)
		if err != nil {
			return err
		}
		// dilations: MaxPool since opset 10, AveragePool since 19
		dilations := code == "maxpool" && c.l.opset >= 10 || code == "averagepool" && c.l.opset >= 19
		attrs, err := c.windowAttrs(x.Type.Shape[2:], k, dilations)
		if err != nil {
			return err
		}
		attrs["kernel_shape"] = k
		if ceil := c.attrInt("ceil_mode", 0); ceil != 0 {
			if ceil != 1 {
				return c.errorf("ceil_mode %d: want 0 or 1", ceil)
			}
			attrs["ceil_mode"] = int64(1)
		}
		if code == "averagepool" {
			cip := c.attrInt("count_include_pad", 0)
			if cip != 0 && cip != 1 {
				return c.errorf("count_include_pad %d: want 0 or 1", cip)
			}
			attrs["count_include_pad"] = cip
		} else {
			c.unsupportedOutputs(1, "the Indices output of MaxPool is not supported")
		}
		return c.finish(code, attrs, x)
	}
}

// convBatchNorm: inference BatchNormalization, y = scale*(x-mean)/sqrt(var+eps)+B
// with the given statistics. Training mode and the running-statistics outputs
// are not supported (is_test of opsets < 7 is ignored: the statistics inputs
// are always used).
func convBatchNorm(c *nodeCtx) error {
	if err := c.arity(5, 5); err != nil {
		return err
	}
	if c.attrInt("training_mode", 0) != 0 {
		return c.errorf("training_mode=1 is not supported (inference only)")
	}
	args := make([]*ir.Value, 5)
	for i := range args {
		v, err := c.in(i)
		if err != nil {
			return err
		}
		args[i] = v
	}
	x := args[0]
	if err := c.inputRank(x, 2); err != nil {
		return err
	}
	if c.l.opset < 9 && c.attrInt("spatial", 1) == 0 && len(x.Type.Shape) > 2 {
		return c.errorf("spatial=0 (per-position statistics) is not supported")
	}
	c.unsupportedOutputs(1, "the training outputs of BatchNormalization (running mean/var, saved statistics) are not supported")
	return c.finish("batchnorm", map[string]ir.Attr{"epsilon": c.attrFloat("epsilon", float64(float32(1e-5)))}, args...)
}

func convTranspose(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	r := len(x.Type.Shape)
	perm, ok := c.attrInts("perm")
	if !ok || len(perm) == 0 && r > 0 {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	if len(perm) != r {
		return c.errorf("perm %v for rank %d", perm, r)
	}
	return c.finish("transpose", map[string]ir.Attr{"perm": append([]int64{}, perm...)}, x)
}

// axesArg returns the axes of Squeeze/Unsqueeze: the attribute before opset
// 13, the constant input 1 from 13 on. ok is false when none is given.
func (c *nodeCtx) axesArg() (axes []int64, ok bool, err error) {
	if c.l.opset < 13 {
		if err := c.arity(1, 1); err != nil {
			return nil, false, err
		}
		axes, ok = c.attrInts("axes")
		return axes, ok, nil
	}
	if err := c.arity(1, 2); err != nil {
		return nil, false, err
	}
	if !c.has(1) {
		return nil, false, nil
	}
	axes, err = c.constInts(1, "axes")
	// an empty axes tensor is read as no axes (Squeeze: every dim of 1)
	return axes, err == nil && len(axes) > 0, err
}

func convSqueeze(c *nodeCtx) error {
	axes, given, err := c.axesArg()
	if err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	drop := make([]bool, len(s))
	if !given {
		for i, d := range s {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		i, err := c.axisIn(a, len(s), "axis")
		if err != nil {
			return err
		}
		if s[i] != 1 {
			return c.errorf("cannot squeeze dim %d of shape %v (not 1)", i, s)
		}
		drop[i] = true
	}
	shape := []int64{}
	for i, d := range s {
		if !drop[i] {
			shape = append(shape, int64(d))
		}
	}
	return c.finish("reshape", map[string]ir.Attr{"shape": shape}, x)
}

func convUnsqueeze(c *nodeCtx) error {
	axes, given, err := c.axesArg()
	if err != nil {
		return err
	}
	if !given {
		return c.errorf("missing axes")
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	r := len(s) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		i, err := c.axisIn(a, r, "axis")
		if err != nil {
			return err
		}
		if ins[i] {
			return c.errorf("axes %v repeat axis %d", axes, i)
		}
		ins[i] = true
	}
	shape := make([]int64, 0, r)
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, int64(s[k]))
			k++
		}
	}
	return c.finish("reshape", map[string]ir.Attr{"shape": shape}, x)
}

func convConcat(c *nodeCtx) error {
	n := len(c.n.GetInput())
	if n == 0 {
		return c.errorf("takes at least one input")
	}
	args := make([]*ir.Value, n)
	for i := range args {
		v, err := c.in(i)
		if err != nil {
			return err
		}
		args[i] = v
	}
	def := int64(1) // opsets < 4
	if c.pbAttr("axis") == nil {
		if c.l.opset >= 4 {
			return c.errorf("missing axis")
		}
	} else {
		def = c.attrInt("axis", 0)
	}
	axis, err := c.axisIn(def, len(args[0].Type.Shape), "axis")
	if err != nil {
		return err
	}
	return c.finish("concat", map[string]ir.Attr{"axis": int64(axis)}, args...)
}

// convPad: pads, value and mode as attributes before opset 11 (paddings
// before opset 2), as constant inputs (pads, constant_value, axes from opset
// 18) from 11 on.
func convPad(c *nodeCtx) error {
	var pads []int64
	value := 0.0
	var axes []int64
	if c.l.opset < 11 {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		name := "pads"
		if c.l.opset < 2 {
			name = "paddings"
		}
		p, ok := c.attrInts(name)
		if !ok {
			return c.errorf("missing %s attribute (opset %d)", name, c.l.opset)
		}
		pads = p
		value = c.attrFloat("value", 0)
	} else {
		if err := c.arity(2, 4); err != nil {
			return err
		}
		var err error
		if pads, err = c.constInts(1, "pads"); err != nil {
			return err
		}
		if c.has(2) {
			a, err := c.constIn(2, "constant_value")
			if err != nil {
				return err
			}
			if len(a.Data) > 1 {
				return c.errorf("constant_value must hold one value, has shape %v", a.Shape)
			}
			if len(a.Data) == 1 {
				value = a.Data[0]
			}
		}
		if c.has(3) {
			if axes, err = c.constInts(3, "axes"); err != nil {
				return err
			}
		}
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	r := len(x.Type.Shape)
	full := make([]int64, 2*r)
	if axes == nil {
		if len(pads) != 2*r {
			return c.errorf("pads %v: want %d values for rank %d", pads, 2*r, r)
		}
		copy(full, pads)
	} else {
		if len(pads) != 2*len(axes) {
			return c.errorf("pads %v: want %d values for axes %v", pads, 2*len(axes), axes)
		}
		seen := map[int]bool{}
		for j, a := range axes {
			i, err := c.axisIn(a, r, "axis")
			if err != nil {
				return err
			}
			if seen[i] {
				return c.errorf("axes %v repeat axis %d", axes, i)
			}
			seen[i] = true
			full[i], full[r+i] = pads[j], pads[len(axes)+j]
		}
	}
	mode := c.attrString("mode", "constant")
	attrs := map[string]ir.Attr{"pads": full, "mode": mode}
	if mode == "constant" {
		attrs["value"] = value
	}
	return c.finish("pad", attrs, x)
}

// convClip: bounds as attributes before opset 11, as optional constant
// scalar inputs from 11 on.
func convClip(c *nodeCtx) error {
	attrs := map[string]ir.Attr{}
	if c.l.opset < 11 {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		if c.pbAttr("min") != nil {
			attrs["min"] = c.attrFloat("min", 0)
		}
		if c.pbAttr("max") != nil {
			attrs["max"] = c.attrFloat("max", 0)
		}
	} else {
		if err := c.arity(1, 3); err != nil {
			return err
		}
		for i, name := range []string{"", "min", "max"} {
			if i == 0 || !c.has(i) {
				continue
			}
			v, err := c.constScalar(i, name)
			if err != nil {
				return err
			}
			attrs[name] = v
		}
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	return c.finish("clip", attrs, x)
}

func variadicOp(code string) handler {
	return func(c *nodeCtx) error {
		n := len(c.n.GetInput())
		if n == 0 {
			return c.errorf("takes at least one input")
		}
		args := make([]*ir.Value, n)
		for i := range args {
			v, err := c.in(i)
			if err != nil {
				return err
			}
			args[i] = v
		}
		return c.finish(code, nil, args...)
	}
}

// convPRelu: slope broadcasts to x (numpy, unidirectional). Before opset 7
// (no broadcasting rule; a slope of size 1 is shared across channels) a 1-D
// slope of C > 1 values on an input of rank > 2 is applied per channel (dim
// 1), as Caffe-era exporters meant it.
func convPRelu(c *nodeCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	s, err := c.in(1)
	if err != nil {
		return err
	}
	xs, ss := x.Type.Shape, s.Type.Shape
	if c.l.opset < 7 && len(ss) == 1 && len(xs) > 2 && ss[0] == xs[1] && ss[0] > 1 {
		shape := make([]int64, len(xs)-1)
		shape[0] = int64(ss[0])
		for i := 1; i < len(shape); i++ {
			shape[i] = 1
		}
		if s, err = c.emit("reshape", map[string]ir.Attr{"shape": shape}, s); err != nil {
			return err
		}
	}
	return c.finish("prelu", nil, x, s)
}

type fattr struct {
	name string
	def  float64
}

// floatAttrOp converts a unary op with float attributes (ONNX float32
// defaults, rounded as an exporter would store them).
func floatAttrOp(code string, attrs ...fattr) handler {
	return func(c *nodeCtx) error {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		x, err := c.in(0)
		if err != nil {
			return err
		}
		m := map[string]ir.Attr{}
		for _, a := range attrs {
			m[a.name] = c.attrFloat(a.name, float64(float32(a.def)))
		}
		return c.finish(code, m, x)
	}
}

func convGelu(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	a := c.attrString("approximate", "none")
	if a != "none" && a != "tanh" {
		return c.errorf("approximate %q: want none or tanh", a)
	}
	return c.finish("gelu", map[string]ir.Attr{"approximate": a}, x)
}

// softmaxOp converts Softmax and LogSoftmax. From opset 13 the op works along
// one axis (default -1); before, the input is coerced to 2-D at axis
// (default 1) and normalized over the flattened trailing dims: a reshape to
// [prod(dims before axis), prod(dims from axis)], the op along dim 1, and a
// reshape back.
func softmaxOp(code string) handler {
	return func(c *nodeCtx) error {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		x, err := c.in(0)
		if err != nil {
			return err
		}
		s := x.Type.Shape
		r := len(s)
		if r == 0 {
			return c.errorf("input is a scalar")
		}
		if c.l.opset >= 13 {
			axis, err := c.axisIn(c.attrInt("axis", -1), r, "axis")
			if err != nil {
				return err
			}
			return c.finish(code, map[string]ir.Attr{"axis": int64(axis)}, x)
		}
		a := c.attrInt("axis", 1)
		if a < -int64(r) || a > int64(r) {
			return c.errorf("axis %d out of range for rank %d", a, r)
		}
		if a < 0 {
			a += int64(r)
		}
		axis := int(a)
		if axis == r-1 {
			return c.finish(code, map[string]ir.Attr{"axis": int64(axis)}, x)
		}
		flat := []int64{int64(ir.NumElements(s[:axis])), int64(ir.NumElements(s[axis:]))}
		v, err := c.emit("reshape", map[string]ir.Attr{"shape": flat}, x)
		if err != nil {
			return err
		}
		if v, err = c.emit(code, map[string]ir.Attr{"axis": int64(1)}, v); err != nil {
			return err
		}
		return c.finish("reshape", map[string]ir.Attr{"shape": toInt64s(s)}, v)
	}
}

func convArgMax(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	r := len(x.Type.Shape)
	if r == 0 {
		return c.errorf("input is a scalar")
	}
	axis, err := c.axisIn(c.attrInt("axis", 0), r, "axis")
	if err != nil {
		return err
	}
	attrs := map[string]ir.Attr{"axis": int64(axis)}
	for _, f := range []string{"keepdims", "select_last_index"} {
		def := int64(0)
		if f == "keepdims" {
			def = 1
		}
		v := c.attrInt(f, def)
		if v != 0 && v != 1 {
			return c.errorf("%s %d: want 0 or 1", f, v)
		}
		attrs[f] = v
	}
	return c.finish("argmax", attrs, x)
}
