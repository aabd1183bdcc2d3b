package fhec

import (
	"fmt"

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
	per := dims(r.Plan().Outputs[0].Shape)
	if len(per) > 0 && per[0] == 1 {
		per = per[1:]
	}
	t := Tensor{Shape: append([]int{len(outs[0])}, per...)}
	for _, s := range outs[0] {
		t.Data = append(t.Data, s...)
	}
	return t, t.Validate()
}

func dims(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}
