package ir

import (
	"math"
	"strings"
	"testing"
)

// simCt is a ciphertext type for n slots with a plain (period n, batch 1) layout.
func simCt(n, level int) Type {
	return Type{Kind: CipherType, Shape: []int{n}, Level: level, Scale: math.Ldexp(1, 40), Degree: 1,
		Layout: Layout{Len: n, Period: n, Batch: 1}}
}

func TestSimRotateAndSum(t *testing.T) {
	const slots = 8
	f := NewFunc("sum")
	x := f.AddParam("x", simCt(slots, 0))
	acc := x
	for k := 1; k < slots; k *= 2 {
		r := textAppend(t, f, "ckks.rotate", "r", map[string]Attr{"offset": int64(k)}, acc)
		acc = textAppend(t, f, "ckks.add", "acc", nil, acc, r)
	}
	f.Results = []*Value{acc}
	if err := Verify(f); err != nil {
		t.Fatal(err)
	}
	out, err := Simulate(f, slots, [][]float64{{1, 2, 3, 4, 5, 6, 7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out[0] {
		if v != 36 {
			t.Fatalf("slot %d = %v, want 36 (all slots hold the sum): %v", i, v, out[0])
		}
	}
}

func TestSimRotate(t *testing.T) {
	const slots = 8
	in := []float64{0, 1, 2, 3, 4, 5, 6, 7}
	for _, tc := range []struct {
		offset int64
		want   []float64
	}{
		{0, []float64{0, 1, 2, 3, 4, 5, 6, 7}},
		{3, []float64{3, 4, 5, 6, 7, 0, 1, 2}},
		{-1, []float64{7, 0, 1, 2, 3, 4, 5, 6}},
		{8, []float64{0, 1, 2, 3, 4, 5, 6, 7}},
		{-19, []float64{5, 6, 7, 0, 1, 2, 3, 4}},
	} {
		f := NewFunc("rot")
		x := f.AddParam("x", simCt(slots, 0))
		f.Results = []*Value{textAppend(t, f, "ckks.rotate", "r", map[string]Attr{"offset": tc.offset}, x)}
		out, err := Simulate(f, slots, [][]float64{in})
		if err != nil {
			t.Fatal(err)
		}
		if !simEqual(out[0], tc.want) {
			t.Errorf("rotate by %d: %v, want %v", tc.offset, out[0], tc.want)
		}
	}
	if in[1] != 1 {
		t.Fatal("Simulate modified its input")
	}
}

func simEqual(a, b []float64) bool {
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

// TestSimArith runs encode (with a batch), mul_plain, rescale, add_plain,
// mul, relin, add on a hand-computed example.
func TestSimArith(t *testing.T) {
	const slots = 8
	f := NewFunc("arith")
	f.Attrs["q"] = append([]int64(nil), textPrimes...)
	lay := Layout{Len: 2, Period: 2, Batch: 2}
	x := f.AddParam("x", Type{Kind: CipherType, Shape: []int{2}, Level: 3, Scale: math.Ldexp(1, 40), Degree: 1, Layout: lay})
	c := f.AddConst("c", []int{2}, []float64{1, 2})
	d := f.AddConst("d", []int{1}, []float64{0.5})
	cp := textAppend(t, f, "ckks.encode", "cp", map[string]Attr{"const": c.Name, "batch": int64(2), "level": int64(3), "scale": math.Ldexp(1, 40)})
	m := textAppend(t, f, "ckks.mul_plain", "m", nil, x, cp)
	rs := textAppend(t, f, "ckks.rescale", "rs", nil, m)
	dp := textAppend(t, f, "ckks.encode", "dp", map[string]Attr{"const": d.Name, "batch": int64(2), "level": int64(2), "scale": rs.Type.Scale})
	ap := textAppend(t, f, "ckks.add_plain", "ap", nil, rs, dp)
	sq := textAppend(t, f, "ckks.mul", "sq", nil, ap, ap)
	rl := textAppend(t, f, "ckks.relin", "rl", nil, sq)
	sum := textAppend(t, f, "ckks.add", "sum", nil, rl, rl)
	f.Results = []*Value{sum, cp, ap}
	if err := Verify(f); err != nil {
		t.Fatal(err)
	}
	in := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	out, err := Simulate(f, slots, [][]float64{in})
	if err != nil {
		t.Fatal(err)
	}
	// broadcast of c with batch 2: slot s holds c[(s/2) mod 2]
	wantC := []float64{1, 1, 2, 2, 1, 1, 2, 2}
	if !simEqual(out[1], wantC) {
		t.Errorf("encode: %v, want %v", out[1], wantC)
	}
	wantAP := make([]float64, slots)
	wantSum := make([]float64, slots)
	for i := range in {
		wantAP[i] = in[i]*wantC[i] + 0.5
		wantSum[i] = 2 * wantAP[i] * wantAP[i]
	}
	if !simEqual(out[2], wantAP) {
		t.Errorf("x*c+d: %v, want %v", out[2], wantAP)
	}
	if !simEqual(out[0], wantSum) {
		t.Errorf("2*(x*c+d)^2: %v, want %v", out[0], wantSum)
	}
}

func TestSimPoly(t *testing.T) {
	coeffs := []float64{0.3, -0.5, 0.25, 0.125, -0.0625, 0.03125, 0.2, -0.1}
	const slots = 16
	f := NewFunc("poly")
	x := f.AddParam("x", simCt(slots, 3))
	f.Results = []*Value{textAppend(t, f, "ckks.poly", "y",
		map[string]Attr{"coeffs": coeffs, "depth": int64(PolyDepth(len(coeffs) - 1)), "scale": math.Ldexp(1, 40)}, x)}
	in := make([]float64, slots)
	for i := range in {
		in[i] = -1 + 2*float64(i)/float64(slots-1)
	}
	out, err := Simulate(f, slots, [][]float64{in})
	if err != nil {
		t.Fatal(err)
	}
	for i, xv := range in {
		want := 0.0
		for k, c := range coeffs {
			want += c * math.Cos(float64(k)*math.Acos(xv)) // T_k(cos θ) = cos(kθ)
		}
		if math.Abs(out[0][i]-want) > 1e-12 {
			t.Errorf("poly(%v) = %v, want %v", xv, out[0][i], want)
		}
	}
}

func TestChebyshevEval(t *testing.T) {
	// Explicit T_0..T_4 and points inside and outside [-1, 1].
	T := []func(x float64) float64{
		func(x float64) float64 { return 1 },
		func(x float64) float64 { return x },
		func(x float64) float64 { return 2*x*x - 1 },
		func(x float64) float64 { return 4*x*x*x - 3*x },
		func(x float64) float64 { return 8*x*x*x*x - 8*x*x + 1 },
	}
	for _, x := range []float64{-1, -0.7, -0.1, 0, 0.33, 0.9, 1, 1.5, -2} {
		for k := range T {
			c := make([]float64, k+1)
			c[k] = 1
			if got, want := ChebyshevEval(c, x), T[k](x); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("T_%d(%v) = %v, want %v", k, x, got, want)
			}
		}
		coeffs := []float64{2, -1, 0.5, 3, -0.25}
		want := 0.0
		for k, c := range coeffs {
			want += c * T[k](x)
		}
		if got := ChebyshevEval(coeffs, x); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("series(%v) = %v, want %v", x, got, want)
		}
	}
	if ChebyshevEval(nil, 0.5) != 0 || ChebyshevEval([]float64{3}, 0.5) != 3 {
		t.Error("degenerate series")
	}
}

func TestSimErrors(t *testing.T) {
	// A tensor-level op is refused, naming it.
	tf := NewFunc("t")
	tx := tf.AddParam("x", Tensor([]int{4}, true))
	tf.Results = []*Value{textAppend(t, tf, "relu", "y", nil, tx)}
	if _, err := Simulate(tf, 4, [][]float64{{1, 2, 3, 4}}); err == nil || !strings.Contains(err.Error(), `"relu"`) {
		t.Errorf("tensor op: err = %v", err)
	}

	f := NewFunc("rot")
	x := f.AddParam("x", simCt(4, 0))
	f.Results = []*Value{textAppend(t, f, "ckks.rotate", "r", map[string]Attr{"offset": int64(1)}, x)}
	if _, err := Simulate(f, 4, [][]float64{{1, 2, 3}}); err == nil || !strings.Contains(err.Error(), "3 slots, want 4") {
		t.Errorf("short input: err = %v", err)
	}
	if _, err := Simulate(f, 4, nil); err == nil || !strings.Contains(err.Error(), "0 inputs for 1 parameters") {
		t.Errorf("missing input: err = %v", err)
	}

	// An encoded constant whose period does not divide the slots.
	g := NewFunc("enc")
	c := g.AddConst("c", []int{8}, make([]float64, 8))
	g.Results = []*Value{textAppend(t, g, "ckks.encode", "p", map[string]Attr{"const": c.Name, "batch": int64(1), "scale": 1.0})}
	if _, err := Simulate(g, 4, nil); err == nil || !strings.Contains(err.Error(), "@c") {
		t.Errorf("bad broadcast: err = %v", err)
	}
}
