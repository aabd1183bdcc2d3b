package passes

import (
	"maps"
	"math"
	"slices"

	"github.com/fhec/fhec/ir"
)

// Input placement, part of LowerToCKKS: the client encrypts its input, so it
// can put each element at any slot position. When a dense layer is the only
// reader of an input, the compiler may choose a placed layout (ir.Layout
// Positions) on which that layer's matrix has fewer generalized diagonals.
//
// A strided convolution is the case that gains: with the input row-major,
// output pixel (y, x) reads input pixel (s*y + ky, s*x + kx), so the offset
// between them grows with y and x and nearly every diagonal is used. Split
// the input into its s*s phases (space to depth) and put phase pixel (u, v)
// where output pixel (u, v) sits, shifted by a small per-phase constant: the
// offsets are then the kernel taps plus those constants, a few dozen.
//
// The candidates are found on the matrix itself, not on the op that made it
// (the convolution may have been fused with a transpose or a reshape): for
// each pair of adjacent input dimensions (H, W) and factor s in 1..4, the
// shifts A and B of the rows a column reaches when its pixel moves by s rows
// or s columns are read off the matrix (the most frequent exact
// translation), and element (.., Y, X, ..) goes to A*(Y/s) + B*(X/s) + K_q,
// one constant K_q per class q (the other dimensions and Y mod s, X mod s).
// The K_q are chosen greedily to keep the set of offsets small and the
// positions distinct. Each candidate is priced like any packing
// (denseLayout.cost); the contiguous layout stays unless one is cheaper.

// maxPlacementFactor is the largest space-to-depth factor tried.
const maxPlacementFactor = 4

// placeInput returns the layout to encrypt a parameter of the given shape
// in, when the dense layer w is its only reader: base (contiguous) or a
// placed layout, whichever packs w cheaper.
func (l *lowerer) placeInput(base ir.Layout, shape []int, w *ir.Const, clean bool) ir.Layout {
	m, n := w.Shape[0], w.Shape[1]
	if n != base.Len || base.Block != 0 {
		return base
	}
	colRows := make([][]int, n)
	for r := 0; r < m; r++ {
		for c := 0; c < n; c++ {
			if w.Data[r*n+c] != 0 {
				colRows[c] = append(colRows[c], r)
			}
		}
	}
	perSample := l.slots / l.batch
	// Candidates with fewer distinct offsets (cheap to count) than the
	// contiguous layout are priced in full against it.
	best, bestCost := base, l.layoutDense(base, w, clean).cost()
	baseCount := distinctOffsets(colRows, nil, base.Period, m)
	for _, pos := range placementCandidates(shape, colRows, base.Period) {
		period := nextPow2(slices.Max(pos) + 1)
		if period > perSample || distinctOffsets(colRows, pos, period, m) >= baseCount {
			continue
		}
		placed := ir.Layout{Len: n, Period: period, Batch: base.Batch, Positions: ir.FormatPositions(pos)}
		if c := l.layoutDense(placed, w, clean).cost(); c < bestCost {
			best, bestCost = placed, c
		}
	}
	return best
}

// distinctOffsets counts the distinct (position of column - row) mod the
// larger of the input and output periods over the nonzero entries: about
// the diagonals a layout needs (pos nil: contiguous).
func distinctOffsets(colRows [][]int, pos []int, period, m int) int {
	L := max(period, nextPow2(m))
	seen := map[int]bool{}
	for c, rows := range colRows {
		p := c
		if pos != nil {
			p = pos[c]
		}
		for _, r := range rows {
			seen[((p-r)%L+L)%L] = true
		}
	}
	return len(seen)
}

// placementCandidates returns the space-to-depth placements described
// above, each shifted to start at position 0, for the dimension pairs and
// factors where the matrix shows a translation: each once with the
// constants free and once kept within span positions (the contiguous
// period: a wider placement can cost a fold step more).
func placementCandidates(shape []int, colRows [][]int, span int) [][]int {
	var out [][]int
	for a := 0; a+1 < len(shape); a++ {
		H, W := shape[a], shape[a+1]
		if H < 2 || W < 2 {
			continue
		}
		pre, post := 1, 1
		for _, d := range shape[:a] {
			pre *= d
		}
		for _, d := range shape[a+2:] {
			post *= d
		}
		if pre*H*W*post != len(colRows) {
			return nil
		}
		for s := 1; s <= maxPlacementFactor; s++ {
			if s > 1 && (H < 2*s || W < 2*s) {
				continue
			}
			for _, sp := range []int{0, span} {
				if pos := spaceToDepth(colRows, pre, H, W, post, s, sp); pos != nil {
					out = append(out, pos)
				}
			}
		}
	}
	return out
}

