package frontend

import (
	"fmt"
	"os"
	"sort"
	"strings"

	onnx "github.com/owulveryck/onnx-go"
	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// Options control the import.
type Options struct {
	// BatchSize is the value given to symbolic dims (dim_param, or a dim
	// with neither value nor parameter) of the graph inputs. 0 means 1.
	BatchSize int
	// Name is the function's name; by default the graph's name, or "main".
	Name string
	// Constants binds graph inputs to values fixed at compile time: such an
	// input becomes a constant instead of a parameter (for instance the shape
	// input of a Reshape exported as a graph input). Its shape must agree
	// with the input's declared static dims.
	Constants map[string]ir.Array
}

// UnsupportedOpError is returned for a node whose op (or domain) the
// frontend does not support.
type UnsupportedOpError struct {
	Node   string // the node's name, or its first output when unnamed
	OpType string
	Domain string // "" for the default ONNX domain
}

func (e *UnsupportedOpError) Error() string {
	op := e.OpType
	if e.Domain != "" {
		op = e.Domain + "::" + op
	}
	return fmt.Sprintf("frontend: node %q (op %s): not supported; supported ops: %s",
		e.Node, op, strings.Join(SupportedOps(), ", "))
}

// SupportedOps lists the ONNX op types Load accepts, sorted.
func SupportedOps() []string {
	ops := make([]string, 0, len(handlers))
	for k := range handlers {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// LoadFile reads an ONNX model file and imports it with Load.
func LoadFile(path string, opts Options) (*ir.Func, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("frontend: %w", err)
	}
	f, err := Load(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Load imports a serialized ONNX ModelProto as a tensor-level function. See
// the package documentation for what is supported. It never panics.
func Load(model []byte, opts Options) (f *ir.Func, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("frontend: internal error (recovered panic): %v", r)
		}
	}()
	if opts.BatchSize < 0 {
		return nil, fmt.Errorf("frontend: negative batch size %d", opts.BatchSize)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1
	}
	mp := new(onnxpb.ModelProto)
	if err := proto.Unmarshal(model, mp); err != nil {
		return nil, fmt.Errorf("frontend: not a valid ONNX model: %w", err)
	}
	l := &loader{opts: opts, mp: mp, env: map[string]*entry{}}
	return l.load()
}

// entry is what a name of the ONNX graph stands for while building.
type entry struct {
	v   *ir.Value // the SSA value, nil for a constant not yet materialized
	c   *ir.Array // known constant data (initializers, Constant outputs)
	err string    // non-empty: using this name is an error
}

type param struct {
	name  string
	shape []int
}

type loader struct {
	opts   Options
	mp     *onnxpb.ModelProto
	g      *onnxpb.GraphProto
	opset  int64
	params []param
	inits  map[string]*onnxpb.TensorProto

	og *onnxGraph
	om *onnx.Model

	f   *ir.Func
	env map[string]*entry
}

func isDefaultDomain(d string) bool { return d == "" || d == "ai.onnx" }

func nodeLabel(n *onnxpb.NodeProto, k int) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	for _, o := range n.GetOutput() {
		if o != "" {
			return o
		}
	}
	return fmt.Sprintf("#%d", k)
}

func (l *loader) load() (*ir.Func, error) {
	l.g = l.mp.GetGraph()
	if l.g == nil {
		return nil, fmt.Errorf("frontend: the model has no graph")
	}
	found := false
	for _, o := range l.mp.GetOpsetImport() {
		if isDefaultDomain(o.GetDomain()) {
			l.opset, found = o.GetVersion(), true
		}
	}
	if !found {
		return nil, fmt.Errorf("frontend: the model imports no opset of the default ONNX domain")
	}
	// Unsupported ops first: the most useful error for a real model.
	for k, n := range l.g.GetNode() {
		if !isDefaultDomain(n.GetDomain()) {
			return nil, &UnsupportedOpError{Node: nodeLabel(n, k), OpType: n.GetOpType(), Domain: n.GetDomain()}
		}
		if handlers[n.GetOpType()] == nil {
			return nil, &UnsupportedOpError{Node: nodeLabel(n, k), OpType: n.GetOpType()}
		}
	}
	if err := l.checkStructure(); err != nil {
		return nil, err
	}
	if len(l.g.GetNode()) > 0 {
		data, err := proto.Marshal(l.sanitized())
		if err != nil {
			return nil, fmt.Errorf("frontend: re-encoding the model for onnx-go: %w", err)
		}
		l.og, l.om, err = decodeWithOnnxGo(data)
		if err != nil {
			return nil, fmt.Errorf("frontend: onnx-go: %w", err)
		}
		if len(l.og.applied) != len(l.g.GetNode()) {
			return nil, fmt.Errorf("frontend: onnx-go applied %d operations for %d nodes", len(l.og.applied), len(l.g.GetNode()))
		}
	}
	return l.build()
}

// checkStructure validates the onnxpb decode before onnx-go sees it: names
// in SSA form and defined before use, tensors consistent with their dims,
// input shapes static after batch substitution, outputs defined.
func (l *loader) checkStructure() error {
	defined := map[string]bool{}
	l.inits = map[string]*onnxpb.TensorProto{}
	for _, t := range l.g.GetInitializer() {
		name := t.GetName()
		if name == "" {
			return fmt.Errorf("frontend: an initializer has no name")
		}
		if l.inits[name] != nil {
			return fmt.Errorf("frontend: initializer %q is defined twice", name)
		}
		if !modelTensorType(t.GetDataType()) {
			return fmt.Errorf("frontend: initializer %q has element type %s; supported: FLOAT, DOUBLE, INT32, INT64", name, dtypeName(t.GetDataType()))
		}
		if _, _, err := tensorCount(t); err != nil {
			return fmt.Errorf("frontend: initializer %q: %w", name, err)
		}
		l.inits[name] = t
		defined[name] = true
	}
	seen := map[string]bool{}
	for _, in := range l.g.GetInput() {
		name := in.GetName()
		if name == "" {
			return fmt.Errorf("frontend: a graph input has no name")
		}
		if seen[name] {
			return fmt.Errorf("frontend: graph input %q is listed twice", name)
		}
		seen[name] = true
		if l.inits[name] != nil {
			continue // old exporters list initializers among the inputs: a constant
		}
		if a, ok := l.opts.Constants[name]; ok {
			if err := checkBound(in, a); err != nil {
				return err
			}
			defined[name] = true
			continue
		}
		shape, err := l.inputShape(in)
		if err != nil {
			return err
		}
		l.params = append(l.params, param{name: name, shape: shape})
		defined[name] = true
	}
	for name := range l.opts.Constants {
		if !seen[name] || l.inits[name] != nil {
			return fmt.Errorf("frontend: Options.Constants binds %q, which is not a graph input", name)
		}
	}
	for k, n := range l.g.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !defined[in] {
				return fmt.Errorf("frontend: node %q (op %s): input %q is not defined before the node (the graph must be topologically sorted)",
					nodeLabel(n, k), n.GetOpType(), in)
			}
		}
		for _, out := range n.GetOutput() {
			if out == "" {
				continue
			}
			if defined[out] {
				return fmt.Errorf("frontend: node %q (op %s): output %q is defined twice", nodeLabel(n, k), n.GetOpType(), out)
			}
			defined[out] = true
		}
		if n.GetOpType() == "Constant" {
			if err := checkConstantNode(n, k); err != nil {
				return err
			}
		}
	}
	if len(l.g.GetOutput()) == 0 {
		return fmt.Errorf("frontend: the graph has no outputs")
	}
	for _, out := range l.g.GetOutput() {
		if !defined[out.GetName()] {
			return fmt.Errorf("frontend: graph output %q is not produced by any node, input or initializer", out.GetName())
		}
		if t := out.GetType(); t != nil && t.GetValue() != nil && t.GetTensorType() == nil {
			return fmt.Errorf("frontend: graph output %q is not a tensor; only tensor outputs are supported", out.GetName())
		}
	}
	return nil
}

