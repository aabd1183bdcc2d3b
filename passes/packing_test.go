package passes

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// TestRowSplitPacking: in latency mode (one sample per ciphertext) a dense
// layer whose input repeats in the slots splits its rows over the replicas
// (a blocked output layout); the next layer reads that layout. The lowered
// program must equal the tensor program on the slots, and use fewer
// rotations and products than the plain packing.
func TestRowSplitPacking(t *testing.T) {
	m, err := onnxbuild.NewRandomMLP(5, []int{100, 40, 10}, "square")
	if err != nil {
		t.Fatal(err)
	}
	count := func(batch int) (map[string]int, *ir.Func) {
		f := mlpFunc(t, m)
		ctx := &Context{Insecure: true, Batch: batch}
		pl := &Pipeline{Passes: Standard()}
		if err := pl.Run(f, ctx); err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		slots := 1 << (f.Int64("logN", 0) - 1)
		for _, op := range f.Ops {
			n[op.Code]++
			if op.Code == "ckks.linear" {
				g, b := plan.LinearRotations(&planpb.Instruction{Offsets: op.Ints("offsets"), N1: uint32(op.Int("n1", 0))}, int(slots))
				n["ckks.rotate"] += len(g) + len(b)
				n["ckks.mul_plain"] += len(op.Args) - 1
			}
		}
		return n, f
	}
	plain, _ := count(0)
	split, f := count(1)
	blocked := false
	for _, op := range f.Ops {
		if op.Result().Type.Layout.Block > 0 {
			blocked = true
		}
	}
	if !blocked {
		t.Fatal("latency mode did not split any layer's rows")
	}
	t.Logf("plain: %d rotations, %d ct-pt products; row split: %d, %d", plain["ckks.rotate"], plain["ckks.mul_plain"], split["ckks.rotate"], split["ckks.mul_plain"])
	if split["ckks.rotate"] >= plain["ckks.rotate"]+2 || split["ckks.mul_plain"] >= plain["ckks.mul_plain"] {
		t.Errorf("row split: %d rotations, %d ct-pt products; plain: %d, %d", split["ckks.rotate"], split["ckks.mul_plain"], plain["ckks.rotate"], plain["ckks.mul_plain"])
	}
	checkMLPSlots(t, f, m, rand.New(rand.NewPCG(3, 4)))
}

// checkMLPSlots simulates the lowered f on two random inputs and compares
// them with the model's forward pass.
func checkMLPSlots(t *testing.T, f *ir.Func, m *onnxbuild.MLP, rng *rand.Rand) {
	t.Helper()
	xs := make([][]float64, 2)
	for s := range xs {
		xs[s] = make([]float64, m.Sizes[0])
		for i := range xs[s] {
			xs[s][i] = rng.Float64()*2 - 1
		}
	}
	got := simulateAll(t, f, xs)
	for s, x := range xs {
		want, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if math.Abs(got[s][k]-want[k]) > 1e-6*(1+math.Abs(want[k])) {
				t.Fatalf("sample %d output %d: %v, want %v", s, k, got[s][k], want[k])
			}
		}
	}
}

