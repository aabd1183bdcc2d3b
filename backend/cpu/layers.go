package cpu

import (
	"math"
	"strings"

	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// layerTable groups emitted instructions into the plan's per-layer summary:
// an instruction belongs to the layer named by its IR result's prefix before
// the first '.' ("h1.diag0", "h1.giant" and "h1" are all layer "h1"). Layers
// keep the order of their first instruction, so the table is deterministic.
type layerTable struct {
	order []*planpb.Layer
	byKey map[string]*planpb.Layer
	kinds map[*planpb.Layer]map[string]bool
}

func newLayerTable() *layerTable {
	return &layerTable{byKey: map[string]*planpb.Layer{}, kinds: map[*planpb.Layer]map[string]bool{}}
}

// layerName is the prefix of an IR value name before its first '.'.
func layerName(v string) string {
	if i := strings.IndexByte(v, '.'); i > 0 {
		return v[:i]
	}
	return v
}

// resolve is the layer of an IR value name: its prefix before the first
// '.', or, for a name without '.', an existing layer that it extends with
// digits only (the IR makes names unique by appending digits: "h216" is the
// last value of layer "h2").
func (t *layerTable) resolve(v string) string {
	name := layerName(v)
	if name != v || t.byKey[name] != nil {
		return name
	}
	best := ""
	for _, l := range t.order {
		if len(l.Name) > len(best) && strings.HasPrefix(v, l.Name) && allDigits(v[len(l.Name):]) {
			best = l.Name
		}
	}
	if best != "" {
		return best
	}
	return name
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// add records one emitted instruction (shared encodings are not emitted and
// not counted).
func (t *layerTable) add(op *ir.Op, ins *planpb.Instruction, slots int) {
	res := op.Result()
	name := t.resolve(res.Name)
	l := t.byKey[name]
	if l == nil {
		l = &planpb.Layer{Name: name}
		t.byKey[name] = l
		t.kinds[l] = map[string]bool{}
		t.order = append(t.order, l)
	}
	l.Instructions++
	kinds := t.kinds[l]
	for _, a := range op.Args {
		if a.Type.Kind == ir.CipherType && t.resolve(a.Name) != name {
			l.LevelIn = max(l.LevelIn, uint32(a.Type.Level))
		}
	}
	switch ins.Op {
	case planpb.Op_ENCODE:
		l.Encodes++
		return // a plaintext: not the layer's ciphertext result
	case planpb.Op_ROTATE:
		l.Rotations++
		kinds["dense"] = true
	case planpb.Op_MUL_PLAIN:
		l.CtPtMults++
		kinds["dense"] = true
	case planpb.Op_LINEAR:
		giants, babies := plan.LinearRotations(ins, slots)
		l.Rotations += uint64(len(giants) + len(babies))
		l.CtPtMults += uint64(len(ins.Offsets))
		kinds["dense"] = true
	case planpb.Op_DOT:
		l.CtPtMults += uint64(plan.DotTerms(ins))
		kinds["dense"] = true
	case planpb.Op_MUL:
		l.CtCtMults++
		kinds["square"] = true
	case planpb.Op_RESCALE:
		l.Rescales++
	case planpb.Op_POLY:
		d := len(ins.Coeffs) - 1
		mults := uint64(math.Ceil(2*math.Sqrt(float64(d)))) + uint64(ir.PolyDepth(d))
		l.CtCtMults += mults
		l.Rescales += mults
		kinds["activation"] = true
	case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN:
		kinds["add"] = true
	}
	l.LevelOut = uint32(res.Type.Level)
	l.ScaleOut = res.Type.Scale
}

// finish sets each layer's kind and fit error and returns the layers in order.
func (t *layerTable) finish(acts []Activation) []*planpb.Layer {
	for _, a := range acts {
		if l := t.byKey[layerName(a.Value)]; l != nil {
			l.FitMaxError = max(l.FitMaxError, a.MaxError)
			t.kinds[l]["activation"] = true
		}
	}
	for _, l := range t.order {
		var ks []string
		for _, k := range []string{"dense", "activation", "square", "add"} {
			if t.kinds[l][k] {
				ks = append(ks, k)
			}
		}
		if len(ks) > 1 && ks[len(ks)-1] == "add" {
			ks = ks[:len(ks)-1] // a bias or residual add is part of the layer's main work
		}
		if len(ks) == 0 {
			ks = []string{"other"}
		}
		l.Kind = strings.Join(ks, "+")
		if l.LevelIn < l.LevelOut {
			l.LevelIn = l.LevelOut
		}
	}
	return t.order
}