func (l *loader) inputShape(in *onnxpb.ValueInfoProto) ([]int, error) {
	tt := in.GetType().GetTensorType()
	if tt == nil {
		return nil, fmt.Errorf("frontend: graph input %q is not a tensor (or has no type)", in.GetName())
	}
	switch onnxpb.TensorProto_DataType(tt.GetElemType()) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
	default:
		return nil, fmt.Errorf("frontend: graph input %q has element type %s; only floating-point inputs are supported",
			in.GetName(), dtypeName(tt.GetElemType()))
	}
	if tt.GetShape() == nil {
		return nil, fmt.Errorf("frontend: graph input %q has no shape (its rank must be known)", in.GetName())
	}
	dims := make([]int64, len(tt.GetShape().GetDim()))
	for i, d := range tt.GetShape().GetDim() {
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			dims[i] = d.GetDimValue()
		} else {
			dims[i] = int64(l.opts.BatchSize) // dim_param, or unknown
		}
	}
	shape, _, err := shapeOf(dims)
	if err != nil {
		return nil, fmt.Errorf("frontend: graph input %q: %w", in.GetName(), err)
	}
	return shape, nil
}

// checkBound checks a value bound with Options.Constants against the
// input's declared type.
func checkBound(in *onnxpb.ValueInfoProto, a ir.Array) error {
	shape, n, err := shapeOf(toInt64s(a.Shape))
	if err != nil || n != len(a.Data) {
		return fmt.Errorf("frontend: Options.Constants[%q]: shape %v does not match its %d values", in.GetName(), a.Shape, len(a.Data))
	}
	ts := in.GetType().GetTensorType().GetShape()
	if ts == nil {
		return nil
	}
	if len(ts.GetDim()) != len(shape) {
		return fmt.Errorf("frontend: Options.Constants[%q]: shape %v, the input is declared with rank %d", in.GetName(), shape, len(ts.GetDim()))
	}
	for i, d := range ts.GetDim() {
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimValue() != int64(shape[i]) {
			return fmt.Errorf("frontend: Options.Constants[%q]: shape %v, the input is declared with dim %d = %d", in.GetName(), shape, i, d.GetDimValue())
		}
	}
	return nil
}