// mlpFunc imports a RandomMLP as tensor-level IR by hand (the passes tests
// do not depend on the frontend): gemm(transB) -> x*x -> gemm.
func mlpFunc(t *testing.T, m *onnxbuild.MLP) *ir.Func {
	t.Helper()
	f := ir.NewFunc("mlp")
	x := f.AddParam("x", ir.Tensor([]int{1, m.Sizes[0]}, true))
	h := x
	for l, w := range m.Weights {
		wd := make([]float64, len(w))
		for i, v := range w {
			wd[i] = float64(v)
		}
		bd := make([]float64, len(m.Biases[l]))
		for i, v := range m.Biases[l] {
			bd[i] = float64(v)
		}
		wc := f.AddConst("w", []int{m.Sizes[l+1], m.Sizes[l]}, wd)
		bc := f.AddConst("b", []int{m.Sizes[l+1]}, bd)
		wv, err := f.Append("const", "w", map[string]ir.Attr{"const": wc.Name})
		if err != nil {
			t.Fatal(err)
		}
		bv, err := f.Append("const", "b", map[string]ir.Attr{"const": bc.Name})
		if err != nil {
			t.Fatal(err)
		}
		if h, err = f.Append("gemm", "h", map[string]ir.Attr{"transB": int64(1)}, h, wv, bv); err != nil {
			t.Fatal(err)
		}
		if l < len(m.Weights)-1 {
			if h, err = f.Append("mul", "sq", nil, h, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Results = []*ir.Value{h}
	return f
}

// TestPartialSumsBeforePoly: a row-split packing leaves partial sums in the
// slots that hold no output; in front of a polynomial it is taken only when
// the calibrated partial sums, with the outputs' margin, keep the
// polynomial far below the modulus. Random weights pass; weights whose row
// sums cancel (partial sums a hundred times the outputs) do not.
func TestPartialSumsBeforePoly(t *testing.T) {
	const n, m = 200, 32
	l := &lowerer{slots: 4096, batch: 1, costs: defaultCosts}
	in := ir.Layout{Len: n, Period: 256, Batch: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	var samples [][]float64
	for range 16 {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.Float64()
		}
		samples = append(samples, x)
	}
	relu7 := []float64{0.212, 0.5, 0.424, 0, -0.085, 0, 0.036, 0}
	feed := &polyFeed{samples: samples, polys: [][]float64{relu7}}
	build := func(cancel bool) (*ir.Const, []float64) {
		w := make([]float64, m*n)
		for r := 0; r < m; r++ {
			for c := 0; c < n; c++ {
				if cancel {
					w[r*n+c] = 0.5 // the bias below cancels the full row sum
				} else {
					w[r*n+c] = (rng.Float64()*2 - 1) / n
				}
			}
		}
		bias := make([]float64, m)
		if cancel {
			for r := range bias {
				bias[r] = -0.5 * float64(n) / 2 // the rows' mean sum
			}
		}
		// scale so that the outputs stay within [-0.5, 0.5] on the samples
		peak := 0.0
		for _, x := range samples {
			for r := 0; r < m; r++ {
				y := bias[r]
				for c := 0; c < n; c++ {
					y += w[r*n+c] * x[c]
				}
				peak = math.Max(peak, math.Abs(y))
			}
		}
		for i := range w {
			w[i] *= 0.5 / peak
		}
		for i := range bias {
			bias[i] *= 0.5 / peak
		}
		return &ir.Const{Name: "w", Shape: []int{m, n}, Data: w}, bias
	}
	for _, cancel := range []bool{false, true} {
		w, bias := build(cancel)
		dirty := l.layoutDense(in, w, false)
		clean := l.layoutDense(in, w, true)
		if dirty.lp.g < 2 || dirty.cost() >= clean.cost() {
			t.Fatalf("row split: g = %d, cost %.2f vs %.2f clean", dirty.lp.g, dirty.cost(), clean.cost())
		}
		safe := dirty.partialSumsSafe(in, w, bias, feed, math.Exp2(60), math.Exp2(30), 4096)
		if safe == cancel {
			t.Errorf("cancelling rows %v: partialSumsSafe = %v", cancel, safe)
		}
		// the clean packing holds every output in every slot it fills
		if !clean.partialSumsSafe(in, w, bias, feed, math.Exp2(60), math.Exp2(30), 4096) {
			t.Errorf("cancelling rows %v: the clean packing is judged unsafe", cancel)
		}
	}
}

// TestBatchBeyondSlotsSuggestsFeatureMajor: asking for more samples per
// ciphertext than slot packing holds warns and names feature-major
// packing; a batch that fits does not.
func TestBatchBeyondSlotsSuggestsFeatureMajor(t *testing.T) {
	m, err := onnxbuild.NewRandomMLP(5, []int{100, 40, 10}, "square")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch int
		warn  bool
	}{{1 << 20, true}, {2, false}} {
		f := mlpFunc(t, m)
		ctx := &Context{Insecure: true, Batch: tc.batch}
		if err := (&Pipeline{Passes: Standard()}).Run(f, ctx); err != nil {
			t.Fatal(err)
		}
		warned := false
		for _, w := range ctx.Warnings {
			warned = warned || strings.Contains(w, "--feature-major")
		}
		if warned != tc.warn {
			t.Errorf("batch %d: warned %v, want %v (%q)", tc.batch, warned, tc.warn, ctx.Warnings)
		}
	}
}

// TestStridedRowsLattice: in latency mode the 784-128-10 MLP's first layer
// uses strided rows (row r's partial sums in slots [32r, 32r+32), folded
// by 16 .. 1 onto slot 32r: a lattice), and the second layer runs in
// lattice units (16 diagonals, folds by 512, 1024, 2048 slots): 26
// rotations in all, the expert's plan (bench/baseline). The lowered program
// equals the model on the slots.
func TestStridedRowsLattice(t *testing.T) {
	m, err := onnxbuild.NewRandomMLP(9, []int{784, 128, 10}, "square")
	if err != nil {
		t.Fatal(err)
	}
	f := mlpFunc(t, m)
	if err := (&Pipeline{Passes: Standard()}).Run(f, &Context{Insecure: true, Batch: 1, MinLogN: 13}); err != nil {
		t.Fatal(err)
	}
	slots := int(1 << (f.Int64("logN", 0) - 1))
	if slots != 4096 {
		t.Fatalf("%d slots, want 4096", slots)
	}
	rotations := 0
	var linears []*ir.Op
	for _, op := range f.Ops {
		switch op.Code {
		case "ckks.rotate":
			rotations++
		case "ckks.linear":
			linears = append(linears, op)
			g, b := plan.LinearRotations(&planpb.Instruction{Offsets: op.Ints("offsets"), N1: uint32(op.Int("n1", 0))}, slots)
			rotations += len(g) + len(b)
		}
	}
	if len(linears) != 2 {
		t.Fatalf("%d linear ops, want 2", len(linears))
	}
	if l := linears[1].Args[0].Type.Layout; !isLattice(l) || l.Stride != 32 {
		t.Errorf("second layer's input layout %+v, want a lattice of stride 32", l)
	}
	for _, o := range linears[1].Ints("offsets") {
		if o%32 != 0 {
			t.Fatalf("second layer offset %d is not a lattice step", o)
		}
	}
	if rotations > 26 {
		t.Errorf("%d rotations, want <= 26 (the expert's)", rotations)
	}
	checkMLPSlots(t, f, m, rand.New(rand.NewPCG(1, 9)))

	// Two samples per ciphertext: rows at stride 16, the lattice in units
	// of 16 slot pairs; still the model's values.
	f = mlpFunc(t, m)
	if err := (&Pipeline{Passes: Standard()}).Run(f, &Context{Insecure: true, Batch: 2, MinLogN: 13}); err != nil {
		t.Fatal(err)
	}
	for _, op := range f.Ops {
		if op.Code == "ckks.linear" && op.Args[0].Type.Layout.Block == 1 {
			if l := op.Args[0].Type.Layout; l.Batch != 2 || l.Stride != 16 {
				t.Fatalf("batch 2: lattice %+v, want stride 16", l)
			}
		}
	}
	checkMLPSlots(t, f, m, rand.New(rand.NewPCG(2, 9)))
}
