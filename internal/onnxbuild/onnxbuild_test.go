package onnxbuild

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
)

func parse(t *testing.T, b []byte) *onnxpb.ModelProto {
	t.Helper()
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestBuilder(t *testing.T) {
	b := New("tiny", 13)
	b.SetDocString("doc")
	x := b.Input("x", []int64{-1, 3})
	w := b.Initializer("fc1.weight", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	bias := b.Initializer("fc1.bias", []int64{2}, []float32{0.5, -0.5})
	h := b.Node("Gemm", []string{x, w, bias}, map[string]any{
		"transB": int64(1), "alpha": float32(1), "beta": 1.0, "z_ints": []int64{1, 2},
		"floats": []float32{0.25}, "mode": "constant", "ints2": []int{3}, "strs": []string{"a"},
	})
	r := b.Node("Relu", []string{h}, nil)
	y := b.NodeOutputs("Mul", []string{r, r}, []string{"y"}, nil)[0]
	b.Output(y, []int64{0, 2})
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, raw)
	if m.IrVersion != 8 || m.ProducerName != "fhec" || m.DocString != "doc" {
		t.Errorf("header: ir %d producer %q doc %q", m.IrVersion, m.ProducerName, m.DocString)
	}
	if len(m.OpsetImport) != 1 || m.OpsetImport[0].Domain != "" || m.OpsetImport[0].Version != 13 {
		t.Errorf("opset %v", m.OpsetImport)
	}
	g := m.Graph
	if g.Name != "tiny" || len(g.Input) != 1 || len(g.Output) != 1 || len(g.Initializer) != 2 || len(g.Node) != 3 {
		t.Fatalf("graph: %v", g)
	}
	in := g.Input[0]
	if in.Name != "x" || in.GetType().GetTensorType().GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		t.Errorf("input %v", in)
	}
	d := in.GetType().GetTensorType().GetShape().GetDim()
	if len(d) != 2 || d[0].GetDimParam() != "batch" || d[1].GetDimValue() != 3 {
		t.Errorf("input dims %v", d)
	}
	if od := g.Output[0].GetType().GetTensorType().GetShape().GetDim(); g.Output[0].Name != "y" || od[0].GetDimParam() != "batch" || od[1].GetDimValue() != 2 {
		t.Errorf("output %v", g.Output[0])
	}
	init := g.Initializer[0]
	if init.Name != "fc1.weight" || init.DataType != int32(onnxpb.TensorProto_FLOAT) || len(init.Dims) != 2 || init.FloatData[5] != 6 {
		t.Errorf("initializer %v", init)
	}
	gemm := g.Node[0]
	if gemm.OpType != "Gemm" || gemm.Name != "gemm_0" || gemm.Output[0] != h || h != "gemm_0" {
		t.Errorf("gemm node %v (output %q)", gemm, h)
	}
	var names []string
	for _, a := range gemm.Attribute {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "alpha,beta,floats,ints2,mode,strs,transB,z_ints" {
		t.Errorf("attributes not sorted: %s", got)
	}
	attr := map[string]*onnxpb.AttributeProto{}
	for _, a := range gemm.Attribute {
		attr[a.Name] = a
	}
	if a := attr["transB"]; a.Type != onnxpb.AttributeProto_INT || a.I != 1 {
		t.Errorf("transB %v", a)
	}
	if a := attr["beta"]; a.Type != onnxpb.AttributeProto_FLOAT || a.F != 1 {
		t.Errorf("beta %v", a)
	}
	if a := attr["mode"]; a.Type != onnxpb.AttributeProto_STRING || string(a.S) != "constant" {
		t.Errorf("mode %v", a)
	}
	if a := attr["z_ints"]; a.Type != onnxpb.AttributeProto_INTS || len(a.Ints) != 2 {
		t.Errorf("z_ints %v", a)
	}
	if a := attr["floats"]; a.Type != onnxpb.AttributeProto_FLOATS || a.Floats[0] != 0.25 {
		t.Errorf("floats %v", a)
	}
	if a := attr["strs"]; a.Type != onnxpb.AttributeProto_STRINGS || string(a.Strings[0]) != "a" {
		t.Errorf("strs %v", a)
	}
	if mul := g.Node[2]; mul.Input[0] != "relu_1" || mul.Input[1] != "relu_1" || mul.Output[0] != "y" {
		t.Errorf("mul %v", mul)
	}
	// Deterministic bytes, also across builders (attribute maps iterate randomly).
	for range 5 {
		b2 := New("tiny", 13)
		b2.SetDocString("doc")
		x := b2.Input("x", []int64{-1, 3})
		w := b2.Initializer("fc1.weight", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
		bias := b2.Initializer("fc1.bias", []int64{2}, []float32{0.5, -0.5})
		h := b2.Node("Gemm", []string{x, w, bias}, map[string]any{
			"transB": int64(1), "alpha": float32(1), "beta": 1.0, "z_ints": []int64{1, 2},
			"floats": []float32{0.25}, "mode": "constant", "ints2": []int{3}, "strs": []string{"a"},
		})
		r := b2.Node("Relu", []string{h}, nil)
		b2.Output(b2.NodeOutputs("Mul", []string{r, r}, []string{"y"}, nil)[0], []int64{0, 2})
		again, err := b2.Marshal()
		if err != nil || !bytes.Equal(raw, again) {
			t.Fatal("Marshal is not deterministic")
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *Builder)
		want  string
	}{
		{"undefined input", func(b *Builder) { b.Output(b.Node("Relu", []string{"nope"}, nil), []int64{1}) }, `input "nope" is not defined`},
		{"duplicate", func(b *Builder) {
			b.Input("x", []int64{1})
			b.Initializer("x", []int64{1}, []float32{1})
		}, "already defined"},
		{"bad attr", func(b *Builder) {
			x := b.Input("x", []int64{1})
			b.Output(b.Node("Relu", []string{x}, map[string]any{"a": true}), []int64{1})
		}, "unsupported value type bool"},
		{"initializer size", func(b *Builder) { b.Initializer("w", []int64{2, 2}, []float32{1}) }, "needs 4 values, got 1"},
		{"bad dim", func(b *Builder) { b.Input("x", []int64{-3}) }, "invalid dimension -3"},
		{"undefined output", func(b *Builder) { b.Output("y", []int64{1}) }, `output "y" is not defined`},
		{"no outputs", func(b *Builder) { b.Input("x", []int64{1}) }, "no outputs"},
		{"empty name", func(b *Builder) { b.Input("", []int64{1}) }, "empty name"},
	}
	for _, c := range cases {
		b := New("bad", 13)
		c.build(b)
		_, err := b.Marshal()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := New("x", 0).Marshal(); err == nil {
		t.Error("opset 0: no error")
	}
}

// run interprets the few operators RandomMLP emits, independently of
// MLP.Forward, on a batch laid out row-major.
func run(t *testing.T, m *onnxpb.ModelProto, x []float64, batch int) []float64 {
	t.Helper()
	vals := map[string][]float64{m.Graph.Input[0].Name: x}
	shapes := map[string][]int64{}
	inits := map[string]*onnxpb.TensorProto{}
	for _, in := range m.Graph.Initializer {
		inits[in.Name] = in
		shapes[in.Name] = in.Dims
	}
	for _, n := range m.Graph.Node {
		switch n.OpType {
		case "Flatten", "Reshape":
			vals[n.Output[0]] = vals[n.Input[0]]
		case "Relu":
			in := vals[n.Input[0]]
			out := make([]float64, len(in))
			for i, v := range in {
				out[i] = math.Max(v, 0)
			}
			vals[n.Output[0]] = out
		case "Mul":
			a, b := vals[n.Input[0]], vals[n.Input[1]]
			out := make([]float64, len(a))
			for i := range a {
				out[i] = a[i] * b[i]
			}
			vals[n.Output[0]] = out
		case "Gemm":
			w, bias := inits[n.Input[1]], inits[n.Input[2]]
			o, k := int(w.Dims[0]), int(w.Dims[1])
			in := vals[n.Input[0]]
			out := make([]float64, batch*o)
			for s := range batch {
				for j := range o {
					acc := float64(bias.FloatData[j])
					for l := range k {
						acc += float64(w.FloatData[j*k+l]) * in[s*k+l]
					}
					out[s*o+j] = acc
				}
			}
			vals[n.Output[0]] = out
		default:
			t.Fatalf("unexpected op %s", n.OpType)
		}
	}
	return vals[m.Graph.Output[0].Name]
}

func TestRandomMLP(t *testing.T) {
	cases := []struct {
		act   string
		opts  []MLPOption
		ops   string
		inDim []string
	}{
		{"relu", nil, "Gemm,Relu,Gemm,Relu,Gemm", []string{"batch", "6"}},
		{"square", []MLPOption{WithFlatten(1, 2, 3)}, "Flatten,Gemm,Mul,Gemm,Mul,Gemm", []string{"batch", "1", "2", "3"}},
		{"relu", []MLPOption{WithReshape(2, 3), WithBatch(4), WithOpset(11), WithName("r")}, "Reshape,Gemm,Relu,Gemm,Relu,Gemm", []string{"4", "2", "3"}},
	}
	sizes := []int{6, 5, 4, 2}
	for _, c := range cases {
		raw, err := RandomMLP(7, sizes, c.act, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, raw)
		var ops []string
		for _, n := range m.Graph.Node {
			ops = append(ops, n.OpType)
			if n.OpType == "Gemm" && (len(n.Attribute) != 1 || n.Attribute[0].Name != "transB" || n.Attribute[0].I != 1) {
				t.Errorf("gemm attributes %v", n.Attribute)
			}
			if n.OpType == "Mul" && n.Input[0] != n.Input[1] {
				t.Errorf("square is not Mul(x, x): %v", n.Input)
			}
			if n.OpType == "Flatten" && n.Attribute[0].I != 1 {
				t.Errorf("flatten axis %v", n.Attribute)
			}
		}
		if got := strings.Join(ops, ","); got != c.ops {
			t.Errorf("%s: ops %s, want %s", c.act, got, c.ops)
		}
		in := m.Graph.Input[0]
		var got []string
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				got = append(got, d.GetDimParam())
			} else {
				got = append(got, strconv.FormatInt(d.GetDimValue(), 10))
			}
		}
		if strings.Join(got, ",") != strings.Join(c.inDim, ",") || in.Name != InputName || m.Graph.Output[0].Name != OutputName {
			t.Errorf("input %v %v", in.Name, got)
		}
		if len(m.Graph.Initializer) < 6 || m.Graph.Initializer[len(m.Graph.Initializer)-2].Name != "fc3.weight" {
			t.Errorf("initializers %v", m.Graph.Initializer)
		}
		for _, init := range m.Graph.Initializer {
			if init.Name == "reshape.shape" && (init.DataType != int32(onnxpb.TensorProto_INT64) || init.Int64Data[0] != -1 || init.Int64Data[1] != 6) {
				t.Errorf("reshape shape %v", init)
			}
		}
		// The graph computes what Forward computes.
		mlp, err := NewRandomMLP(7, sizes, c.act, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, 3*6)
		for i := range x {
			x[i] = math.Sin(float64(i))
		}
		want, err := mlp.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		gotY := run(t, m, x, 3)
		if len(gotY) != len(want) || len(want) != 3*2 {
			t.Fatalf("output sizes %d %d", len(gotY), len(want))
		}
		for i := range want {
			if math.Abs(gotY[i]-want[i]) > 1e-12 {
				t.Fatalf("output %d: graph %v, Forward %v", i, gotY[i], want[i])
			}
		}
		again, _ := RandomMLP(7, sizes, c.act, c.opts...)
		if !bytes.Equal(raw, again) {
			t.Error("RandomMLP is not deterministic")
		}
	}
	a, _ := RandomMLP(1, sizes, "relu")
	b, _ := RandomMLP(2, sizes, "relu")
	if bytes.Equal(a, b) {
		t.Error("different seeds gave the same model")
	}
}

func TestRandomMLPErrors(t *testing.T) {
	cases := []struct {
		sizes []int
		act   string
		opts  []MLPOption
		want  string
	}{
		{[]int{3}, "relu", nil, "at least 2"},
		{[]int{3, 0}, "relu", nil, "positive"},
		{[]int{3, 2}, "softsign", nil, "activation"},
		{[]int{6, 2}, "relu", []MLPOption{WithFlatten(2, 2)}, "hold 4 values"},
		{[]int{6, 2}, "relu", []MLPOption{func(m *MLP) { m.InputDims = []int64{2, 3} }}, "need WithFlatten"},
	}
	for _, c := range cases {
		if _, err := RandomMLP(1, c.sizes, c.act, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: got %v, want %q", c.sizes, c.act, err, c.want)
		}
	}
}
