package passes

import (
	"fmt"

	"github.com/fhec/fhec/ir"
)

// ExpandMaxPool rewrites max pooling of a secret tensor into ops CKKS can
// evaluate: a tournament of pairwise maxima, max(a, b) = b + relu(a - b).
// In the first round a and b are selections of the input (the k-th tap of
// every window), so a - b and b are each one linear op on the input; later
// rounds combine the previous round's maxima with a sub. Windows with fewer
// taps than the largest (padding, ceil mode) repeat a tap, which max
// ignores. The ReLUs are then fitted like any other (FitActivations), so the
// pooled error is bounded by the sum of the ReLU fit errors along the
// tournament (log2(window) rounds).
//
// Requires: tensor-level IR, before Calibrate (the new ReLUs need ranges).
// Guarantees: no maxpool/globalmaxpool of a secret tensor remains; the
// function is interpreter-equal (max is computed exactly by relu).
type ExpandMaxPool struct{}

func (ExpandMaxPool) Name() string { return "expand-maxpool" }

func (ExpandMaxPool) Run(f *ir.Func, c *Context) error {
	for i := 0; i < len(f.Ops); i++ {
		op := f.Ops[i]
		if (op.Code != "maxpool" && op.Code != "globalmaxpool") || !op.Args[0].Type.Secret {
			continue
		}
		x := op.Args[0]
		taps, err := ir.PoolTaps(op, x.Type.Shape)
		if err != nil {
			return err
		}
		n, m := x.Type.NumElements(), len(taps)
		if m*n > maxProbeElements {
			return fmt.Errorf("%s %%%s: a %dx%d selection is too large for this version's dense lowering", op.Code, op.Result().Name, m, n)
		}
		width := 0
		for o, t := range taps {
			if len(t) == 0 {
				return fmt.Errorf("%s %%%s: output %d has an empty window", op.Code, op.Result().Name, o)
			}
			width = max(width, len(t))
		}
		// selection k: output o reads tap k of its window (or its first tap)
		sel := func(k int) []float64 {
			w := make([]float64, m*n)
			for o, t := range taps {
				j := t[0]
				if k < len(t) {
					j = t[k]
				}
				w[o*n+j] = 1
			}
			return w
		}
		var newOps []*ir.Op
		emit := func(code, hint string, attrs map[string]ir.Attr, args ...*ir.Value) (*ir.Value, error) {
			o, err := f.NewOp(code, hint, attrs, args...)
			if err != nil {
				return nil, err
			}
			newOps = append(newOps, o)
			return o.Result(), nil
		}
		hint := op.Result().Name
		zero := make([]float64, m)
		linear := func(w []float64, what string) (*ir.Value, error) {
			wv, wop, err := newConst(f, hint+"."+what+".w", []int{m, n}, w)
			if err != nil {
				return nil, err
			}
			bv, bop, err := newConst(f, hint+"."+what+".b", []int{m}, zero)
			if err != nil {
				return nil, err
			}
			newOps = append(newOps, wop, bop)
			return emit("linear", hint+"."+what, nil, x, wv, bv)
		}
		// round 1 on selections of x
		var level []*ir.Value
		for k := 0; k < width; k += 2 {
			if k+1 == width {
				v, err := linear(sel(k), fmt.Sprintf("sel%d", k))
				if err != nil {
					return err
				}
				level = append(level, v)
				continue
			}
			a, b := sel(k), sel(k+1)
			for j := range a {
				a[j] -= b[j]
			}
			d, err := linear(a, fmt.Sprintf("d%d_%d", k, k+1))
			if err != nil {
				return err
			}
			base, err := linear(b, fmt.Sprintf("sel%d", k+1))
			if err != nil {
				return err
			}
			v, err := maxOf(emit, hint, base, d)
			if err != nil {
				return err
			}
			level = append(level, v)
		}
		// later rounds on the maxima
		for len(level) > 1 {
			var next []*ir.Value
			for k := 0; k < len(level); k += 2 {
				if k+1 == len(level) {
					next = append(next, level[k])
					continue
				}
				d, err := emit("sub", hint+".d", nil, level[k], level[k+1])
				if err != nil {
					return err
				}
				v, err := maxOf(emit, hint, level[k+1], d)
				if err != nil {
					return err
				}
				next = append(next, v)
			}
			level = next
		}
		out, err := emit("reshape", hint, map[string]ir.Attr{"shape": toInt64s(op.Result().Type.Shape)}, level[0])
		if err != nil {
			return err
		}
		insertBefore(f, op, newOps...)
		i += len(newOps)
		f.ReplaceUses(op.Result(), out)
	}
	f.RemoveDead()
	return nil
}

// maxOf emits base + relu(d), which is max(a, b) when d = a - b and base = b.
func maxOf(emit func(string, string, map[string]ir.Attr, ...*ir.Value) (*ir.Value, error), hint string, base, d *ir.Value) (*ir.Value, error) {
	r, err := emit("relu", hint+".relu", nil, d)
	if err != nil {
		return nil, err
	}
	return emit("add", hint+".max", nil, base, r)
}
