// Package onnxbuild writes small ONNX models from Go: a Builder for graphs of
// inputs, initializers, nodes and outputs, and RandomMLP for seeded random
// multi-layer perceptrons, used to make models the shared test data does not
// have.
package onnxbuild

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
)

const (
	// IRVersion is the ONNX IR version of built models (ONNX 1.10+).
	IRVersion = 8
	// Producer is the producer_name of built models.
	Producer = "fhec"
	// BatchDim is the dim_param of symbolic dimensions (given as -1 or 0).
	BatchDim = "batch"
)

// Builder assembles one ONNX model. Methods record the first error and keep
// going, so a chain of calls needs one check: Err, Model or Marshal report it.
// Graph entries keep the order in which they were added.
type Builder struct {
	model   *onnxpb.ModelProto
	defined map[string]bool // value names: inputs, initializers, node outputs
	nodes   map[string]bool // node names
	err     error
}

// New starts a model whose graph is called name, importing the default ONNX
// domain at the given opset version.
func New(name string, opset int64) *Builder {
	b := &Builder{
		model: &onnxpb.ModelProto{
			IrVersion:    IRVersion,
			ProducerName: Producer,
			OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opset}},
			Graph:        &onnxpb.GraphProto{Name: name},
		},
		defined: map[string]bool{},
		nodes:   map[string]bool{},
	}
	if opset < 1 {
		b.fail(fmt.Errorf("opset %d: must be positive", opset))
	}
	return b
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = fmt.Errorf("onnxbuild: %s: %w", b.model.Graph.Name, err)
	}
}

// Err returns the first error recorded so far.
func (b *Builder) Err() error { return b.err }

// SetDocString sets the model's doc_string.
func (b *Builder) SetDocString(doc string) { b.model.DocString = doc }

// SetMetadata adds a metadata_props entry (kept in call order).
func (b *Builder) SetMetadata(key, value string) {
	b.model.MetadataProps = append(b.model.MetadataProps, &onnxpb.StringStringEntryProto{Key: key, Value: value})
}

func (b *Builder) define(name, what string) {
	switch {
	case name == "":
		b.fail(fmt.Errorf("%s with an empty name", what))
	case b.defined[name]:
		b.fail(fmt.Errorf("%s %q: name already defined", what, name))
	}
	b.defined[name] = true
}

// valueInfo describes a tensor of the given element type; a dimension of -1
// or 0 becomes the symbolic dimension BatchDim.
func (b *Builder) valueInfo(name string, elem onnxpb.TensorProto_DataType, shape []int64) *onnxpb.ValueInfoProto {
	dims := make([]*onnxpb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		switch {
		case d == -1 || d == 0:
			dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}}
		case d > 0:
			dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		default:
			b.fail(fmt.Errorf("%q: invalid dimension %d (want > 0, or -1 or 0 for %q)", name, d, BatchDim))
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(elem),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}

// Input declares a float32 graph input and returns its name. A dimension of
// -1 or 0 is symbolic (dim_param "batch").
func (b *Builder) Input(name string, shape []int64) string {
	return b.TypedInput(name, onnxpb.TensorProto_FLOAT, shape)
}

// TypedInput declares a graph input of any element type.
func (b *Builder) TypedInput(name string, elem onnxpb.TensorProto_DataType, shape []int64) string {
	b.define(name, "input")
	b.model.Graph.Input = append(b.model.Graph.Input, b.valueInfo(name, elem, shape))
	return name
}

func (b *Builder) initializer(name string, shape []int64, n int) *onnxpb.TensorProto {
	b.define(name, "initializer")
	want := int64(1)
	for _, d := range shape {
		if d < 0 {
			b.fail(fmt.Errorf("initializer %q: negative dimension in %v", name, shape))
			return &onnxpb.TensorProto{Name: name}
		}
		want *= d
	}
	if want != int64(n) {
		b.fail(fmt.Errorf("initializer %q: shape %v needs %d values, got %d", name, shape, want, n))
	}
	t := &onnxpb.TensorProto{Name: name, Dims: slices.Clone(shape)}
	b.model.Graph.Initializer = append(b.model.Graph.Initializer, t)
	return t
}

// Initializer adds a float32 constant tensor (stored in float_data) and
// returns its name.
func (b *Builder) Initializer(name string, shape []int64, data []float32) string {
	t := b.initializer(name, shape, len(data))
	t.DataType = int32(onnxpb.TensorProto_FLOAT)
	t.FloatData = slices.Clone(data)
	return name
}

// InitializerInt64 adds an int64 constant tensor, e.g. the shape of a
// Reshape, and returns its name.
func (b *Builder) InitializerInt64(name string, shape []int64, data []int64) string {
	t := b.initializer(name, shape, len(data))
	t.DataType = int32(onnxpb.TensorProto_INT64)
	t.Int64Data = slices.Clone(data)
	return name
}

