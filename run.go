package fhec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fhec/fhec/ir"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
)

// Runtime executes one plan with Lattigo; see package runtime. Client side:
// KeyGen, Encrypt, Decrypt. Server side: Evaluate, with evaluation keys only.
type Runtime struct {
	*runtime.Context
}

// Aliases so that API users need not import package runtime for the types.
type (
	SecretKey      = runtime.SecretKey
	EvaluationKeys = runtime.EvaluationKeys
	Ciphertexts    = runtime.Ciphertexts
	EvalOptions    = runtime.EvalOptions
	Stats          = runtime.Stats
)

// NewRuntime checks a plan and prepares its CKKS context.
func NewRuntime(p *planpb.Plan) (*Runtime, error) {
	c, err := runtime.NewContext(p)
	if err != nil {
		return nil, err
	}
	return &Runtime{c}, nil
}

// LoadRuntime reads a plan file and prepares its runtime.
func LoadRuntime(path string) (*Runtime, error) {
	p, err := plan.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return NewRuntime(p)
}

// EncryptTensor encrypts a tensor of shape [batch, ...model input without its
// batch dim] (or one sample in the model's input shape).
func (r *Runtime) EncryptTensor(sk *SecretKey, x Tensor) (*Ciphertexts, error) {
	ins := r.Plan().Inputs
	if len(ins) != 1 {
		return nil, fmt.Errorf("the plan has %d inputs; EncryptTensor takes one", len(ins))
	}
	samples, err := SplitBatch(x, dims(ins[0].Shape))
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", ins[0].Name, err)
	}
	return r.Encrypt(sk, [][][]float64{samples})
}

// DecryptTensor decrypts the plan's (single) output into a tensor of shape
// [batch, ...output without its batch dim].
func (r *Runtime) DecryptTensor(sk *SecretKey, ct *Ciphertexts) (Tensor, error) {
	outs, err := r.Decrypt(sk, ct)
	if err != nil {
		return Tensor{}, err
	}
	if len(outs) != 1 {
		return Tensor{}, fmt.Errorf("the plan has %d outputs; DecryptTensor returns one", len(outs))
	}
	out := r.Plan().Outputs[0]
	per := dims(out.Shape)
	shift := 1 // model axes -> axes of [batch, ...]
	if len(per) > 0 && per[0] == 1 {
		per, shift = per[1:], 0
	}
	t := Tensor{Shape: append([]int{len(outs[0])}, per...)}
	for _, s := range outs[0] {
		t.Data = append(t.Data, s...)
	}
	if err := t.Validate(); err != nil {
		return Tensor{}, err
	}
	return applyClientOps(t, out.ClientOps, shift)
}

// applyClientOps runs the plan's client-side tail (softmax, logsoftmax,
// argmax, each written "op key=value ...") on decrypted outputs, with the
// reference interpreter's semantics.
func applyClientOps(t Tensor, ops []string, axisShift int) (Tensor, error) {
	for _, desc := range ops {
		fields := strings.Fields(desc)
		if len(fields) == 0 {
			continue
		}
		attrs := map[string]ir.Attr{}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				return Tensor{}, fmt.Errorf("client op %q: bad attribute %q", desc, kv)
			}
			if k == "axis" && n >= 0 {
				n += int64(axisShift)
			}
			attrs[k] = n
		}
		g := ir.NewFunc("client")
		x := g.AddParam("x", ir.Tensor(t.Shape, false))
		y, err := g.Append(fields[0], "y", attrs, x)
		if err != nil {
			return Tensor{}, fmt.Errorf("client op %q: %w", desc, err)
		}
		g.Results = []*ir.Value{y}
		res, err := ir.Interpret(g, []ir.Array{{Shape: t.Shape, Data: t.Data}})
		if err != nil {
			return Tensor{}, fmt.Errorf("client op %q: %w", desc, err)
		}
		t = Tensor{Shape: res[0].Shape, Data: res[0].Data}
	}
	return t, nil
}

func dims(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}
