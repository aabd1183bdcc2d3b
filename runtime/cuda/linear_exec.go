package cuda

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
)

// LINEAR (format 1.2) runs on the kernels (linear.go: Lattigo's
// double-hoisted baby-step giant-step product, bit for bit). Its diagonals
// are encoded on the host by the CPU runtime's encoder (runtime.EncodeLinear)
// and uploaded once per executor.

// linearTransforms builds the transformation of every LINEAR instruction,
// keyed by result value, with the CPU runtime's own encoder
// (runtime.EncodeLinear).
func (e *Executor) linearTransforms() (map[uint32]hefloat.LinearTransformation, error) {
	p := e.plan
	def := map[uint32]*planpb.Instruction{}
	for _, ins := range p.Program {
		if ins.Op == planpb.Op_ENCODE {
			def[ins.Result] = ins
		}
	}
	lts := map[uint32]hefloat.LinearTransformation{}
	for pc, ins := range p.Program {
		if ins.Op != planpb.Op_LINEAR {
			continue
		}
		lt, err := runtime.EncodeLinear(e.params, p, func(v uint32) *planpb.Instruction { return def[v] }, ins, 0)
		if err != nil {
			return nil, fmt.Errorf("cuda: instruction %d (LINEAR): %w", pc, err)
		}
		lts[ins.Result] = lt
	}
	return lts, nil
}

// uploadLinear encodes every LINEAR's diagonals and uploads them.
func (e *Executor) uploadLinear() error {
	lts, err := e.linearTransforms()
	if err != nil {
		return err
	}
	for _, v := range slices.Sorted(maps.Keys(lts)) {
		t, err := e.ctx.UploadLinearTransform(he.LinearTransformation(lts[v]))
		if err != nil {
			return fmt.Errorf("cuda: LINEAR -> value %d: %w", v, err)
		}
		e.lin[v] = t
	}
	return nil
}

// linear evaluates LINEAR on the kernels: the result is Lattigo's
// LinearTransformationEvaluator.Evaluate of the CPU runtime, metadata
// included (the input's, its scale times the diagonals').
func (e *Executor) linear(ins *planpb.Instruction, a *value) (*value, error) {
	t, ok := e.lin[ins.Result]
	if !ok {
		return nil, fmt.Errorf("linear transformation not prepared")
	}
	if a.degree != 1 {
		return nil, fmt.Errorf("LINEAR of degree %d", a.degree)
	}
	m := a.meta
	m.Scale = m.Scale.Mul(t.Scale)
	out, err := e.alloc(min(a.level, t.Level), 1, m)
	if err != nil {
		return nil, err
	}
	return out, e.check(out, e.ctx.Linear(out.ptr, out.stride, a.ptr, a.stride, a.level, t, e.gal))
}