func toInt64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func checkConstantNode(n *onnxpb.NodeProto, k int) error {
	count := 0
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "value":
			t := a.GetT()
			if t == nil {
				return fmt.Errorf("frontend: node %q (op Constant): attribute value holds no tensor", nodeLabel(n, k))
			}
			if !modelTensorType(t.GetDataType()) {
				return fmt.Errorf("frontend: node %q (op Constant): element type %s; supported: FLOAT, DOUBLE, INT32, INT64",
					nodeLabel(n, k), dtypeName(t.GetDataType()))
			}
			if _, _, err := tensorCount(t); err != nil {
				return fmt.Errorf("frontend: node %q (op Constant): %w", nodeLabel(n, k), err)
			}
		case "value_float", "value_int":
		case "value_floats", "value_ints":
			if len(a.GetFloats())+len(a.GetInts()) > maxElements {
				return fmt.Errorf("frontend: node %q (op Constant): too many values", nodeLabel(n, k))
			}
		default:
			return fmt.Errorf("frontend: node %q (op Constant): attribute %s is not supported; supported: value, value_float(s), value_int(s)",
				nodeLabel(n, k), a.GetName())
		}
		count++
	}
	if count != 1 {
		return fmt.Errorf("frontend: node %q (op Constant): needs exactly one value attribute, has %d", nodeLabel(n, k), count)
	}
	return nil
}

// sanitized returns the copy of the model handed to onnx-go: value types
// stripped from inputs, outputs and value_info (onnx-go drops symbolic dims
// and rejects non-tensor types; we read types from onnxpb) and zero-size
// tensors removed (onnx-go fails or panics on them; we decode them).
func (l *loader) sanitized() *onnxpb.ModelProto {
	c := proto.Clone(l.mp).(*onnxpb.ModelProto)
	g := c.GetGraph()
	for _, v := range g.GetInput() {
		v.Type = nil
	}
	for _, v := range g.GetOutput() {
		v.Type = nil
	}
	g.ValueInfo = nil
	inits := g.Initializer[:0]
	for _, t := range g.Initializer {
		if _, n, _ := tensorCount(t); n > 0 {
			inits = append(inits, t)
		}
	}
	g.Initializer = inits
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Constant" {
			continue
		}
		attrs := n.Attribute[:0]
		for _, a := range n.Attribute {
			if a.GetName() == "value" {
				if _, cnt, _ := tensorCount(a.GetT()); cnt == 0 {
					continue
				}
			}
			attrs = append(attrs, a)
		}
		n.Attribute = attrs
	}
	return c
}

// initializer returns an initializer's data: from onnx-go's decode, or from
// onnxpb for the zero-size tensors kept from onnx-go (and when onnx-go did
// not run: a graph without nodes).
func (l *loader) initializer(t *onnxpb.TensorProto) (ir.Array, error) {
	shape, n, err := tensorCount(t)
	if err != nil {
		return ir.Array{}, err
	}
	if n == 0 || l.om == nil {
		return tensorFromProto(t)
	}
	gn, ok := l.om.GetNodeByName(t.GetName())
	if !ok {
		return ir.Array{}, fmt.Errorf("onnx-go has no node for it")
	}
	on, ok := gn.(*onnxNode)
	if !ok {
		return ir.Array{}, fmt.Errorf("onnx-go returned a foreign node")
	}
	return fromGorgonia(on.t, shape, n)
}

