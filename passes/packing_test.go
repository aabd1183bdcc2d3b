package passes

import (
	"math"
	"math/rand/v2"
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
	rng := rand.New(rand.NewPCG(3, 4))
	var samples [][]float64
	x := make([]float64, 100)
	for i := range x {
		x[i] = rng.Float64()*2 - 1
	}
	samples = append(samples, x)
	got := simulateAll(t, f, samples)
	want, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if math.Abs(got[0][k]-want[k]) > 1e-6*(1+math.Abs(want[k])) {
			t.Fatalf("output %d: %v, want %v", k, got[0][k], want[k])
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
