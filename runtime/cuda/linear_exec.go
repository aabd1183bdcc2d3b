package cuda

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils"

	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan/planpb"
)

// LINEAR (format 1.2) runs on the kernels (linear.go: Lattigo's
// double-hoisted baby-step giant-step product, bit for bit). Its diagonals
// are encoded on the host exactly as the CPU runtime encodes them
// (runtime/linear.go: per giant step, in QP, scale and level of the first
// diagonal's ENCODE) and uploaded once per executor.

// linearTransforms builds the transformation of every LINEAR instruction,
// keyed by result value.
func (e *Executor) linearTransforms() (map[uint32]hefloat.LinearTransformation, error) {
	p := e.plan
	def := map[uint32]*planpb.Instruction{}
	for _, ins := range p.Program {
		def[ins.Result] = ins
	}
	slots := e.params.MaxSlots()
	ecd := hefloat.NewEncoder(e.params)
	lts := map[uint32]hefloat.LinearTransformation{}
	for pc, ins := range p.Program {
		if ins.Op != planpb.Op_LINEAR {
			continue
		}
		if len(ins.Args) < 2 || len(ins.Offsets) != len(ins.Args)-1 {
			return nil, fmt.Errorf("cuda: instruction %d (LINEAR): %d arguments and %d offsets", pc, len(ins.Args), len(ins.Offsets))
		}
		enc0 := def[ins.Args[1]]
		if enc0 == nil || enc0.Op != planpb.Op_ENCODE {
			return nil, fmt.Errorf("cuda: instruction %d (LINEAR): diagonal value %d is not an ENCODE result", pc, ins.Args[1])
		}
		level, scale := int(enc0.Level), enc0.Scale
		diags := hefloat.Diagonals[float64]{}
		for j, a := range ins.Args[1:] {
			enc := def[a]
			if enc == nil || enc.Op != planpb.Op_ENCODE || int(enc.Level) != level || enc.Scale != scale || int(enc.Constant) >= len(p.Constants) {
				return nil, fmt.Errorf("cuda: instruction %d (LINEAR): diagonal %d is not an ENCODE of the first one's level and scale", pc, j)
			}
			vals, err := layout.Broadcast(p.Constants[enc.Constant].Values, int(enc.Batch), slots)
			if err != nil {
				return nil, fmt.Errorf("cuda: instruction %d (LINEAR): diagonal %d: %w", pc, j, err)
			}
			diags[int(((ins.Offsets[j]%int64(slots))+int64(slots))%int64(slots))] = vals
		}
		n1 := int(ins.N1)
		if n1 < 1 {
			return nil, fmt.Errorf("cuda: instruction %d (LINEAR): baby step %d", pc, n1)
		}
		index, _, _ := he.BSGSIndex(diags.DiagonalsIndexList(), slots, n1)
		ringQP := e.params.RingQP().AtLevel(level, e.params.MaxLevelP())
		lt := hefloat.LinearTransformation{
			MetaData: &rlwe.MetaData{
				PlaintextMetaData:  rlwe.PlaintextMetaData{LogDimensions: e.params.LogMaxDimensions(), Scale: rlwe.NewScale(scale), IsBatched: true},
				CiphertextMetaData: rlwe.CiphertextMetaData{IsNTT: true, IsMontgomery: true},
			},
			N1:    n1,
			Level: level,
			Vec:   map[int]ringqp.Poly{},
		}
		for _, g := range utils.GetSortedKeys(index) {
			sub := lt
			sub.Vec = map[int]ringqp.Poly{}
			d := hefloat.Diagonals[float64]{}
			for _, b := range index[g] {
				q := ringQP.NewPoly()
				lt.Vec[g+b], sub.Vec[g+b], d[g+b] = q, q, diags[g+b]
			}
			if err := hefloat.EncodeLinearTransformation(ecd, d, sub); err != nil {
				return nil, fmt.Errorf("cuda: instruction %d (LINEAR): %w", pc, err)
			}
		}
		lts[ins.Result] = lt
	}
	return lts, nil
}

// linearOnly: ENCODE results read only as LINEAR diagonals (not uploaded).
func linearOnly(p *planpb.Plan) map[uint32]bool {
	readers, byLinear := map[uint32]int{}, map[uint32]int{}
	for _, ins := range p.Program {
		for j, a := range ins.Args {
			readers[a]++
			if ins.Op == planpb.Op_LINEAR && j > 0 {
				byLinear[a]++
			}
		}
	}
	only := map[uint32]bool{}
	for v, n := range byLinear {
		if readers[v] == n && !slices.ContainsFunc(p.Outputs, func(o *planpb.Output) bool { return o.Value == v }) {
			only[v] = true
		}
	}
	return only
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
