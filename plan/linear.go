package plan

import (
	"sort"

	"github.com/fhec/fhec/plan/planpb"
)

// BSGSSplit returns how a LINEAR instruction's diagonals at the given slot
// offsets split into giant-step and baby-step rotations with baby steps of
// n1 slots (a power of two), exactly as Lattigo's BSGSIndex splits them:
// offset k (mod slots) is giant (k/n1)*n1 plus baby k mod n1. Both lists are
// sorted; 0 is in a list when some diagonal needs no rotation there.
func BSGSSplit(offsets []int64, slots, n1 int) (giants, babies []int) {
	g, b := map[int]bool{}, map[int]bool{}
	for _, o := range offsets {
		k := int(((o % int64(slots)) + int64(slots)) % int64(slots))
		g[(k/n1)*n1] = true
		b[k&(n1-1)] = true
	}
	for k := range g {
		giants = append(giants, k)
	}
	for k := range b {
		babies = append(babies, k)
	}
	sort.Ints(giants)
	sort.Ints(babies)
	return giants, babies
}

// LinearRotations returns the rotations (slot offsets, none 0) a LINEAR
// instruction performs: its giant steps and its hoisted baby steps.
func LinearRotations(ins *planpb.Instruction, slots int) (giants, babies []int) {
	g, b := BSGSSplit(ins.Offsets, slots, int(ins.N1))
	return nonZero(g), nonZero(b)
}

func nonZero(v []int) []int {
	out := v[:0]
	for _, k := range v {
		if k != 0 {
			out = append(out, k)
		}
	}
	return out
}
