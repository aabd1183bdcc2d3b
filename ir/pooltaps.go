package ir

import "fmt"

// PoolTaps returns, for a pooling op (maxpool, averagepool, globalmaxpool,
// globalaveragepool) on an input of shape x = [N, C, D1..Dn], the flat
// input indices that each flat output element reads: the valid taps of its
// window (padding excluded), in kernel order. Lowerings that rebuild pooling
// from other ops use it so the window rules live in one place.
func PoolTaps(op *Op, x []int) ([][]int, error) {
	if len(x) < 3 {
		return nil, fmt.Errorf("%s input %v: need [N, C, D1, ...]", op.Code, x)
	}
	n, c := x[0], x[1]
	plane := NumElements(x[2:])
	var out [][]int
	switch op.Code {
	case "globalmaxpool", "globalaveragepool":
		for s := 0; s < n*c; s++ {
			t := make([]int, plane)
			for i := range t {
				t[i] = s*plane + i
			}
			out = append(out, t)
		}
		return out, nil
	case "maxpool", "averagepool":
	default:
		return nil, fmt.Errorf("PoolTaps: %s is not a pooling op", op.Code)
	}
	win, err := PoolGeometry(op, x)
	if err != nil {
		return nil, err
	}
	wt := newWindowTaps(win)
	nOut := NumElements(win.Out)
	out = make([][]int, n*c*nOut)
	pos := make([]int, len(win.Out))
	var taps, spare []tap
	for of := 0; of < nOut; of++ {
		taps, spare = wt.at(pos, taps, spare)
		for s := 0; s < n*c; s++ {
			t := make([]int, len(taps))
			for i, tp := range taps {
				t[i] = s*plane + tp.in
			}
			out[s*nOut+of] = t
		}
		next(pos, win.Out)
	}
	return out, nil
}