// Node adds a node of the default domain with one output, named after the
// operator and the node's position (e.g. "gemm_0"), and returns that name.
// Attribute values may be int64, int, float32, float64, string, []int64,
// []int, []float32, []float64, []string or *onnxpb.TensorProto; attributes
// are written sorted by name. An empty input name is an omitted optional
// input.
func (b *Builder) Node(op string, inputs []string, attrs map[string]any) string {
	base := strings.ToLower(op) + "_" + fmt.Sprint(len(b.model.Graph.Node))
	name := base
	for i := 1; b.defined[name] || b.nodes[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return b.NodeOutputs(op, inputs, []string{name}, attrs)[0]
}

// NodeOutputs adds a node with explicitly named outputs (the node takes the
// first output's name) and returns the outputs.
func (b *Builder) NodeOutputs(op string, inputs, outputs []string, attrs map[string]any) []string {
	if op == "" {
		b.fail(errors.New("node with an empty op_type"))
	}
	if len(outputs) == 0 {
		b.fail(fmt.Errorf("%s node without outputs", op))
		return nil
	}
	name := outputs[0]
	for i := 1; b.nodes[name]; i++ {
		name = fmt.Sprintf("%s_%d", outputs[0], i)
	}
	b.nodes[name] = true
	for _, in := range inputs {
		if in != "" && !b.defined[in] {
			b.fail(fmt.Errorf("node %q (%s): input %q is not defined yet", name, op, in))
		}
	}
	for _, out := range outputs {
		b.define(out, "node output")
	}
	n := &onnxpb.NodeProto{
		Name:   name,
		OpType: op,
		Input:  slices.Clone(inputs),
		Output: slices.Clone(outputs),
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a, err := attribute(k, attrs[k])
		if err != nil {
			b.fail(fmt.Errorf("node %q (%s): %w", name, op, err))
			continue
		}
		n.Attribute = append(n.Attribute, a)
	}
	b.model.Graph.Node = append(b.model.Graph.Node, n)
	return outputs
}

func attribute(name string, v any) (*onnxpb.AttributeProto, error) {
	a := &onnxpb.AttributeProto{Name: name}
	switch v := v.(type) {
	case int64:
		a.Type, a.I = onnxpb.AttributeProto_INT, v
	case int:
		a.Type, a.I = onnxpb.AttributeProto_INT, int64(v)
	case float32:
		a.Type, a.F = onnxpb.AttributeProto_FLOAT, v
	case float64:
		a.Type, a.F = onnxpb.AttributeProto_FLOAT, float32(v)
	case string:
		a.Type, a.S = onnxpb.AttributeProto_STRING, []byte(v)
	case []int64:
		a.Type, a.Ints = onnxpb.AttributeProto_INTS, slices.Clone(v)
	case []int:
		a.Type = onnxpb.AttributeProto_INTS
		for _, x := range v {
			a.Ints = append(a.Ints, int64(x))
		}
	case []float32:
		a.Type, a.Floats = onnxpb.AttributeProto_FLOATS, slices.Clone(v)
	case []float64:
		a.Type = onnxpb.AttributeProto_FLOATS
		for _, x := range v {
			a.Floats = append(a.Floats, float32(x))
		}
	case []string:
		a.Type = onnxpb.AttributeProto_STRINGS
		for _, s := range v {
			a.Strings = append(a.Strings, []byte(s))
		}
	case *onnxpb.TensorProto:
		if v == nil {
			return nil, fmt.Errorf("attribute %q: nil tensor", name)
		}
		a.Type, a.T = onnxpb.AttributeProto_TENSOR, proto.Clone(v).(*onnxpb.TensorProto)
	default:
		return nil, fmt.Errorf("attribute %q: unsupported value type %T", name, v)
	}
	return a, nil
}

// Output declares a defined value as a float32 graph output of the given
// shape (-1 or 0: symbolic "batch").
func (b *Builder) Output(name string, shape []int64) {
	b.TypedOutput(name, onnxpb.TensorProto_FLOAT, shape)
}

// TypedOutput declares a graph output of any element type.
func (b *Builder) TypedOutput(name string, elem onnxpb.TensorProto_DataType, shape []int64) {
	if !b.defined[name] {
		b.fail(fmt.Errorf("output %q is not defined", name))
	}
	for _, o := range b.model.Graph.Output {
		if o.Name == name {
			b.fail(fmt.Errorf("output %q declared twice", name))
		}
	}
	b.model.Graph.Output = append(b.model.Graph.Output, b.valueInfo(name, elem, shape))
}

// Model returns a copy of the model built so far, or the first error.
func (b *Builder) Model() (*onnxpb.ModelProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.model.Graph.Output) == 0 {
		return nil, fmt.Errorf("onnxbuild: %s: graph has no outputs", b.model.Graph.Name)
	}
	return proto.Clone(b.model).(*onnxpb.ModelProto), nil
}

// Marshal serializes the model deterministically: the same calls give the
// same bytes.
func (b *Builder) Marshal() ([]byte, error) {
	m, err := b.Model()
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
