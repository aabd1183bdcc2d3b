package frontend

import (
	"math"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// Hand-built models for the neural-network ops: older opsets' attribute
// forms, auto_pad resolution and values computed by hand.

func attrF(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func attrS(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

func arr(shape []int, v ...float64) ir.Array { return ir.Array{Shape: shape, Data: v} }

// one runs a one-node model: op on input x of shape xs (a parameter), with
// initializers, and returns the function and its result on xv.
func one(t *testing.T, opset int64, n *onnxpb.NodeProto, xs []int, xv []float64, inits ...*onnxpb.TensorProto) (*ir.Func, ir.Array) {
	t.Helper()
	dims := make([]any, len(xs))
	for i, d := range xs {
		dims[i] = d
	}
	spec := graphSpec{opset: opset, nodes: []*onnxpb.NodeProto{n}, inits: inits,
		inputs: []*onnxpb.ValueInfoProto{vi("x", dims...)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	f := load(t, spec.bytes(t), Options{})
	return f, interp(t, f, arr(xs, xv...))[0]
}

func oneErr(t *testing.T, opset int64, n *onnxpb.NodeProto, xs []int, inits []*onnxpb.TensorProto, parts ...string) {
	t.Helper()
	dims := make([]any, len(xs))
	for i, d := range xs {
		dims[i] = d
	}
	spec := graphSpec{opset: opset, nodes: []*onnxpb.NodeProto{n}, inits: inits,
		inputs: []*onnxpb.ValueInfoProto{vi("x", dims...)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	_, err := Load(spec.bytes(t), Options{})
	wantErr(t, err, parts...)
}

func TestConvAutoPad(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	w := floatTensor("w", []int64{1, 1, 2}, 1, 10)
	for _, tc := range []struct {
		autoPad string
		pads    []int64
		want    []float64
	}{
		// out = ceil(5/2) = 3, total padding 1
		{"SAME_LOWER", []int64{1, 0}, []float64{10, 32, 54}}, // [0 1 2 3 4 5]
		{"SAME_UPPER", []int64{0, 1}, []float64{21, 43, 5}},  // [1 2 3 4 5 0]
		{"VALID", []int64{0, 0}, []float64{21, 43}},
	} {
		t.Run(tc.autoPad, func(t *testing.T) {
			n := node("Conv", "c", []string{"x", "w"}, []string{"y"}, attrS("auto_pad", tc.autoPad), attrInts("strides", 2))
			f, y := one(t, 7, n, []int{1, 1, 5}, x, w)
			wantData(t, y, []int{1, 1, len(tc.want)}, tc.want...)
			var conv *ir.Op
			for _, o := range f.Ops {
				if o.Code == "conv" {
					conv = o
				}
			}
			if conv == nil || !equalInt64s(conv.Ints("pads"), tc.pads) || conv.Int("group", 0) != 1 ||
				!equalInt64s(conv.Ints("strides"), []int64{2}) || !equalInt64s(conv.Ints("dilations"), []int64{1}) {
				t.Fatalf("conv attributes %v, want pads %v", conv.Attrs, tc.pads)
			}
		})
	}
	oneErr(t, 13, node("Conv", "c", []string{"x", "w"}, []string{"y"}, attrS("auto_pad", "SAME")), []int{1, 1, 5}, []*onnxpb.TensorProto{w}, "auto_pad \"SAME\"")
	oneErr(t, 13, node("Conv", "c", []string{"x", "w"}, []string{"y"}, attrInts("kernel_shape", 3)), []int{1, 1, 5}, []*onnxpb.TensorProto{w}, "kernel_shape [3] differs")
}

func TestConvDepthwiseBias(t *testing.T) {
	n := node("Conv", "dw", []string{"x", "w", "b"}, []string{"y"}, attrInt("group", 2))
	_, y := one(t, 11, n, []int{1, 2, 2, 2}, []float64{1, 2, 3, 4, 5, 6, 7, 8},
		floatTensor("w", []int64{2, 1, 1, 1}, 2, 3), floatTensor("b", []int64{2}, 10, 20))
	wantData(t, y, []int{1, 2, 2, 2}, 12, 14, 16, 18, 35, 38, 41, 44)
	// 2x2 kernel, dilation 2 on a 3x3 input: the four corners
	n = node("Conv", "dil", []string{"x", "w"}, []string{"y"}, attrInts("dilations", 2, 2))
	_, y = one(t, 11, n, []int{1, 1, 3, 3}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9},
		floatTensor("w", []int64{1, 1, 2, 2}, 1, 10, 100, 1000))
	wantData(t, y, []int{1, 1, 1, 1}, 1+30+700+9000)
	// group that does not divide the channels
	oneErr(t, 11, node("Conv", "g", []string{"x", "w"}, []string{"y"}, attrInt("group", 2)), []int{1, 3, 2, 2}, []*onnxpb.TensorProto{floatTensor("w", []int64{2, 1, 1, 1}, 1, 1)}, "group 2")
}

func TestPools(t *testing.T) {
	// ceil_mode keeps a partial last window ...
	_, y := one(t, 10, node("MaxPool", "m", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 2), attrInts("strides", 2), attrInt("ceil_mode", 1)),
		[]int{1, 1, 5}, []float64{1, 5, 2, 4, 3})
	wantData(t, y, []int{1, 1, 3}, 5, 4, 3)
	// ... but not one that would start in the end padding
	_, y = one(t, 10, node("AveragePool", "a", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 2), attrInts("strides", 2),
		attrInts("pads", 0, 1), attrInt("ceil_mode", 1)), []int{1, 1, 4}, []float64{1, 2, 3, 4})
	wantData(t, y, []int{1, 1, 2}, 1.5, 3.5)
	// count_include_pad: the pads count in the divisor, or not
	for cip, want := range [][]float64{{1, 1.5, 2.5, 3}, {0.5, 1.5, 2.5, 1.5}} {
		_, y = one(t, 7, node("AveragePool", "a", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 2), attrInts("pads", 1, 1),
			attrInt("count_include_pad", int64(cip))), []int{1, 1, 3}, []float64{1, 2, 3})
		wantData(t, y, []int{1, 1, 4}, want...)
	}
	// MaxPool's Indices output may be named as long as nobody uses it
	spec := graphSpec{opset: 12, nodes: []*onnxpb.NodeProto{node("MaxPool", "m", []string{"x"}, []string{"y", "idx"}, attrInts("kernel_shape", 2))},
		inputs: []*onnxpb.ValueInfoProto{vi("x", 1, 1, 2)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	f := load(t, spec.bytes(t), Options{})
	wantData(t, interp(t, f, arr([]int{1, 1, 2}, -3, -4))[0], []int{1, 1, 1}, -3)
	spec.outputs = append(spec.outputs, &onnxpb.ValueInfoProto{Name: "idx"})
	_, err := Load(spec.bytes(t), Options{})
	wantErr(t, err, "Indices output of MaxPool is not supported")
	// dilations are not an AveragePool attribute before opset 19
	oneErr(t, 11, node("AveragePool", "a", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 2), attrInts("dilations", 2)),
		[]int{1, 1, 5}, nil, "dilations = [2] is not defined for AveragePool at opset 11")
	oneErr(t, 11, node("MaxPool", "m", []string{"x"}, []string{"y"}), []int{1, 1, 5}, nil, "missing kernel_shape")
	oneErr(t, 11, node("MaxPool", "m", []string{"x"}, []string{"y"}, attrInts("kernel_shape", 9)), []int{1, 1, 5}, nil, "larger than the padded input")
	// global pools
	_, y = one(t, 11, node("GlobalAveragePool", "g", []string{"x"}, []string{"y"}), []int{1, 2, 2}, []float64{1, 2, 3, 5})
	wantData(t, y, []int{1, 2, 1}, 1.5, 4)
}

func TestBatchNormOpsets(t *testing.T) {
	inits := []*onnxpb.TensorProto{floatTensor("s", []int64{2}, 2, 3), floatTensor("b", []int64{2}, 1, 1),
		floatTensor("m", []int64{2}, 0, 1), floatTensor("v", []int64{2}, 3, 8)}
	in := []string{"x", "s", "b", "m", "v"}
	for _, opset := range []int64{6, 7, 9, 15} {
		attrs := []*onnxpb.AttributeProto{attrF("epsilon", 1)}
		if opset == 6 {
			attrs = append(attrs, attrInt("is_test", 1))
		}
		_, y := one(t, opset, node("BatchNormalization", "bn", in, []string{"y"}, attrs...), []int{1, 2, 1, 1}, []float64{1, 2}, inits...)
		// 2*(1-0)/sqrt(3+1)+1 and 3*(2-1)/sqrt(8+1)+1
		wantData(t, y, []int{1, 2, 1, 1}, 2, 2)
	}
	spec := graphSpec{opset: 15, nodes: []*onnxpb.NodeProto{node("BatchNormalization", "bn", in, []string{"y"}, attrInt("training_mode", 1))},
		inits: inits, inputs: []*onnxpb.ValueInfoProto{vi("x", 1, 2, 1, 1)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	_, err := Load(spec.bytes(t), Options{})
	wantErr(t, err, "training_mode=1 is not supported")
}

func TestShapeOpsOldOpsets(t *testing.T) {
	// Squeeze/Unsqueeze with axes as attributes (opset < 13) become reshape
	f, y := one(t, 11, node("Squeeze", "s", []string{"x"}, []string{"y"}, attrInts("axes", -3)), []int{1, 3, 1}, []float64{1, 2, 3})
	wantData(t, y, []int{3, 1}, 1, 2, 3)
	if !strings.Contains(opCodes(f), "reshape") {
		t.Fatalf("squeeze gave %s", opCodes(f))
	}
	_, y = one(t, 11, node("Squeeze", "s", []string{"x"}, []string{"y"}), []int{1, 3, 1}, []float64{1, 2, 3})
	wantData(t, y, []int{3}, 1, 2, 3)
	_, y = one(t, 11, node("Unsqueeze", "u", []string{"x"}, []string{"y"}, attrInts("axes", 0, -1)), []int{3}, []float64{1, 2, 3})
	wantData(t, y, []int{1, 3, 1}, 1, 2, 3)
	oneErr(t, 11, node("Squeeze", "s", []string{"x"}, []string{"y"}, attrInts("axes", 1)), []int{1, 3, 1}, nil, "cannot squeeze dim 1")
	oneErr(t, 11, node("Unsqueeze", "u", []string{"x"}, []string{"y"}), []int{3}, nil, "missing axes")
	// opset 13: axes as a constant input
	_, y = one(t, 13, node("Unsqueeze", "u", []string{"x", "ax"}, []string{"y"}), []int{3}, []float64{1, 2, 3}, int64Tensor("ax", []int64{1}, 1))
	wantData(t, y, []int{3, 1}, 1, 2, 3)
	// Concat before opset 4 defaults to axis 1
	spec := graphSpec{opset: 1, nodes: []*onnxpb.NodeProto{node("Concat", "c", []string{"x", "k"}, []string{"y"})},
		inits: []*onnxpb.TensorProto{floatTensor("k", []int64{1, 1}, 9)}, inputs: []*onnxpb.ValueInfoProto{vi("x", 1, 2)},
		outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	f = load(t, spec.bytes(t), Options{})
	wantData(t, interp(t, f, arr([]int{1, 2}, 1, 2))[0], []int{1, 3}, 1, 2, 9)
	// Transpose without perm reverses the dims
	_, y = one(t, 13, node("Transpose", "t", []string{"x"}, []string{"y"}), []int{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	wantData(t, y, []int{3, 2}, 1, 4, 2, 5, 3, 6)
}

func TestPadForms(t *testing.T) {
	x := []float64{1, 2, 3}
	// opset 1: paddings; opset 2: pads and value attributes
	_, y := one(t, 1, node("Pad", "p", []string{"x"}, []string{"y"}, attrInts("paddings", 1, 2), attrF("value", 9)), []int{3}, x)
	wantData(t, y, []int{6}, 9, 1, 2, 3, 9, 9)
	_, y = one(t, 2, node("Pad", "p", []string{"x"}, []string{"y"}, attrInts("pads", 1, -1), attrF("value", 9)), []int{3}, x)
	wantData(t, y, []int{3}, 9, 1, 2)
	// opset 11: inputs; the other modes
	for mode, want := range map[string][]float64{
		"reflect": {3, 2, 1, 2, 3, 2},
		"edge":    {1, 1, 1, 2, 3, 3},
		"wrap":    {2, 3, 1, 2, 3, 1},
	} {
		_, y = one(t, 19, node("Pad", "p", []string{"x", "pads"}, []string{"y"}, attrS("mode", mode)), []int{3}, x,
			int64Tensor("pads", []int64{2}, 2, 1))
		wantData(t, y, []int{6}, want...)
	}
	oneErr(t, 11, node("Pad", "p", []string{"x", "pads"}, []string{"y"}, attrS("mode", "reflect")), []int{3},
		[]*onnxpb.TensorProto{int64Tensor("pads", []int64{2}, 3, 0)}, "reflect pads [3 0] exceed dim 0")
	// a pads input computed at run time is refused
	spec := graphSpec{opset: 11, nodes: []*onnxpb.NodeProto{node("Pad", "p", []string{"x", "q"}, []string{"y"})},
		inputs: []*onnxpb.ValueInfoProto{vi("x", 3), vi("q", 2)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	_, err := Load(spec.bytes(t), Options{})
	wantErr(t, err, "must be a constant")
}

func TestClipForms(t *testing.T) {
	x := []float64{-2, 0.5, 3}
	_, y := one(t, 6, node("Clip", "c", []string{"x"}, []string{"y"}, attrF("min", 0), attrF("max", 1)), []int{3}, x)
	wantData(t, y, []int{3}, 0, 0.5, 1)
	_, y = one(t, 6, node("Clip", "c", []string{"x"}, []string{"y"}, attrF("max", 1)), []int{3}, x)
	wantData(t, y, []int{3}, -2, 0.5, 1)
	// opset 11: optional inputs, here max only
	_, y = one(t, 11, node("Clip", "c", []string{"x", "", "hi"}, []string{"y"}), []int{3}, x, floatTensor("hi", nil, 0.25))
	wantData(t, y, []int{3}, -2, 0.25, 0.25)
}

func TestSoftmaxOpsets(t *testing.T) {
	x := []float64{math.Log(1), math.Log(2), math.Log(3), math.Log(4)}
	// opset 11: coerced to 2-D at axis 1, normalized over all four
	f, y := one(t, 11, node("Softmax", "s", []string{"x"}, []string{"y"}), []int{1, 2, 2}, x)
	wantData(t, y, []int{1, 2, 2}, 0.1, 0.2, 0.3, 0.4)
	if opCodes(f) != "reshape softmax reshape" {
		t.Fatalf("ops %s", opCodes(f))
	}
	// opset 13: along the last axis
	_, y = one(t, 13, node("Softmax", "s", []string{"x"}, []string{"y"}), []int{1, 2, 2}, x)
	wantData(t, y, []int{1, 2, 2}, 1.0/3, 2.0/3, 3.0/7, 4.0/7)
	_, y = one(t, 11, node("LogSoftmax", "s", []string{"x"}, []string{"y"}, attrInt("axis", 0)), []int{2, 2}, x)
	wantData(t, y, []int{2, 2}, math.Log(0.1), math.Log(0.2), math.Log(0.3), math.Log(0.4))
}

func TestArgMaxPowPRelu(t *testing.T) {
	x := []float64{1, 3, 3, 5, 4, 5}
	_, y := one(t, 13, node("ArgMax", "a", []string{"x"}, []string{"y"}, attrInt("axis", -1), attrInt("keepdims", 0)), []int{2, 3}, x)
	wantData(t, y, []int{2}, 1, 0)
	_, y = one(t, 13, node("ArgMax", "a", []string{"x"}, []string{"y"}, attrInt("axis", 1), attrInt("select_last_index", 1)), []int{2, 3}, x)
	wantData(t, y, []int{2, 1}, 2, 2)
	// Pow by a constant exponent; a computed exponent is refused
	_, y = one(t, 13, node("Pow", "p", []string{"x", "e"}, []string{"y"}), []int{3}, []float64{-2, 3, 0.5}, floatTensor("e", nil, 2))
	wantData(t, y, []int{3}, 4, 9, 0.25)
	spec := graphSpec{nodes: []*onnxpb.NodeProto{node("Pow", "p", []string{"x", "x"}, []string{"y"})},
		inputs: []*onnxpb.ValueInfoProto{vi("x", 3)}, outputs: []*onnxpb.ValueInfoProto{{Name: "y"}}}
	_, err := Load(spec.bytes(t), Options{})
	wantErr(t, err, "exponent must be constant")
	// PRelu: opset 6 applies a 1-D slope per channel
	_, y = one(t, 6, node("PRelu", "p", []string{"x", "s"}, []string{"y"}), []int{1, 2, 1, 2}, []float64{-1, 2, -3, 4},
		floatTensor("s", []int64{2}, 0.5, 0.25))
	wantData(t, y, []int{1, 2, 1, 2}, -0.5, 2, -0.75, 4)
	oneErr(t, 20, node("Gelu", "g", []string{"x"}, []string{"y"}, attrS("approximate", "fast")), []int{2}, nil, "approximate \"fast\"")
}

// TestDigitNames: value names that are all digits (old PyTorch exports)
// load; ir.Func.FreshName does not terminate on such hints, so the frontend
// prefixes them (the fuzzer found the hang).
func TestDigitNames(t *testing.T) {
	spec := graphSpec{nodes: []*onnxpb.NodeProto{
		node("Mul", "", []string{"0", "7"}, []string{"1"}),
		node("Relu", "", []string{"1"}, []string{"2"}),
	},
		inits:   []*onnxpb.TensorProto{floatTensor("7", nil, 2)},
		inputs:  []*onnxpb.ValueInfoProto{vi("0", 2)},
		outputs: []*onnxpb.ValueInfoProto{vi("2", 2)},
	}
	f := load(t, spec.bytes(t), Options{})
	wantData(t, interp(t, f, arr([]int{2}, -1, 3))[0], []int{2}, 0, 6)
}
