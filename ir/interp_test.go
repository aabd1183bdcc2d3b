package ir

import (
	"math"
	"strings"
	"testing"
)

// build makes a function with tensor parameters of the given shapes; body
// appends ops and returns the results.
func build(t *testing.T, shapes [][]int, body func(f *Func, ps []*Value) []*Value) *Func {
	t.Helper()
	f := NewFunc("t")
	var ps []*Value
	for i, s := range shapes {
		ps = append(ps, f.AddParam("x"+string(rune('0'+i)), Tensor(s, true)))
	}
	f.Results = body(f, ps)
	if err := Verify(f); err != nil {
		t.Fatal(err)
	}
	return f
}

// must(t)(f.Append(...)) fails the test on an error.
func must(t *testing.T) func(*Value, error) *Value {
	return func(v *Value, err error) *Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func arr(shape []int, data ...float64) Array { return Array{Shape: shape, Data: data} }

func checkArray(t *testing.T, got Array, wantShape []int, want ...float64) {
	t.Helper()
	if !sameShape(got.Shape, wantShape) {
		t.Fatalf("shape %v, want %v", got.Shape, wantShape)
	}
	if len(got.Data) != len(want) {
		t.Fatalf("%d values, want %d", len(got.Data), len(want))
	}
	for i := range want {
		if math.Abs(got.Data[i]-want[i]) > 1e-12 {
			t.Fatalf("value %d: %v, want %v (all: %v)", i, got.Data[i], want[i], got.Data)
		}
	}
}

func run1(t *testing.T, f *Func, in ...Array) Array {
	t.Helper()
	out, err := Interpret(f, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d results", len(out))
	}
	return out[0]
}

func TestInterpBinaryBroadcast(t *testing.T) {
	a := arr([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		code  string
		b     Array
		shape []int
		want  []float64
	}{
		{"add", arr([]int{3}, 10, 20, 30), []int{2, 3}, []float64{11, 22, 33, 14, 25, 36}},
		{"add", arr([]int{2, 1}, 100, 200), []int{2, 3}, []float64{101, 102, 103, 204, 205, 206}},
		{"sub", arr(nil, 1), []int{2, 3}, []float64{0, 1, 2, 3, 4, 5}},
		{"mul", arr([]int{2, 3}, 2, 2, 2, 3, 3, 3), []int{2, 3}, []float64{2, 4, 6, 12, 15, 18}},
		{"div", arr([]int{1, 3}, 1, 2, 4), []int{2, 3}, []float64{1, 1, 0.75, 4, 2.5, 1.5}},
		// [2,1,3] (+) [2,1] -> [2,2,3]
		{"add", arr([]int{2, 1}, 0, 10), []int{2, 2, 3}, nil},
	} {
		t.Run(tc.code+"_"+ShapeString(tc.b.Shape), func(t *testing.T) {
			x := a
			if tc.want == nil { // the 3-D case
				x = arr([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6)
				tc.want = []float64{1, 2, 3, 11, 12, 13, 4, 5, 6, 14, 15, 16}
			}
			f := build(t, [][]int{x.Shape, tc.b.Shape}, func(f *Func, p []*Value) []*Value {
				return []*Value{must(t)(f.Append(tc.code, "y", nil, p[0], p[1]))}
			})
			checkArray(t, run1(t, f, x, tc.b), tc.shape, tc.want...)
		})
	}
}

func TestInterpGemm(t *testing.T) {
	A := arr([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	B := arr([]int{3, 2}, 1, 0, 0, 1, 1, 1) // A*B = [[4 5] [10 11]]
	// plain
	f := build(t, [][]int{{2, 3}, {3, 2}}, func(f *Func, p []*Value) []*Value {
		return []*Value{must(t)(f.Append("gemm", "y", nil, p[0], p[1]))}
	})
	checkArray(t, run1(t, f, A, B), []int{2, 2}, 4, 5, 10, 11)

	// transA, transB, alpha, beta, vector bias
	At := arr([]int{3, 2}, 1, 4, 2, 5, 3, 6)
	Bt := arr([]int{2, 3}, 1, 0, 1, 0, 1, 1)
	C := arr([]int{2}, 1, -1)
	f = build(t, [][]int{{3, 2}, {2, 3}, {2}}, func(f *Func, p []*Value) []*Value {
		attrs := map[string]Attr{"transA": int64(1), "transB": int64(1), "alpha": 2.0, "beta": 0.5}
		return []*Value{must(t)(f.Append("gemm", "y", attrs, p[0], p[1], p[2]))}
	})
	// 2*[[4 5] [10 11]] + 0.5*[1 -1]
	checkArray(t, run1(t, f, At, Bt, C), []int{2, 2}, 8.5, 9.5, 20.5, 21.5)

	// column bias [2,1] and scalar bias
	for _, bias := range []Array{arr([]int{2, 1}, 1, 2), arr(nil, 3)} {
		f = build(t, [][]int{{2, 3}, {3, 2}, bias.Shape}, func(f *Func, p []*Value) []*Value {
			return []*Value{must(t)(f.Append("gemm", "y", nil, p[0], p[1], p[2]))}
		})
		got := run1(t, f, A, B, bias)
		if len(bias.Shape) == 0 {
			checkArray(t, got, []int{2, 2}, 7, 8, 13, 14)
		} else {
			checkArray(t, got, []int{2, 2}, 5, 6, 12, 13)
		}
	}
}

func TestInterpMatMul(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   Array
		shape  []int
		expect []float64
	}{
		{"2d", arr([]int{2, 2}, 1, 2, 3, 4), arr([]int{2, 2}, 5, 6, 7, 8), []int{2, 2}, []float64{19, 22, 43, 50}},
		{"1d_2d", arr([]int{2}, 1, 2), arr([]int{2, 3}, 1, 2, 3, 4, 5, 6), []int{3}, []float64{9, 12, 15}},
		{"2d_1d", arr([]int{2, 3}, 1, 2, 3, 4, 5, 6), arr([]int{3}, 1, 0, -1), []int{2}, []float64{-2, -2}},
		{"1d_1d", arr([]int{3}, 1, 2, 3), arr([]int{3}, 4, 5, 6), nil, []float64{32}},
		// batch [2] x broadcast [1]: [2,1,2] @ [1,2,1]
		{"batch", arr([]int{2, 1, 2}, 1, 2, 3, 4), arr([]int{1, 2, 1}, 10, 1), []int{2, 1, 1}, []float64{12, 34}},
		// [2,2] @ [2,2,1]: left operand broadcast over the batch
		{"bcast_left", arr([]int{2, 2}, 1, 0, 0, 2), arr([]int{2, 2, 1}, 1, 1, 3, 4), []int{2, 2, 1}, []float64{1, 2, 3, 8}},
		// 1-D on the left of a batched right operand: [2] @ [2,2,2] -> [2,2]
		{"1d_3d", arr([]int{2}, 1, 1), arr([]int{2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8), []int{2, 2}, []float64{4, 6, 12, 14}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := build(t, [][]int{tc.a.Shape, tc.b.Shape}, func(f *Func, p []*Value) []*Value {
				return []*Value{must(t)(f.Append("matmul", "y", nil, p[0], p[1]))}
			})
			checkArray(t, run1(t, f, tc.a, tc.b), tc.shape, tc.expect...)
		})
	}
}

func TestInterpShapesAndUnary(t *testing.T) {
	x := arr([]int{2, 1, 3}, -1, 2, -3, 4, -5, 6)
	f := build(t, [][]int{{2, 1, 3}}, func(f *Func, p []*Value) []*Value {
		r := must(t)(f.Append("relu", "r", nil, p[0]))
		f0 := must(t)(f.Append("flatten", "f0", map[string]Attr{"axis": int64(0)}, r))
		f2 := must(t)(f.Append("flatten", "f2", map[string]Attr{"axis": int64(2)}, p[0]))
		fm := must(t)(f.Append("flatten", "fm", map[string]Attr{"axis": int64(-1)}, p[0]))
		rs := must(t)(f.Append("reshape", "rs", map[string]Attr{"shape": []int64{3, 2}}, p[0]))
		return []*Value{r, f0, f2, fm, rs}
	})
	out, err := Interpret(f, []Array{x})
	if err != nil {
		t.Fatal(err)
	}
	checkArray(t, out[0], []int{2, 1, 3}, 0, 2, 0, 4, 0, 6)
	checkArray(t, out[1], []int{1, 6}, 0, 2, 0, 4, 0, 6)
	checkArray(t, out[2], []int{2, 3}, x.Data...)
	checkArray(t, out[3], []int{2, 3}, x.Data...)
	checkArray(t, out[4], []int{3, 2}, x.Data...)
}

func TestInterpPoly(t *testing.T) {
	coeffs := []float64{0.5, -1, 2, 0.25}
	lo, hi := -2.0, 6.0
	f := build(t, [][]int{{5}}, func(f *Func, p []*Value) []*Value {
		attrs := map[string]Attr{"coeffs": coeffs, "lo": lo, "hi": hi}
		return []*Value{must(t)(f.Append("poly", "y", attrs, p[0]))}
	})
	xs := []float64{-2, 0, 1.5, 4, 6}
	var want []float64
	for _, x := range xs {
		u := (2*x - lo - hi) / (hi - lo)
		t2 := 2*u*u - 1
		t3 := 4*u*u*u - 3*u
		want = append(want, 0.5-u+2*t2+0.25*t3)
	}
	checkArray(t, run1(t, f, arr([]int{5}, xs...)), []int{5}, want...)
	// at the interval ends the series is sum(c) and sum((-1)^k c)
	if got := ChebyshevEval(coeffs, 1); math.Abs(got-1.75) > 1e-15 {
		t.Fatalf("T(1) = %v", got)
	}
	if got := ChebyshevEval(coeffs, -1); math.Abs(got-(0.5+1+2-0.25)) > 1e-15 {
		t.Fatalf("T(-1) = %v", got)
	}
	if got := ChebyshevEval([]float64{3}, 0.3); got != 3 {
		t.Fatalf("constant series = %v", got)
	}
}

func TestInterpConstAndAll(t *testing.T) {
	f := NewFunc("c")
	x := f.AddParam("x", Tensor([]int{2}, true))
	c := f.AddConst("w", []int{2}, []float64{3, 4})
	w := must(t)(f.Append("const", "w", map[string]Attr{"const": c.Name}))
	y := must(t)(f.Append("mul", "y", nil, x, w))
	f.Results = []*Value{y}
	if err := Verify(f); err != nil {
		t.Fatal(err)
	}
	all, err := InterpretAll(f, []Array{arr([]int{2}, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d values, want 3", len(all))
	}
	checkArray(t, all[x], []int{2}, 1, 2)
	checkArray(t, all[w], []int{2}, 3, 4)
	checkArray(t, all[y], []int{2}, 3, 8)
	// the constant pool is not aliased by the interpreter's arrays
	all[w].Data[0] = 99
	if c.Data[0] != 3 {
		t.Fatal("interpreter result aliases the constant pool")
	}
}

func TestInterpErrors(t *testing.T) {
	f := build(t, [][]int{{2, 2}}, func(f *Func, p []*Value) []*Value {
		return []*Value{must(t)(f.Append("relu", "y", nil, p[0]))}
	})
	for name, in := range map[string][]Array{
		"count":  {},
		"extra":  {arr([]int{2, 2}, 1, 2, 3, 4), arr(nil, 1)},
		"shape":  {arr([]int{4}, 1, 2, 3, 4)},
		"data":   {arr([]int{2, 2}, 1, 2, 3)},
		"negdim": {arr([]int{-2, -2}, 1, 2, 3, 4)},
	} {
		if _, err := Interpret(f, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// a ckks-level op is refused, not run
	g := NewFunc("ckks")
	x := g.AddParam("x", Tensor([]int{4}, true))
	op := &Op{Code: "ckks.relin", Args: []*Value{x}, Attrs: map[string]Attr{}}
	op.Results = []*Value{{Name: "y", Type: x.Type, Def: op}}
	g.Ops = append(g.Ops, op)
	g.Results = op.Results
	_, err := Interpret(g, []Array{arr([]int{4}, 1, 2, 3, 4)})
	if err == nil || !strings.Contains(err.Error(), "not a tensor-level op") {
		t.Fatalf("ckks op: %v", err)
	}

	// a ciphertext parameter is refused
	h := NewFunc("ct")
	h.AddParam("x", Type{Kind: CipherType, Shape: []int{4}})
	if _, err := Interpret(h, []Array{arr([]int{4}, 1, 2, 3, 4)}); err == nil {
		t.Fatal("cipher parameter: no error")
	}

	// a type that disagrees with the computed shape is reported
	k := build(t, [][]int{{2, 3}}, func(f *Func, p []*Value) []*Value {
		return []*Value{must(t)(f.Append("relu", "y", nil, p[0]))}
	})
	k.Ops[0].Results[0].Type = Tensor([]int{3, 2}, true)
	if _, err := Interpret(k, []Array{arr([]int{2, 3}, 1, 2, 3, 4, 5, 6)}); err == nil {
		t.Fatal("shape disagreement: no error")
	}

	// nil function, unknown constant
	if _, err := Interpret(nil, nil); err == nil {
		t.Fatal("nil func: no error")
	}
	m := NewFunc("m")
	cop := &Op{Code: "const", Attrs: map[string]Attr{"const": "nope"}}
	cop.Results = []*Value{{Name: "c", Type: Tensor(nil, false), Def: cop}}
	m.Ops = []*Op{cop}
	m.Results = cop.Results
	if _, err := Interpret(m, nil); err == nil {
		t.Fatal("unknown constant: no error")
	}
}
