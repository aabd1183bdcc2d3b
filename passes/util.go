package passes

import (
	"fmt"

	"github.com/fhec/fhec/ir"
)

// constOf returns the pool constant behind v when v is defined by a const op.
func constOf(f *ir.Func, v *ir.Value) *ir.Const {
	if v.Def == nil || v.Def.Code != "const" {
		return nil
	}
	name, _ := v.Def.Attrs["const"].(string)
	return f.Consts[name]
}

// newConst adds data to the pool and appends a const op for it, returning the value.
func newConst(f *ir.Func, hint string, shape []int, data []float64) (*ir.Value, *ir.Op, error) {
	c := f.AddConst(hint, shape, data)
	op, err := f.NewOp("const", hint, map[string]ir.Attr{"const": c.Name})
	if err != nil {
		return nil, nil, err
	}
	return op.Result(), op, nil
}

// insertBefore inserts ops right before the op at, keeping program order.
func insertBefore(f *ir.Func, at *ir.Op, ops ...*ir.Op) {
	for i, o := range f.Ops {
		if o == at {
			rest := append([]*ir.Op{}, f.Ops[i:]...)
			f.Ops = append(append(f.Ops[:i], ops...), rest...)
			return
		}
	}
	f.Ops = append(f.Ops, ops...)
}

// broadcastTo expands a constant to shape (numpy rules) and returns its data.
func broadcastTo(c *ir.Const, shape []int) ([]float64, error) {
	out, err := ir.BroadcastShapes(shape, c.Shape)
	if err != nil {
		return nil, err
	}
	if ir.NumElements(out) != ir.NumElements(shape) {
		return nil, fmt.Errorf("constant %v does not broadcast to %v", c.Shape, shape)
	}
	n := ir.NumElements(shape)
	data := make([]float64, n)
	// strides of c aligned to the right of shape
	cs := make([]int, len(shape))
	stride := 1
	for i := len(shape) - 1; i >= 0; i-- {
		j := i - (len(shape) - len(c.Shape))
		if j >= 0 && c.Shape[j] != 1 {
			cs[i] = stride
		}
		if j >= 0 {
			stride *= c.Shape[j]
		}
	}
	idx := make([]int, len(shape))
	for k := 0; k < n; k++ {
		off := 0
		for i := range idx {
			off += idx[i] * cs[i]
		}
		data[k] = c.Data[off]
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return data, nil
}

// singleUse reports whether v has exactly one user op and is not a result.
func singleUse(f *ir.Func, users map[*ir.Value][]*ir.Op, v *ir.Value) bool {
	return len(users[v]) == 1 && !f.IsResult(v)
}

// isSecret reports whether v depends on the encrypted input.
func isSecret(v *ir.Value) bool { return v.Type.Secret }

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}
