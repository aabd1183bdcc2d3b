package runtime

import (
	"math/rand/v2"
	"testing"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// linearPlan: y = W x + b for a d x d matrix W as one LINEAR instruction
// (d diagonals, offsets sign*k*batch, baby steps of n1 diagonals).
func linearPlan(t testing.TB, w [][]float64, bias []float64, sign, n1 int) *builder {
	b := newBuilder(t, stdParams(t))
	d := len(w)
	const batch = 2
	l := &planpb.Layout{Len: uint32(d), Period: uint32(d), Batch: batch}
	x := b.input("x", l, 3)
	args := []uint32{x}
	var offsets []int64
	for k := range d {
		diag := make([]float64, d)
		for i := range d {
			diag[i] = w[i][((i+sign*k)%d+d)%d]
		}
		args = append(args, b.encode(diag, batch, 3, b.prime(3)))
		offsets = append(offsets, int64(sign*k*batch))
	}
	acc := b.op(planpb.Op_LINEAR, args...)
	ins := b.p.Program[len(b.p.Program)-1]
	ins.Offsets, ins.N1 = offsets, uint32(n1*batch)
	b.scales[acc] = b.scales[x] * b.prime(3)
	giants, babies := plan.LinearRotations(ins, b.params.MaxSlots())
	for _, r := range append(giants, babies...) {
		g := b.params.GaloisElement(r)
		if !contains(b.p.Keys.GaloisElements, g) {
			b.p.Keys.GaloisElements = append(b.p.Keys.GaloisElements, g)
		}
	}
	sortU64(b.p.Keys.GaloisElements)
	y := b.op(planpb.Op_RESCALE, acc)
	y = b.op(planpb.Op_ADD_PLAIN, y, b.encode(bias, batch, 2, b.scales[y]))
	b.output("y", y, l)
	return b
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestLinear: a LINEAR instruction computes W x + b, sequentially (Lattigo's
// evaluator) and split over goroutines (workers > 1, one ciphertext), for
// both diagonal orientations; its rotations are counted as the plan says.
func TestLinear(t *testing.T) {
	const d = 16
	rng := rand.New(rand.NewPCG(7, 8))
	w := make([][]float64, d)
	bias := make([]float64, d)
	for i := range w {
		w[i] = make([]float64, d)
		for j := range w[i] {
			w[i][j] = rng.Float64()*2 - 1
		}
		bias[i] = rng.Float64() - 0.5
	}
	in := samples(rng, 2, d) // one ciphertext: workers > 1 split the instruction
	want := make([][]float64, len(in))
	for s, v := range in {
		want[s] = make([]float64, d)
		for i := range d {
			want[s][i] = bias[i]
			for j := range d {
				want[s][i] += w[i][j] * v[j]
			}
		}
	}
	for _, sign := range []int{1, -1} {
		for _, workers := range []int{1, 2, 3} {
			b := linearPlan(t, w, bias, sign, 4)
			c := b.context()
			res, st := roundTrip(t, c, [][][]float64{in}, workers)
			checkClose(t, "linear", res[0], want, tol)
			var lin *planpb.Instruction
			for _, ins := range b.p.Program {
				if ins.Op == planpb.Op_LINEAR {
					lin = ins
				}
			}
			giants, babies := plan.LinearRotations(lin, c.params.MaxSlots())
			if st.Ops.Rotations != int64(len(giants)+len(babies)) || st.Ops.CtPtMults != d || st.Ops.HoistedRotations != int64(len(babies)) {
				t.Fatalf("sign %d workers %d: ops %+v, plan says %d giants %d babies", sign, workers, st.Ops, len(giants), len(babies))
			}
			// offsets 0..15 split as giants 4, 8, 12 and babies 1, 2, 3;
			// 0, -1, ..., -15 (mod slots) cross one more multiple of 4
			if wantG := map[int]int{1: 3, -1: 4}[sign]; len(giants) != wantG || len(babies) != 3 {
				t.Fatalf("sign %d: %d giant and %d baby rotations, want %d and 3", sign, len(giants), len(babies), wantG)
			}
		}
	}
}
