package plan

import (
	"math"
	"sort"

	"github.com/fhec/fhec/layout"
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

// DotTerms is the number of ciphertext products a DOT instruction performs:
// its nonzero weights (a zero weight is skipped).
func DotTerms(ins *planpb.Instruction) int {
	n := 0
	for _, c := range ins.Coeffs {
		if math.Round(c*ins.Scale) != 0 {
			n++
		}
	}
	return n
}

// InputValues lists the SSA ids of an input's ciphertexts: one per element
// under feature-major packing, else the one value.
func InputValues(in *planpb.Input) []uint32 {
	if len(in.ElementValues) > 0 {
		return in.ElementValues
	}
	return []uint32{in.Value}
}

// OutputValues lists the SSA ids of an output's ciphertexts (see InputValues).
func OutputValues(out *planpb.Output) []uint32 {
	if len(out.ElementValues) > 0 {
		return out.ElementValues
	}
	return []uint32{out.Value}
}

// TiledLayout is the slot layout a plan layout describes (blocked and
// placed ones included; a placed layout's guard stride is dropped).
func TiledLayout(l *planpb.Layout) layout.Tiled {
	t := layout.Tiled{Len: int(l.GetLen()), Period: int(l.GetPeriod()), Batch: int(l.GetBatch()), Block: int(l.GetBlock()), Stride: int(l.GetStride())}
	if pos := l.GetPositions(); len(pos) > 0 {
		t.Positions = make([]int, len(pos))
		for i, p := range pos {
			t.Positions[i] = int(p)
		}
		if t.Block == 0 && t.Stride == placedStride {
			t.Stride = 0
		}
	}
	return t
}

// placedStride is the stride a placed layout carries (with block 0) so that
// readers before format 1.4 refuse it (see VersionMinor).
const placedStride = 1

// PlanLayout is the plan form of a slot layout (the inverse of TiledLayout).
func PlanLayout(t layout.Tiled) *planpb.Layout {
	l := &planpb.Layout{Len: uint32(t.Len), Period: uint32(t.Period), Batch: uint32(t.Batch), Block: uint32(t.Block), Stride: uint32(t.Stride)}
	if t.Positions != nil {
		l.Stride = placedStride
		l.Positions = make([]uint32, len(t.Positions))
		for i, p := range t.Positions {
			l.Positions[i] = uint32(p)
		}
	}
	return l
}

// InputLen is the number of values per sample of an input: its elements
// under feature-major packing, else its layout's length.
func InputLen(in *planpb.Input) int {
	if len(in.GetElementValues()) > 0 {
		return len(in.ElementValues)
	}
	return int(in.GetLayout().GetLen())
}

// OutputLen is the number of values per sample of an output (see InputLen).
func OutputLen(out *planpb.Output) int {
	if len(out.GetElementValues()) > 0 {
		return len(out.ElementValues)
	}
	return int(out.GetLayout().GetLen())
}
