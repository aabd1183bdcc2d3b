// Package cpu turns ckks-level IR into a plan for the Lattigo runtime: SSA
// values become dense ids, constants are stored once, identical plaintext
// encodings are shared, and the keys the program needs (relinearization, the
// Galois elements of its rotations) are collected.
package cpu

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// Producer names this compiler in plan headers.
const Producer = "fhec 0.1"

// Activation is what the plan's metadata records about a fitted activation.
type Activation struct {
	Value, Function string
	Lo, Hi          float64
	Degree          int
	MaxError        float64
}

// Options carries what the backend cannot read off the IR.
type Options struct {
	Activations []Activation
	Properties  map[string]string
	Insecure    bool
}

// Emit builds a plan from ckks-level IR (after ManageScales).
func Emit(f *ir.Func, opt Options) (*planpb.Plan, error) {
	if err := ir.Verify(f); err != nil {
		return nil, err
	}
	q := f.Moduli()
	var pp []uint64
	for _, v := range f.Ints("p") {
		pp = append(pp, uint64(v))
	}
	logScale := float64(f.Int64("log_scale", 0))
	params := &planpb.Params{
		LogN: uint32(f.Int64("logN", 0)), Q: q, P: pp, LogDefaultScale: logScale,
		ErrorStd: rlwe.DefaultXe.Sigma, ErrorBound: rlwe.DefaultXe.Bound,
		SecurityBits: uint32(f.Int64("security_bits", 0)), Insecure: opt.Insecure || f.Int64("security_bits", 0) < 128,
	}
	ckks, err := plan.CKKSParameters(params)
	if err != nil {
		return nil, err
	}
	p := &planpb.Plan{Producer: Producer, Params: params, Keys: &planpb.KeySet{}, Metadata: &planpb.Metadata{
		Properties: map[string]string{}, OpCounts: &planpb.OpCounts{}}}
	for k, v := range opt.Properties {
		p.Metadata.Properties[k] = v
	}
	ids := map[*ir.Value]uint32{}
	next := uint32(0)
	def := func(v *ir.Value) uint32 {
		ids[v] = next
		next++
		return ids[v]
	}
	lay := func(l ir.Layout) *planpb.Layout {
		return plan.PlanLayout(l.Tiled())
	}
	for _, prm := range f.Params {
		if prm.Type.Kind != ir.CipherType {
			return nil, fmt.Errorf("parameter %%%s is not a ciphertext (lower the function first)", prm.Name)
		}
	}
	featureMajor := f.Attrs["packing"] == "feature-major"
	if featureMajor {
		groups, err := elementGroups(f, "param_elements", len(f.Params))
		if err != nil {
			return nil, err
		}
		for i, g := range groups {
			name, _ := f.Attrs[fmt.Sprintf("param%d_name", i)].(string)
			in := &planpb.Input{Name: name, Shape: f.Ints(fmt.Sprintf("param%d_shape", i)), Layout: lay(g[0].Type.Layout),
				Level: uint32(g[0].Type.Level), Scale: g[0].Type.Scale}
			for _, prm := range g {
				if prm.Type.Level != g[0].Type.Level || prm.Type.Scale != g[0].Type.Scale || prm.Type.Layout != g[0].Type.Layout {
					return nil, fmt.Errorf("input %q: elements %%%s and %%%s differ in level, scale or layout", name, g[0].Name, prm.Name)
				}
				in.ElementValues = append(in.ElementValues, def(prm))
			}
			in.Value = in.ElementValues[0]
			p.Inputs = append(p.Inputs, in)
		}
	} else {
		for _, prm := range f.Params {
			p.Inputs = append(p.Inputs, &planpb.Input{Name: prm.Name, Shape: shape64(prm.Type.Shape), Layout: lay(prm.Type.Layout),
				Value: def(prm), Level: uint32(prm.Type.Level), Scale: prm.Type.Scale})
		}
	}
	constIdx := map[string]uint32{}
	type encKey struct {
		c            string
		level, batch int64
		scale        float64
	}
	encoded := map[encKey]*ir.Value{}
	galois := map[uint64]bool{}
	counts := p.Metadata.OpCounts
	layers := newLayerTable()
	for _, op := range f.Ops {
		ins := &planpb.Instruction{}
		for _, a := range op.Args {
			id, ok := ids[a]
			if !ok {
				return nil, fmt.Errorf("%%%s used before its definition", a.Name)
			}
			ins.Args = append(ins.Args, id)
		}
		switch op.Code {
		case "ckks.encode":
			name := op.Str("const", "")
			k := encKey{name, op.Int("level", 0), op.Int("batch", 1), op.Float("scale", 0)}
			if prev := encoded[k]; prev != nil {
				ids[op.Result()] = ids[prev] // the same plaintext: encode once
				continue
			}
			encoded[k] = op.Result()
			idx, ok := constIdx[name]
			if !ok {
				idx = uint32(len(p.Constants))
				constIdx[name] = idx
				p.Constants = append(p.Constants, &planpb.Constant{Name: name, Values: f.Consts[name].Data})
			}
			ins.Op, ins.Constant, ins.Level, ins.Scale, ins.Batch = planpb.Op_ENCODE, idx, uint32(k.level), k.scale, uint32(k.batch)
			counts.Encodes++
		case "ckks.rotate":
			ins.Op, ins.Offset = planpb.Op_ROTATE, op.Int("offset", 0)
			galois[ckks.GaloisElement(int(ins.Offset))] = true
			counts.Rotations++
			counts.KeySwitches++
		case "ckks.linear":
			ins.Op, ins.Offsets, ins.N1 = planpb.Op_LINEAR, op.Ints("offsets"), uint32(op.Int("n1", 0))
			giants, babies := plan.LinearRotations(ins, ckks.MaxSlots())
			for _, r := range append(giants, babies...) {
				galois[ckks.GaloisElement(r)] = true
			}
			counts.Rotations += uint64(len(giants) + len(babies))
			counts.KeySwitches += uint64(len(giants) + len(babies))
			counts.CtPtMults += uint64(len(ins.Offsets))
		case "ckks.dot":
			ins.Op, ins.Coeffs, ins.Scale, ins.Bias = planpb.Op_DOT, op.Floats("coeffs"), op.Float("wscale", 0), op.Float("bias", 0)
			counts.CtPtMults += uint64(plan.DotTerms(ins))
			counts.Additions += uint64(len(ins.Args) - 1)
		case "ckks.add":
			ins.Op = planpb.Op_ADD
			counts.Additions++
		case "ckks.sub":
			ins.Op = planpb.Op_SUB
			counts.Additions++
		case "ckks.add_plain":
			ins.Op = planpb.Op_ADD_PLAIN
			counts.Additions++
		case "ckks.mul_plain":
			ins.Op = planpb.Op_MUL_PLAIN
			counts.CtPtMults++
		case "ckks.mul":
			ins.Op = planpb.Op_MUL
			counts.CtCtMults++
		case "ckks.relin":
			ins.Op = planpb.Op_RELINEARIZE
			p.Keys.Relinearization = true
			counts.Relinearizations++
			counts.KeySwitches++
		case "ckks.rescale":
			ins.Op = planpb.Op_RESCALE
			counts.Rescales++
		case "ckks.poly":
			coeffs := op.Floats("coeffs")
			ins.Op, ins.Coeffs, ins.Depth, ins.Scale = planpb.Op_POLY, coeffs, uint32(op.Int("depth", 0)), op.Float("scale", 0)
			p.Keys.Relinearization = true
			// Paterson-Stockmeyer as Lattigo runs it: about 2*sqrt(d) + log2(d) products
			d := len(coeffs) - 1
			mults := uint64(math.Ceil(2*math.Sqrt(float64(d)))) + uint64(ir.PolyDepth(d))
			counts.CtCtMults += mults
			counts.Relinearizations += mults
			counts.KeySwitches += mults
			counts.Rescales += mults
		case "ckks.bootstrap":
			ins.Op = planpb.Op_BOOTSTRAP
			p.Keys.Bootstrapping = true
			counts.Bootstraps++
		default:
			return nil, fmt.Errorf("op %s (%%%s) is not a ckks-level op the CPU backend knows", op.Code, op.Result().Name)
		}
		ins.Result = def(op.Result())
		p.Program = append(p.Program, ins)
		layers.add(op, ins, ckks.MaxSlots())
	}
	results := make([][]*ir.Value, len(f.Results))
	for i, r := range f.Results {
		results[i] = []*ir.Value{r}
	}
	if featureMajor {
		var err error
		if results, err = elementGroups(f, "result_elements", len(f.Results)); err != nil {
			return nil, err
		}
	}
	for i, rs := range results {
		r := rs[0]
		var elems []uint32
		for _, e := range rs {
			id, ok := ids[e]
			if !ok || e.Type.Kind != ir.CipherType {
				return nil, fmt.Errorf("result %d (%%%s) is not a computed ciphertext", i, e.Name)
			}
			elems = append(elems, id)
		}
		id := elems[0]
		if !featureMajor {
			elems = nil
		}
		name := f.Attrs[fmt.Sprintf("result%d_name", i)]
		sname, _ := name.(string)
		if sname == "" {
			sname = "output" + strconv.Itoa(i)
		}
		shape := f.Ints(fmt.Sprintf("result%d_shape", i))
		if shape == nil {
			shape = shape64(r.Type.Shape)
		}
		var tail []string
		if s, _ := f.Attrs[fmt.Sprintf("result%d_client_ops", i)].(string); s != "" {
			tail = strings.Split(s, "; ")
		}
		p.Outputs = append(p.Outputs, &planpb.Output{Name: sname, Shape: shape, Layout: lay(r.Type.Layout), Value: id, ClientOps: tail, ElementValues: elems})
	}
	for g := range galois {
		p.Keys.GaloisElements = append(p.Keys.GaloisElements, g)
	}
	slices.Sort(p.Keys.GaloisElements)
	if err := emitBootstrapping(f, p); err != nil {
		return nil, err
	}
	p.NumValues = next
	for _, a := range opt.Activations {
		p.Metadata.Activations = append(p.Metadata.Activations, &planpb.Activation{Value: a.Value, Function: a.Function,
			Lo: a.Lo, Hi: a.Hi, Degree: uint32(a.Degree), FitMaxError: a.MaxError})
	}
	p.Metadata.Layers = layers.finish(opt.Activations)
	if err := plan.Validate(p); err != nil {
		return nil, fmt.Errorf("backend produced an invalid plan: %w", err)
	}
	return p, nil
}

func shape64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

// elementGroups splits a feature-major function's parameters or results
// (one ciphertext per element) into their tensors, by the element counts in
// attribute attr.
func elementGroups(f *ir.Func, attr string, total int) ([][]*ir.Value, error) {
	vals := f.Params
	if attr == "result_elements" {
		vals = f.Results
	}
	var groups [][]*ir.Value
	at := 0
	for _, n := range f.Ints(attr) {
		if n < 1 || at+int(n) > total {
			return nil, fmt.Errorf("feature-major function: %s %v does not split %d values", attr, f.Ints(attr), total)
		}
		groups = append(groups, vals[at:at+int(n)])
		at += int(n)
	}
	if at != total || len(groups) == 0 {
		return nil, fmt.Errorf("feature-major function: %s %v does not split %d values", attr, f.Ints(attr), total)
	}
	return groups, nil
}
