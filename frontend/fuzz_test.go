package frontend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// FuzzLoad: Load never panics (a recovered panic of the frontend's own code
// counts as a failure; onnx-go's recovered panics are ordinary errors), and
// what it returns verifies and interprets.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x08\x07\x3a\x00"))
	f.Add(squareModel().bytes(f))
	legacy := graphSpec{
		opset:   6,
		nodes:   []*onnxpb.NodeProto{node("Add", "add", []string{"a", "b"}, []string{"y"}, attrInt("broadcast", 1), attrInt("axis", 1))},
		inits:   []*onnxpb.TensorProto{floatTensor("b", []int64{3}, 100, 200, 300)},
		inputs:  []*onnxpb.ValueInfoProto{vi("a", 2, 3, 4)},
		outputs: []*onnxpb.ValueInfoProto{vi("y", 2, 3, 4)},
	}
	f.Add(legacy.bytes(f))
	misc := graphSpec{
		nodes: []*onnxpb.NodeProto{
			node("Constant", "c", nil, []string{"c"}, attrFloats("value_floats", 1, 2, 4)),
			node("Neg", "neg", []string{"x"}, []string{"n"}),
			node("Sub", "sub", []string{"n", "c"}, []string{"s"}),
			node("Div", "div", []string{"s", "c"}, []string{"d"}),
			node("Dropout", "drop", []string{"d"}, []string{"o"}),
			node("Reshape", "r", []string{"o", "shape"}, []string{"r"}),
			node("MatMul", "mm", []string{"r", "w"}, []string{"y"}),
		},
		inits:   []*onnxpb.TensorProto{int64Tensor("shape", []int64{2}, -1, 0), floatTensor("w", []int64{3, 1}, 1, 1, 1)},
		inputs:  []*onnxpb.ValueInfoProto{vi("x", "N", 3)},
		outputs: []*onnxpb.ValueInfoProto{vi("y", "N", 1)},
	}
	f.Add(misc.bytes(f))
	cnn := graphSpec{
		opset: 11,
		nodes: []*onnxpb.NodeProto{
			node("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, attrInts("pads", 1, 1, 1, 1), attrInts("strides", 2, 2)),
			node("BatchNormalization", "bn", []string{"c", "s", "b", "m", "v"}, []string{"n"}),
			node("MaxPool", "mp", []string{"n"}, []string{"p"}, attrInts("kernel_shape", 2, 2), attrInt("ceil_mode", 1)),
			node("Pad", "pad", []string{"p", "pads"}, []string{"q"}),
			node("AveragePool", "ap", []string{"q"}, []string{"a"}, attrInts("kernel_shape", 2, 2), attrInt("count_include_pad", 1)),
			node("Transpose", "tr", []string{"a"}, []string{"t"}, attrInts("perm", 0, 2, 3, 1)),
			node("Squeeze", "sq", []string{"t"}, []string{"u"}, attrInts("axes", 0)),
			node("Softmax", "sm", []string{"u"}, []string{"y"}),
		},
		inits: []*onnxpb.TensorProto{floatTensor("w", []int64{2, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1),
			floatTensor("b", []int64{2}, 1, -1), floatTensor("s", []int64{2}, 1, 2), floatTensor("m", []int64{2}, 0, 1),
			floatTensor("v", []int64{2}, 1, 4), int64Tensor("pads", []int64{8}, 0, 0, 1, 0, 0, 0, 0, 1)},
		inputs:  []*onnxpb.ValueInfoProto{vi("x", 1, 1, 8, 8)},
		outputs: []*onnxpb.ValueInfoProto{vi("y", 3, 3, 2)},
	}
	f.Add(cnn.bytes(f))
	for _, m := range []string{"mnist2x10", "cryptonets", "mnist-onnx-go"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata", "models", m, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fn, err := Load(data, Options{})
		if err != nil {
			if strings.Contains(err.Error(), "recovered panic") || !strings.HasPrefix(err.Error(), "frontend:") {
				t.Fatalf("bad error: %v", err)
			}
			return
		}
		if err := ir.Verify(fn); err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, p := range fn.Params {
			size += p.Type.NumElements()
		}
		for _, o := range fn.Ops {
			size += o.Results[0].Type.NumElements()
		}
		if size > 1<<20 {
			return
		}
		inputs := make([]ir.Array, len(fn.Params))
		for i, p := range fn.Params {
			inputs[i] = ir.NewArray(p.Type.Shape)
		}
		if _, err := ir.Interpret(fn, inputs); err != nil {
			t.Fatalf("loaded function does not interpret: %v", err)
		}
	})
}
