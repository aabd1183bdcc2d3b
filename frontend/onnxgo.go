package frontend

import (
	"fmt"

	onnx "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"
)

// onnxGraph is the onnx-go Backend the frontend decodes into: a gonum
// simple weighted directed graph (an edge goes from a node's output to each
// of its inputs, weighted by the input's position) whose nodes carry a name
// and, for initializers, the tensor onnx-go decoded. ApplyOperation records
// each ONNX node's operation (op type and attributes decoded by onnx-go) in
// graph order.
//
// Being a simple graph, it keeps one edge per (output, input) pair: for
// Mul(x, x) the second edge replaces the first. That is onnx-go's design
// (and a known defect); the frontend takes input lists from its own
// onnxpb decode instead, and only cross-checks them against these edges.
type onnxGraph struct {
	*simple.WeightedDirectedGraph
	applied []appliedOp
}

type appliedOp struct {
	op      onnx.Operation
	outputs []graph.Node
}

// onnxNode is a node of onnxGraph: it implements onnx.Namer and
// onnx.DataCarrier.
type onnxNode struct {
	id   int64
	name string
	t    tensor.Tensor
}

func (n *onnxNode) ID() int64                       { return n.id }
func (n *onnxNode) SetName(s string)                { n.name = s }
func (n *onnxNode) GetName() string                 { return n.name }
func (n *onnxNode) SetTensor(t tensor.Tensor) error { n.t = t; return nil }
func (n *onnxNode) GetTensor() tensor.Tensor        { return n.t }

var (
	_ onnx.Backend     = (*onnxGraph)(nil)
	_ onnx.Namer       = (*onnxNode)(nil)
	_ onnx.DataCarrier = (*onnxNode)(nil)
)

func newOnnxGraph() *onnxGraph {
	return &onnxGraph{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0)}
}

// NewNode returns a fresh node; onnx-go adds it with AddNode.
func (g *onnxGraph) NewNode() graph.Node {
	return &onnxNode{id: g.WeightedDirectedGraph.NewNode().ID()}
}

// ApplyOperation records op as the operation producing outputs.
func (g *onnxGraph) ApplyOperation(op onnx.Operation, outputs ...graph.Node) error {
	g.applied = append(g.applied, appliedOp{op: op, outputs: outputs})
	return nil
}

// inputNames returns the names of the nodes n has an edge to (its inputs, as
// far as the simple graph remembers them).
func (g *onnxGraph) inputNames(n graph.Node) map[string]bool {
	names := map[string]bool{}
	it := g.From(n.ID())
	for it.Next() {
		if m, ok := it.Node().(*onnxNode); ok {
			names[m.name] = true
		}
	}
	return names
}

// decodeWithOnnxGo runs onnx-go's decoder on data into a fresh onnxGraph.
// onnx-go panics on some inputs (zero-size tensors, tensors whose data does
// not match their dims, self edges in the graph): panics become errors.
func decodeWithOnnxGo(data []byte) (g *onnxGraph, m *onnx.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, m = nil, nil
			err = fmt.Errorf("onnx-go panicked: %v", r)
		}
	}()
	g = newOnnxGraph()
	m = onnx.NewModel(g)
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, nil, err
	}
	return g, m, nil
}
