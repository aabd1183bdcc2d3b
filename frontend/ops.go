package frontend

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// handler converts one ONNX node.
type handler func(c *nodeCtx) error

// handlers is the table of supported ONNX ops (default domain).
var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"Add":      binaryOp("add"),
		"Sub":      binaryOp("sub"),
		"Mul":      binaryOp("mul"),
		"Div":      binaryOp("div"),
		"Neg":      convNeg,
		"Gemm":     convGemm,
		"MatMul":   convMatMul,
		"Relu":     unaryOp("relu"),
		"Flatten":  convFlatten,
		"Reshape":  convReshape,
		"Constant": convConstant,
		"Identity": convIdentity,
		"Dropout":  convDropout,
	}
	addNNHandlers(handlers)
}

// nodeCtx is one node being converted.
type nodeCtx struct {
	l     *loader
	n     *onnxpb.NodeProto
	k     int
	attrs map[string]any // decoded by onnx-go; nil when onnx-go did not run
}

func (c *nodeCtx) errorf(format string, args ...any) error {
	return fmt.Errorf("frontend: node %q (op %s): %s", nodeLabel(c.n, c.k), c.n.GetOpType(), fmt.Sprintf(format, args...))
}

// crossCheckInputs compares the node's inputs in onnxpb with the edges of
// onnx-go's graph, as sets (the simple graph merges repeated inputs).
func (c *nodeCtx) crossCheckInputs() error {
	outs := c.n.GetOutput()
	if len(outs) == 0 || outs[0] == "" {
		return nil
	}
	gn, ok := c.l.om.GetNodeByName(outs[0])
	if !ok {
		return c.errorf("onnx-go has no node for output %q", outs[0])
	}
	got := c.l.og.inputNames(gn)
	want := map[string]bool{}
	for _, in := range c.n.GetInput() {
		want[in] = true
	}
	if len(c.n.GetInput()) == 0 {
		want[c.n.GetName()+"/input"] = true // onnx-go's placeholder input of input-less nodes
	}
	if len(got) != len(want) {
		return c.errorf("onnx-go sees inputs %v, the model lists %v", keys(got), c.n.GetInput())
	}
	for k := range got {
		if !want[k] {
			return c.errorf("onnx-go sees inputs %v, the model lists %v", keys(got), c.n.GetInput())
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (c *nodeCtx) has(i int) bool { return i < len(c.n.GetInput()) && c.n.Input[i] != "" }

func (c *nodeCtx) arity(min, max int) error {
	n := len(c.n.GetInput())
	for n > 0 && c.n.Input[n-1] == "" {
		n--
	}
	if n < min || n > max {
		if min == max {
			return c.errorf("takes %d inputs, has %d", min, n)
		}
		return c.errorf("takes %d to %d inputs, has %d", min, max, n)
	}
	for i := 0; i < min; i++ {
		if !c.has(i) {
			return c.errorf("input %d is required", i)
		}
	}
	return nil
}

// in returns input i as an SSA value.
// ins returns inputs 0..n-1: the first required ones must be present (an
// error names the missing one), the optional ones after them are taken
// while present (Gemm's C, Conv's B).
func (c *nodeCtx) ins(required, n int) ([]*ir.Value, error) {
	var out []*ir.Value
	for i := 0; i < n && (i < required || c.has(i)); i++ {
		v, err := c.in(i)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (c *nodeCtx) in(i int) (*ir.Value, error) {
	if !c.has(i) {
		return nil, c.errorf("input %d is missing", i)
	}
	name := c.n.Input[i]
	v, err := c.l.value(name, c.l.env[name])
	if err != nil {
		return nil, c.errorf("input %d: %v", i, err)
	}
	return v, nil
}

// constIn returns input i's data; it must be a constant (an initializer or
// a Constant output, possibly through Identity).
func (c *nodeCtx) constIn(i int, what string) (*ir.Array, error) {
	if !c.has(i) {
		return nil, c.errorf("input %d (%s) is missing", i, what)
	}
	e := c.l.env[c.n.Input[i]]
	if e == nil || e.c == nil {
		return nil, c.errorf("input %d (%s, %q) must be a constant (an initializer or a Constant node); computed values are not supported", i, what, c.n.Input[i])
	}
	return e.c, nil
}

func (c *nodeCtx) define(i int, v *ir.Value) {
	if i < len(c.n.GetOutput()) && c.n.Output[i] != "" {
		c.l.env[c.n.Output[i]] = &entry{v: v}
	}
}

func (c *nodeCtx) emit(code string, attrs map[string]ir.Attr, args ...*ir.Value) (*ir.Value, error) {
	hint := "v"
	if outs := c.n.GetOutput(); len(outs) > 0 && outs[0] != "" {
		hint = valueHint(outs[0])
	}
	v, err := c.l.f.Append(code, hint, attrs, args...)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	return v, nil
}

func (c *nodeCtx) pbAttr(name string) *onnxpb.AttributeProto {
	for _, a := range c.n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// attr returns onnx-go's decoded attribute (nil when absent or of an
// undefined type).
func (c *nodeCtx) attr(name string) any {
	v, ok := c.attrs[name]
	if !ok {
		return nil
	}
	if _, undef := v.(struct{}); undef {
		return nil
	}
	return v
}

func (c *nodeCtx) attrInt(name string, def int64) int64 {
	if v, ok := c.attr(name).(int64); ok {
		return v
	}
	if a := c.pbAttr(name); a != nil {
		return a.GetI()
	}
	return def
}

func (c *nodeCtx) attrFloat(name string, def float64) float64 {
	switch v := c.attr(name).(type) {
	case float32:
		return float64(v)
	case int64:
		return float64(v)
	}
	if a := c.pbAttr(name); a != nil {
		if a.GetType() == onnxpb.AttributeProto_INT {
			return float64(a.GetI())
		}
		return float64(a.GetF())
	}
	return def
}

func (c *nodeCtx) attrInts(name string) ([]int64, bool) {
	if v, ok := c.attr(name).([]int64); ok {
		return v, true
	}
	if a := c.pbAttr(name); a != nil {
		return a.GetInts(), true
	}
	return nil, false
}

func (c *nodeCtx) attrFloats(name string) ([]float32, bool) {
	if v, ok := c.attr(name).([]float32); ok {
		return v, true
	}
	if a := c.pbAttr(name); a != nil {
		return a.GetFloats(), true
	}
	return nil, false
}

func unaryOp(code string) handler {
	return func(c *nodeCtx) error {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		x, err := c.in(0)
		if err != nil {
			return err
		}
		v, err := c.emit(code, nil, x)
		if err != nil {
			return err
		}
		c.define(0, v)
		return nil
	}
}

// binaryOp converts Add/Sub/Mul/Div/Pow (numpy broadcasting; opset < 7 legacy
// broadcasting with broadcast/axis attributes).
func binaryOp(code string) handler {
	return func(c *nodeCtx) error {
		if err := c.arity(2, 2); err != nil {
			return err
		}
		a, err := c.in(0)
		if err != nil {
			return err
		}
		b, err := c.in(1)
		if err != nil {
			return err
		}
		if code == "div" && b.Type.Secret {
			return c.errorf("division by a value computed from the inputs is not supported; the divisor must be constant")
		}
		if code == "pow" && b.Type.Secret {
			return c.errorf("an exponent computed from the inputs is not supported; the exponent must be constant")
		}
		if c.l.opset < 7 {
			if b, err = c.legacyBroadcast(a, b); err != nil {
				return err
			}
		}
		v, err := c.emit(code, nil, a, b)
		if err != nil {
			return err
		}
		c.define(0, v)
		return nil
	}
}

// legacyBroadcast handles opset < 7 broadcasting: with broadcast=1, B's
// shape matches a contiguous run of A's dims starting at axis (by default
// the trailing ones); B is reshaped with trailing 1s so numpy broadcasting
// gives the same result.
func (c *nodeCtx) legacyBroadcast(a, b *ir.Value) (*ir.Value, error) {
	as, bs := a.Type.Shape, b.Type.Shape
	if c.attrInt("broadcast", 0) == 0 {
		if !equalInts(as, bs) {
			return nil, c.errorf("shapes %v and %v differ and broadcast=0 (opset %d)", as, bs, c.l.opset)
		}
		return b, nil
	}
	axis := c.attrInt("axis", int64(len(as)-len(bs)))
	if axis < 0 {
		axis += int64(len(as))
	}
	if axis < 0 || int(axis)+len(bs) > len(as) {
		return nil, c.errorf("legacy broadcast of %v onto %v at axis %d is invalid", bs, as, c.attrInt("axis", 0))
	}
	for i, d := range bs {
		if d != as[int(axis)+i] && d != 1 {
			return nil, c.errorf("legacy broadcast of %v onto %v at axis %d: dims differ", bs, as, axis)
		}
	}
	trailing := len(as) - int(axis) - len(bs)
	if trailing == 0 {
		return b, nil
	}
	shape := make([]int64, 0, len(bs)+trailing)
	for _, d := range bs {
		shape = append(shape, int64(d))
	}
	for i := 0; i < trailing; i++ {
		shape = append(shape, 1)
	}
	return c.emit("reshape", map[string]ir.Attr{"shape": shape}, b)
}

func equalInts(a, b []int) bool {
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

func convNeg(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	k := c.l.f.AddConst("minus_one", nil, []float64{-1})
	m, err := c.emit("const", map[string]ir.Attr{"const": k.Name})
	if err != nil {
		return err
	}
	v, err := c.emit("mul", nil, x, m)
	if err != nil {
		return err
	}
	c.define(0, v)
	return nil
}

func convGemm(c *nodeCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	args, err := c.ins(2, 3)
	if err != nil {
		return err
	}
	attrs := map[string]ir.Attr{}
	if alpha := c.attrFloat("alpha", 1); alpha != 1 {
		attrs["alpha"] = alpha
	}
	if beta := c.attrFloat("beta", 1); beta != 1 {
		attrs["beta"] = beta
	}
	if t := c.attrInt("transA", 0); t != 0 {
		attrs["transA"] = int64(1)
	}
	if t := c.attrInt("transB", 0); t != 0 {
		attrs["transB"] = int64(1)
	}
	v, err := c.emit("gemm", attrs, args...)
	if err != nil {
		return err
	}
	c.define(0, v)
	return nil
}

func convMatMul(c *nodeCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	a, err := c.in(0)
	if err != nil {
		return err
	}
	b, err := c.in(1)
	if err != nil {
		return err
	}
	v, err := c.emit("matmul", nil, a, b)
	if err != nil {
		return err
	}
	c.define(0, v)
	return nil
}

func convFlatten(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	r := int64(len(x.Type.Shape))
	axis := c.attrInt("axis", 1)
	if axis < -r || axis > r {
		return c.errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	v, err := c.emit("flatten", map[string]ir.Attr{"axis": axis}, x)
	if err != nil {
		return err
	}
	c.define(0, v)
	return nil
}

func convReshape(c *nodeCtx) error {
	var shape []int64
	if c.l.opset < 5 || (!c.has(1) && c.pbAttr("shape") != nil) {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		s, ok := c.attrInts("shape")
		if !ok {
			return c.errorf("missing shape attribute (opset %d)", c.l.opset)
		}
		shape = s
	} else {
		if err := c.arity(2, 2); err != nil {
			return err
		}
		s, err := c.constIn(1, "shape")
		if err != nil {
			return err
		}
		if len(s.Shape) != 1 {
			return c.errorf("shape input must be 1-D, has shape %v", s.Shape)
		}
		for _, d := range s.Data {
			if d != math.Trunc(d) || math.Abs(d) > maxElements {
				return c.errorf("shape input holds %v, not a dimension", d)
			}
			shape = append(shape, int64(d))
		}
	}
	x, err := c.in(0)
	if err != nil {
		return err
	}
	out, err := resolveReshape(x.Type.Shape, shape, c.attrInt("allowzero", 0) != 0)
	if err != nil {
		return c.errorf("%v", err)
	}
	v, err := c.emit("reshape", map[string]ir.Attr{"shape": out}, x)
	if err != nil {
		return err
	}
	c.define(0, v)
	return nil
}

// resolveReshape applies ONNX Reshape's rules: 0 copies the input's dim at
// that position (unless allowzero), -1 (at most one) takes what is left.
func resolveReshape(in []int, shape []int64, allowZero bool) ([]int64, error) {
	total := int64(ir.NumElements(in))
	out := make([]int64, len(shape))
	neg := -1
	known := int64(1)
	hasZero := false
	for i, d := range shape {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v: 0 at position %d copies no input dim (input %v)", shape, i, in)
			}
			out[i] = int64(in[i])
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", shape)
			}
			neg = i
			continue
		case d < -1 || d > maxElements:
			return nil, fmt.Errorf("shape %v: invalid dim %d", shape, d)
		default:
			out[i] = d
		}
		if out[i] == 0 {
			hasZero = true
		} else if known > maxElements/out[i] {
			return nil, fmt.Errorf("shape %v has too many elements", shape)
		}
		known *= out[i]
	}
	if neg >= 0 {
		if allowZero && hasZero {
			return nil, fmt.Errorf("shape %v: -1 with a literal 0 (allowzero=1) is ambiguous", shape)
		}
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, shape)
		}
		out[neg] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, shape)
	}
	if _, _, err := shapeOf(out); err != nil {
		return nil, err
	}
	return out, nil
}

func convConstant(c *nodeCtx) error {
	var a ir.Array
	switch {
	case c.pbAttr("value") != nil:
		t := c.pbAttr("value").GetT()
		shape, n, err := tensorCount(t)
		if err != nil {
			return c.errorf("%v", err)
		}
		if tt, ok := c.attr("value").(tensor.Tensor); ok && n > 0 {
			a, err = fromGorgonia(tt, shape, n)
		} else {
			a, err = tensorFromProto(t)
		}
		if err != nil {
			return c.errorf("value: %v", err)
		}
	case c.pbAttr("value_float") != nil:
		a = ir.Array{Data: []float64{c.attrFloat("value_float", 0)}}
	case c.pbAttr("value_int") != nil:
		a = ir.Array{Data: []float64{float64(c.attrInt("value_int", 0))}}
	case c.pbAttr("value_floats") != nil:
		fs, _ := c.attrFloats("value_floats")
		a = ir.Array{Shape: []int{len(fs)}, Data: make([]float64, len(fs))}
		for i, x := range fs {
			a.Data[i] = float64(x)
		}
	case c.pbAttr("value_ints") != nil:
		is, _ := c.attrInts("value_ints")
		a = ir.Array{Shape: []int{len(is)}, Data: make([]float64, len(is))}
		for i, x := range is {
			a.Data[i] = float64(x)
		}
	default:
		return c.errorf("no value attribute")
	}
	if len(c.n.GetOutput()) > 0 && c.n.Output[0] != "" {
		c.l.env[c.n.Output[0]] = &entry{c: &a}
	}
	return nil
}

func (c *nodeCtx) alias(out, in int) error {
	if !c.has(in) {
		return c.errorf("input %d is missing", in)
	}
	e := c.l.env[c.n.Input[in]]
	if e == nil {
		return c.errorf("input %q is not defined", c.n.Input[in])
	}
	if out < len(c.n.GetOutput()) && c.n.Output[out] != "" {
		c.l.env[c.n.Output[out]] = e
	}
	return nil
}

func convIdentity(c *nodeCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	return c.alias(0, 0)
}

// convDropout: inference Dropout is the identity. Its mask output, if
// named, may not be used.
func convDropout(c *nodeCtx) error {
	if err := c.arity(1, 3); err != nil {
		return err
	}
	if c.has(2) {
		tm, err := c.constIn(2, "training_mode")
		if err != nil {
			return err
		}
		for _, x := range tm.Data {
			if x != 0 {
				return c.errorf("training_mode is true; only inference is supported")
			}
		}
	}
	if err := c.alias(0, 0); err != nil {
		return err
	}
	if len(c.n.GetOutput()) > 1 && c.n.Output[1] != "" {
		c.l.env[c.n.Output[1]] = &entry{err: "the mask output of Dropout is not supported"}
	}
	return nil
}