// spaceToDepth builds one candidate (nil when the matrix shows no
// translation or the greedy constants cannot keep the positions distinct,
// or within span of each other when span > 0).
func spaceToDepth(colRows [][]int, pre, H, W, post, s, span int) []int {
	idx := func(p, y, x, c int) int { return ((p*H+y)*W+x)*post + c }
	A, okA := translation(colRows, s*W*post, func(e int) bool { return (e/(W*post))%H+s < H })
	B, okB := translation(colRows, s*post, func(e int) bool { return (e/post)%W+s < W })
	if !okA || !okB {
		return nil
	}
	// classes: (p, y mod s, x mod s, c)
	Q := pre * s * s * post
	type member struct{ e, base int } // base = A*(y/s) + B*(x/s)
	members := make([][]member, Q)
	diffs := make([]map[int]bool, Q)
	for p := 0; p < pre; p++ {
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				for c := 0; c < post; c++ {
					q := ((p*s+y%s)*s+x%s)*post + c
					e := idx(p, y, x, c)
					b := A*(y/s) + B*(x/s)
					members[q] = append(members[q], member{e, b})
					if diffs[q] == nil {
						diffs[q] = map[int]bool{}
					}
					for _, r := range colRows[e] {
						diffs[q][r-b] = true
					}
				}
			}
		}
	}
	pos := make([]int, len(colRows))
	used := map[int]bool{}
	lo, hi := math.MaxInt, math.MinInt // positions placed so far
	union := map[int]bool{}
	T := 2*Q + 8 // shifts tried around each class's anchor
	if span > 0 {
		T = span
	}
	for q := 0; q < Q; q++ {
		d := slices.Sorted(maps.Keys(diffs[q]))
		anchor := 0
		if len(d) > 0 {
			anchor = d[len(d)-1]
		}
		bestT, bestGrow := 0, math.MaxInt
		for dt := 0; dt <= 2*T; dt++ {
			t := (dt + 1) / 2 // 0, 1, -1, 2, -2, ...
			if dt%2 == 0 {
				t = -t
			}
			K := anchor + t
			ok := true
			qlo, qhi := lo, hi
			for _, mb := range members[q] {
				if used[mb.base+K] {
					ok = false
					break
				}
				qlo, qhi = min(qlo, mb.base+K), max(qhi, mb.base+K)
			}
			if span > 0 && qhi-qlo >= span {
				ok = false
			}
			if !ok {
				continue
			}
			grow := 0
			for _, v := range d {
				if !union[K-v] {
					grow++
				}
			}
			if grow < bestGrow {
				bestT, bestGrow = t, grow
			}
		}
		if bestGrow == math.MaxInt {
			return nil
		}
		K := anchor + bestT
		for _, v := range d {
			union[K-v] = true
		}
		for _, mb := range members[q] {
			pos[mb.e] = mb.base + K
			used[mb.base+K] = true
			lo, hi = min(lo, mb.base+K), max(hi, mb.base+K)
		}
	}
	for i := range pos {
		pos[i] -= lo
	}
	return pos
}

// translation returns the most frequent exact shift delta with rows(e +
// step) = rows(e) + delta over the columns e where valid(e) holds and both
// row sets are nonempty.
func translation(colRows [][]int, step int, valid func(e int) bool) (int, bool) {
	votes := map[int]int{}
	for e := 0; e+step < len(colRows); e++ {
		r0, r1 := colRows[e], colRows[e+step]
		if !valid(e) || len(r0) == 0 || len(r0) != len(r1) {
			continue
		}
		delta := r1[0] - r0[0]
		same := true
		for k := range r0 {
			if r1[k]-r0[k] != delta {
				same = false
				break
			}
		}
		if same && delta != 0 {
			votes[delta]++
		}
	}
	best, bestVotes := 0, 0
	for d, v := range votes {
		if v > bestVotes || v == bestVotes && d < best {
			best, bestVotes = d, v
		}
	}
	return best, bestVotes > 0
}