// valueHint is the name hint given to ir for an ONNX value name. All-digit
// names (old PyTorch exports name values "1", "2", ...) get a "v" prefix:
// ir.Func.FreshName never terminates on an all-digit hint (it appends digits
// until the name is not all digits).
func valueHint(s string) string {
	digits := s != ""
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			digits = false
			break
		}
	}
	if digits {
		return "v" + s
	}
	return s
}

func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (l *loader) build() (*ir.Func, error) {
	name := l.opts.Name
	if name == "" {
		name = sanitizeName(l.g.GetName())
	}
	if name == "" {
		name = "main"
	}
	l.f = ir.NewFunc(name)
	for _, p := range l.params {
		v := l.f.AddParam(valueHint(p.name), ir.Tensor(p.shape, true))
		l.env[p.name] = &entry{v: v}
	}
	for name, a := range l.opts.Constants {
		c := ir.Array{Shape: append([]int{}, a.Shape...), Data: append([]float64{}, a.Data...)}
		l.env[name] = &entry{c: &c}
	}
	for _, t := range l.g.GetInitializer() {
		a, err := l.initializer(t)
		if err != nil {
			return nil, fmt.Errorf("frontend: initializer %q: %w", t.GetName(), err)
		}
		l.env[t.GetName()] = &entry{c: &a}
	}
	for k, n := range l.g.GetNode() {
		c := &nodeCtx{l: l, n: n, k: k}
		if l.og != nil {
			ap := l.og.applied[k]
			if ap.op.Name != n.GetOpType() {
				return nil, c.errorf("onnx-go applied op %s here", ap.op.Name)
			}
			c.attrs = ap.op.Attributes
			if err := c.crossCheckInputs(); err != nil {
				return nil, err
			}
		}
		if err := handlers[n.GetOpType()](c); err != nil {
			return nil, err
		}
		for i, out := range n.GetOutput() {
			if out != "" && l.env[out] == nil {
				return nil, c.errorf("output %d (%q) is not supported", i, out)
			}
		}
	}
	for _, out := range l.g.GetOutput() {
		e := l.env[out.GetName()]
		v, err := l.value(out.GetName(), e)
		if err != nil {
			return nil, fmt.Errorf("frontend: graph output %q: %w", out.GetName(), err)
		}
		if err := checkDeclaredShape(out, v.Type.Shape); err != nil {
			return nil, err
		}
		l.f.Results = append(l.f.Results, v)
	}
	l.f.RemoveDead()
	if err := ir.Verify(l.f); err != nil {
		return nil, fmt.Errorf("frontend: internal error: %w", err)
	}
	return l.f, nil
}

// checkDeclaredShape compares a graph output's declared static dims with the
// inferred shape (symbolic dims match anything).
func checkDeclaredShape(out *onnxpb.ValueInfoProto, shape []int) error {
	ts := out.GetType().GetTensorType().GetShape()
	if ts == nil {
		return nil
	}
	dims := ts.GetDim()
	if len(dims) != len(shape) {
		return fmt.Errorf("frontend: graph output %q is declared with rank %d, computed shape is %v", out.GetName(), len(dims), shape)
	}
	for i, d := range dims {
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimValue() != int64(shape[i]) {
			return fmt.Errorf("frontend: graph output %q: declared dim %d is %d, computed shape is %v", out.GetName(), i, d.GetDimValue(), shape)
		}
	}
	return nil
}

// value returns the SSA value of a name, materializing constants as const
// ops on first use.
func (l *loader) value(name string, e *entry) (*ir.Value, error) {
	if e == nil {
		return nil, fmt.Errorf("%q is not defined", name)
	}
	if e.err != "" {
		return nil, fmt.Errorf("%q: %s", name, e.err)
	}
	if e.v == nil {
		c := l.f.AddConst(name, e.c.Shape, e.c.Data)
		v, err := l.f.Append("const", valueHint(name), map[string]ir.Attr{"const": c.Name})
		if err != nil {
			return nil, err
		}
		e.v = v
	}
	return e.v, nil
}
