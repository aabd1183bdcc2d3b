package ir

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// nn1 builds and runs a one-op function on inputs (all parameters).
func nn1(t *testing.T, code string, attrs map[string]Attr, in ...Array) Array {
	t.Helper()
	shapes := make([][]int, len(in))
	for i, a := range in {
		shapes[i] = a.Shape
	}
	f := build(t, shapes, func(f *Func, ps []*Value) []*Value {
		return []*Value{must(t)(f.Append(code, "y", attrs, ps...))}
	})
	return run1(t, f, in...)
}

func TestNNConvPool(t *testing.T) {
	ones := func(shape ...int) Array {
		a := NewArray(shape)
		for i := range a.Data {
			a.Data[i] = 1
		}
		return a
	}
	// 2x2 ones kernel over a 3x3 ones input, pads 1, stride 2: the windows
	// at (-1,-1), (-1,1), (1,-1), (1,1) see 1, 2, 2 and 4 input cells
	y := nn1(t, "conv", map[string]Attr{"strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}}, ones(1, 1, 3, 3), ones(1, 1, 2, 2))
	checkArray(t, y, []int{1, 1, 2, 2}, 1, 2, 2, 4)
	// two output channels from two input channels with a bias
	x := arr([]int{1, 2, 1, 2}, 1, 2, 3, 4)
	w := arr([]int{2, 2, 1, 1}, 1, 10, -1, 0)
	y = nn1(t, "conv", nil, x, w, arr([]int{2}, 100, 200))
	checkArray(t, y, []int{1, 2, 1, 2}, 131, 142, 199, 198)
	// depthwise: each channel by its own kernel
	y = nn1(t, "conv", map[string]Attr{"group": int64(2)}, x, arr([]int{2, 1, 1, 2}, 1, 1, 2, -1))
	checkArray(t, y, []int{1, 2, 1, 1}, 3, 2)

	p := arr([]int{1, 1, 2, 3}, 1, 5, 2, 4, 3, 6)
	y = nn1(t, "maxpool", map[string]Attr{"kernel_shape": []int64{2, 2}}, p)
	checkArray(t, y, []int{1, 1, 1, 2}, 5, 6)
	y = nn1(t, "averagepool", map[string]Attr{"kernel_shape": []int64{2, 2}}, p)
	checkArray(t, y, []int{1, 1, 1, 2}, 3.25, 4)
	// pads 1 on the right of the width: the last window holds 2 cells (4 with the pads counted)
	y = nn1(t, "averagepool", map[string]Attr{"kernel_shape": []int64{2, 2}, "strides": []int64{1, 2}, "pads": []int64{0, 0, 0, 1}}, p)
	checkArray(t, y, []int{1, 1, 1, 2}, 3.25, 4)
	y = nn1(t, "averagepool", map[string]Attr{"kernel_shape": []int64{2, 2}, "strides": []int64{1, 2}, "pads": []int64{0, 0, 0, 1}, "count_include_pad": int64(1)}, p)
	checkArray(t, y, []int{1, 1, 1, 2}, 3.25, 2)
	y = nn1(t, "maxpool", map[string]Attr{"kernel_shape": []int64{1, 2}, "strides": []int64{1, 2}, "ceil_mode": int64(1)}, p)
	checkArray(t, y, []int{1, 1, 2, 2}, 5, 2, 4, 6)
	y = nn1(t, "globalmaxpool", nil, p)
	checkArray(t, y, []int{1, 1, 1, 1}, 6)
	y = nn1(t, "globalaveragepool", nil, p)
	checkArray(t, y, []int{1, 1, 1, 1}, 3.5)
}

func TestNNShapes(t *testing.T) {
	x := arr([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	checkArray(t, nn1(t, "transpose", map[string]Attr{"perm": []int64{1, 0}}, x), []int{3, 2}, 1, 4, 2, 5, 3, 6)
	x3 := arr([]int{1, 2, 3}, 1, 2, 3, 4, 5, 6)
	checkArray(t, nn1(t, "transpose", map[string]Attr{"perm": []int64{2, 0, 1}}, x3), []int{3, 1, 2}, 1, 4, 2, 5, 3, 6)
	checkArray(t, nn1(t, "concat", map[string]Attr{"axis": int64(1)}, x, arr([]int{2, 1}, 7, 8)), []int{2, 4}, 1, 2, 3, 7, 4, 5, 6, 8)
	checkArray(t, nn1(t, "concat", map[string]Attr{"axis": int64(0)}, x, arr([]int{1, 3}, 7, 8, 9)), []int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	checkArray(t, nn1(t, "pad", map[string]Attr{"pads": []int64{1, 0, 0, -1}, "value": 9.0}, x), []int{3, 2}, 9, 9, 1, 2, 4, 5)
	checkArray(t, nn1(t, "pad", map[string]Attr{"pads": []int64{0, 1, 0, 1}, "mode": "edge"}, x), []int{2, 5}, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6)
	checkArray(t, nn1(t, "pad", map[string]Attr{"pads": []int64{0, 2, 0, 0}, "mode": "reflect"}, x), []int{2, 5}, 3, 2, 1, 2, 3, 6, 5, 4, 5, 6)
	checkArray(t, nn1(t, "argmax", map[string]Attr{"axis": int64(0)}, arr([]int{2, 2}, 1, 4, 3, 4)), []int{1, 2}, 1, 0)
	checkArray(t, nn1(t, "argmax", map[string]Attr{"axis": int64(0), "keepdims": int64(0), "select_last_index": int64(1)}, arr([]int{2, 2}, 1, 4, 3, 4)), []int{2}, 1, 1)
}

func TestNNElementwise(t *testing.T) {
	x := arr([]int{5}, -3, -1, 0, 1, 3)
	e := math.Exp
	cases := []struct {
		code  string
		attrs map[string]Attr
		want  []float64
	}{
		{"sigmoid", nil, []float64{1 / (1 + e(3)), 1 / (1 + e(1)), 0.5, 1 / (1 + e(-1)), 1 / (1 + e(-3))}},
		{"tanh", nil, []float64{math.Tanh(-3), math.Tanh(-1), 0, math.Tanh(1), math.Tanh(3)}},
		{"erf", nil, []float64{math.Erf(-3), math.Erf(-1), 0, math.Erf(1), math.Erf(3)}},
		{"softplus", nil, []float64{math.Log(1 + e(-3)), math.Log(1 + e(-1)), math.Ln2, math.Log(1 + e(1)), math.Log(1 + e(3))}},
		{"abs", nil, []float64{3, 1, 0, 1, 3}},
		{"sign", nil, []float64{-1, -1, 0, 1, 1}},
		{"hardswish", nil, []float64{0, -1.0 / 3, 0, 2.0 / 3, 3}},
		{"hardsigmoid", map[string]Attr{"alpha": 0.25, "beta": 0.5}, []float64{0, 0.25, 0.5, 0.75, 1}},
		{"leakyrelu", map[string]Attr{"alpha": 0.5}, []float64{-1.5, -0.5, 0, 1, 3}},
		{"elu", map[string]Attr{"alpha": 2.0}, []float64{2 * (e(-3) - 1), 2 * (e(-1) - 1), 0, 1, 3}},
		{"selu", map[string]Attr{"alpha": 2.0, "gamma": 3.0}, []float64{6 * (e(-3) - 1), 6 * (e(-1) - 1), 0, 3, 9}},
		{"mish", nil, []float64{-3 * math.Tanh(math.Log(1+e(-3))), -math.Tanh(math.Log(1 + e(-1))), 0, math.Tanh(math.Log(1 + e(1))), 3 * math.Tanh(math.Log(1+e(3)))}},
		{"gelu", nil, []float64{-3 * 0.5 * (1 + math.Erf(-3/math.Sqrt2)), -0.15865525393145707, 0, 0.8413447460685429, 3 * 0.5 * (1 + math.Erf(3/math.Sqrt2))}},
		{"clip", map[string]Attr{"min": -1.0, "max": 2.0}, []float64{-1, -1, 0, 1, 2}},
		{"clip", map[string]Attr{"min": 2.0, "max": 1.0}, []float64{1, 1, 1, 1, 1}},
		{"clip", map[string]Attr{"max": 0.5}, []float64{-3, -1, 0, 0.5, 0.5}},
	}
	for _, tc := range cases {
		y := nn1(t, tc.code, tc.attrs, x)
		for i, w := range tc.want {
			if math.Abs(y.Data[i]-w) > 1e-12 {
				t.Errorf("%s(%v) = %v, want %v", tc.code, x.Data[i], y.Data[i], w)
			}
		}
	}
	g := nn1(t, "gelu", map[string]Attr{"approximate": "tanh"}, arr([]int{1}, 1))
	if math.Abs(g.Data[0]-0.8411919906082768) > 1e-12 {
		t.Errorf("gelu tanh(1) = %v", g.Data[0])
	}
	pos := arr([]int{3}, 0.25, 1, 4)
	checkArray(t, nn1(t, "sqrt", nil, pos), []int{3}, 0.5, 1, 2)
	checkArray(t, nn1(t, "reciprocal", nil, pos), []int{3}, 4, 1, 0.25)
	checkArray(t, nn1(t, "log", nil, arr([]int{2}, 1, math.E)), []int{2}, 0, 1)
	checkArray(t, nn1(t, "exp", nil, arr([]int{2}, 0, 1)), []int{2}, 1, math.E)
	// no overflow for large arguments
	big := nn1(t, "softplus", nil, arr([]int{2}, 1000, -1000))
	if big.Data[0] != 1000 || big.Data[1] != 0 {
		t.Errorf("softplus(±1000) = %v", big.Data)
	}
	checkArray(t, nn1(t, "sum", nil, arr([]int{2, 1}, 1, 2), arr([]int{2}, 10, 20), arr(nil, 100)), []int{2, 2}, 111, 121, 112, 122)
	checkArray(t, nn1(t, "mean", nil, arr([]int{2}, 1, 2), arr([]int{2}, 3, 6)), []int{2}, 2, 4)
	checkArray(t, nn1(t, "pow", nil, arr([]int{3}, 2, -3, 4), arr(nil, 2)), []int{3}, 4, 9, 16)
	checkArray(t, nn1(t, "prelu", nil, arr([]int{2, 2}, -1, 1, -2, 2), arr([]int{2}, 0.5, 3)), []int{2, 2}, -0.5, 1, -1, 2)
	sm := nn1(t, "softmax", map[string]Attr{"axis": int64(0)}, arr([]int{2, 1}, 1000, 1000+math.Log(3)))
	checkArray(t, sm, []int{2, 1}, 0.25, 0.75)
	lsm := nn1(t, "logsoftmax", map[string]Attr{"axis": int64(1)}, arr([]int{1, 2}, 0, math.Log(3)))
	checkArray(t, lsm, []int{1, 2}, math.Log(0.25), math.Log(0.75))
	bn := nn1(t, "batchnorm", map[string]Attr{"epsilon": 1.0}, arr([]int{1, 2, 2}, 1, 3, 2, 4),
		arr([]int{2}, 2, 3), arr([]int{2}, 1, 0), arr([]int{2}, 1, 1), arr([]int{2}, 3, 8))
	checkArray(t, bn, []int{1, 2, 2}, 1, 3, 1, 3)
}

func TestNNTypeRules(t *testing.T) {
	f := NewFunc("t")
	x := f.AddParam("x", Tensor([]int{1, 2, 5, 5}, true))
	w := f.AddParam("w", Tensor([]int{4, 2, 3, 3}, false))
	for _, tc := range []struct {
		code  string
		attrs map[string]Attr
		args  []*Value
		want  string // a substring of the error, or the result shape
	}{
		{"conv", map[string]Attr{"pads": []int64{1, 1, 1, 1}, "strides": []int64{2, 2}}, []*Value{x, w}, "[1 4 3 3]"},
		{"conv", map[string]Attr{"dilations": []int64{2, 2}}, []*Value{x, w}, "[1 4 1 1]"},
		{"conv", map[string]Attr{"group": int64(2)}, []*Value{x, w}, "do not fit"},
		{"conv", map[string]Attr{"pads": []int64{1, 1}}, []*Value{x, w}, "want 4"},
		{"conv", map[string]Attr{"strides": []int64{0, 1}}, []*Value{x, w}, "out of range"},
		{"conv", map[string]Attr{"strides": "2"}, []*Value{x, w}, "want []int64"},
		{"conv", nil, []*Value{x, w, x}, "bias"},
		{"maxpool", map[string]Attr{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, []*Value{x}, "[1 2 2 2]"},
		{"maxpool", map[string]Attr{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}, "ceil_mode": int64(1)}, []*Value{x}, "[1 2 3 3]"},
		{"maxpool", map[string]Attr{"kernel_shape": []int64{2, 2}, "ceil_mode": int64(2)}, []*Value{x}, "0 or 1"},
		{"maxpool", nil, []*Value{x}, "kernel_shape"},
		{"averagepool", map[string]Attr{"kernel_shape": []int64{6, 6}}, []*Value{x}, "larger than the padded input"},
		{"globalaveragepool", nil, []*Value{x}, "[1 2 1 1]"},
		{"transpose", map[string]Attr{"perm": []int64{0, 0, 1, 2}}, []*Value{x}, "not a permutation"},
		{"transpose", nil, []*Value{x}, "missing perm"},
		{"transpose", map[string]Attr{"perm": []int64{3, 2, 1, 0}}, []*Value{x}, "[5 5 2 1]"},
		{"concat", map[string]Attr{"axis": int64(1)}, []*Value{x, w}, "axis 1"},
		{"concat", map[string]Attr{"axis": int64(0)}, []*Value{x, x}, "[2 2 5 5]"},
		{"concat", nil, []*Value{x, x}, "missing axis"},
		{"pad", map[string]Attr{"pads": []int64{0, 0, 1, 1, 0, 0, 1, 1}}, []*Value{x}, "[1 2 7 7]"},
		{"pad", map[string]Attr{"pads": []int64{0, 0, 5, 0, 0, 0, 0, 0}, "mode": "reflect"}, []*Value{x}, "exceed"},
		{"pad", map[string]Attr{"pads": []int64{0, 0, 0, 0, 0, 0, 0, 0}, "mode": "mirror"}, []*Value{x}, "mode"},
		{"pad", map[string]Attr{"pads": []int64{0, 0, -6, 0, 0, 0, 0, 0}}, []*Value{x}, "crop"},
		{"argmax", map[string]Attr{"axis": int64(1), "keepdims": int64(0)}, []*Value{x}, "[1 5 5]"},
		{"argmax", map[string]Attr{"axis": int64(4)}, []*Value{x}, "out of range"},
		{"softmax", map[string]Attr{"axis": int64(-1)}, []*Value{x}, "out of range"},
		{"gelu", map[string]Attr{"approximate": "fast"}, []*Value{x}, "approximate"},
		{"prelu", nil, []*Value{w, x}, "broadcast"},
		{"batchnorm", nil, []*Value{x, w, w, w, w}, "scale"},
		{"clip", map[string]Attr{"min": "0"}, []*Value{x}, "want float64"},
	} {
		_, err := f.NewOp(tc.code, "y", tc.attrs, tc.args...)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			op, _ := f.NewOp(tc.code, "y", tc.attrs, tc.args...)
			got = fmt.Sprint(op.Results[0].Type.Shape)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s %v: got %q, want %q", tc.code, tc.attrs, got, tc.want)
		}
	}
}

// TestNNMalformedNoPanic: ops with arbitrary attributes, built without their
// type rule, give errors from the type rule and the interpreter, never a
// panic.
func TestNNMalformedNoPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	codes := []string{"conv", "averagepool", "maxpool", "globalaveragepool", "globalmaxpool", "batchnorm", "transpose",
		"concat", "pad", "clip", "sum", "mean", "pow", "prelu", "gelu", "softmax", "logsoftmax", "argmax", "leakyrelu",
		"elu", "selu", "hardsigmoid", "sigmoid", "mish"}
	names := []string{"kernel_shape", "strides", "pads", "dilations", "group", "ceil_mode", "count_include_pad", "perm",
		"axis", "keepdims", "select_last_index", "mode", "value", "min", "max", "epsilon", "approximate", "alpha"}
	randAttr := func() Attr {
		switch rng.Intn(6) {
		case 0:
			return int64(rng.Intn(7) - 2)
		case 1:
			return rng.NormFloat64()
		case 2:
			return []string{"constant", "reflect", "edge", "wrap", "tanh", "none", "x"}[rng.Intn(7)]
		case 3:
			l := make([]int64, rng.Intn(9))
			for i := range l {
				l[i] = int64(rng.Intn(7) - 2)
			}
			return l
		case 4:
			return []float64{1}
		}
		return int64(1 << 40)
	}
	randShape := func() []int {
		s := make([]int, rng.Intn(5))
		for i := range s {
			s[i] = rng.Intn(4)
		}
		return s
	}
	for iter := 0; iter < 20000; iter++ {
		f := NewFunc("t")
		code := codes[rng.Intn(len(codes))]
		info := Ops[code]
		n := info.MinArgs
		if info.MaxArgs != n {
			n += rng.Intn(2)
		}
		op := &Op{Code: code, Attrs: map[string]Attr{}}
		var in []Array
		for i := 0; i < n; i++ {
			s := randShape()
			p := f.AddParam("x", Tensor(s, true))
			op.Args = append(op.Args, p)
			in = append(in, NewArray(s))
		}
		for k := rng.Intn(5); k > 0; k-- {
			op.Attrs[names[rng.Intn(len(names))]] = randAttr()
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s %v on %d operands: panic %v", code, op.Attrs, n, r)
				}
			}()
			_, _ = info.Infer(f, op)
			// the interpreter on the same op, whatever its declared result
			op.Results = []*Value{{Name: "y", Type: Tensor(nil, true), Def: op}}
			f.Ops = []*Op{op}
			f.Results = op.Results
			_, _ = Interpret(f, in)
		}()
	}
}

// TestNNTextRoundTrip: the new ops print and parse back.
func TestNNTextRoundTrip(t *testing.T) {
	f := build(t, [][]int{{1, 2, 4, 4}}, func(f *Func, ps []*Value) []*Value {
		c := must(t)(f.Append("conv", "c", map[string]Attr{"pads": []int64{1, 1, 1, 1}, "strides": []int64{1, 1}, "dilations": []int64{1, 1}, "group": int64(1)},
			ps[0], ps[0]))
		p := must(t)(f.Append("pad", "p", map[string]Attr{"pads": []int64{0, 0, 1, 1, 0, 0, 1, 1}, "mode": "constant", "value": 0.5}, ps[0]))
		g := must(t)(f.Append("gelu", "g", map[string]Attr{"approximate": "tanh"}, p))
		return []*Value{c, g}
	})
	f.RemoveDead()
	text := Print(f)
	g, err := Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if Print(g) != text {
		t.Fatalf("round trip differs:\n%s\n%s", text, Print(g))
	}
}

// TestKRange checks the tap range arithmetic against counting.
func TestKRange(t *testing.T) {
	for base := -7; base <= 7; base++ {
		for d := 1; d <= 3; d++ {
			for lo := -3; lo <= 3; lo++ {
				for hi := lo; hi <= 6; hi++ {
					for n := 0; n <= 5; n++ {
						k0, k1 := kRange(base, d, lo, hi, n)
						for k := 0; k < n; k++ {
							in := lo <= base+k*d && base+k*d < hi
							if in != (k >= k0 && k < k1) {
								t.Fatalf("kRange(%d, %d, %d, %d, %d) = [%d, %d), k = %d", base, d, lo, hi, n, k0, k1, k)
							}
						}
					}
				}
			}
		}
	}
}
