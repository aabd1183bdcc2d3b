package baseline

import (
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// OpCounts counts the homomorphic operations of one evaluation, with the
// same meaning as fhec's runtime.OpCounts so the two can be compared.
type OpCounts struct {
	// Rotations are key-switched rotations; HoistedRotations of them are
	// baby steps of a BSGS linear transformation that share one gadget
	// decomposition of the input (cheaper than a plain rotation).
	Rotations, HoistedRotations int64
	CtCtMults, CtPtMults        int64
	ScalarOps                   int64 // multiplications and additions by constants
	Additions                   int64 // ct+ct and ct+pt
	Rescales                    int64
	Relinearizations            int64
	KeySwitches                 int64 // Rotations + Relinearizations
}

// countingEvaluator wraps hefloat.Evaluator and counts what goes through it,
// including the operations of the polynomial evaluator.
type countingEvaluator struct {
	*hefloat.Evaluator
	n *OpCounts
}

func (e *countingEvaluator) countAdd(op1 rlwe.Operand) {
	if _, ok := op1.(rlwe.ElementInterface[ring.Poly]); ok {
		e.n.Additions++
	} else {
		e.n.ScalarOps++
	}
}

func (e *countingEvaluator) countMul(op1 rlwe.Operand, relin bool) {
	switch op1 := op1.(type) {
	case *rlwe.Ciphertext:
		if op1.Degree() > 0 {
			e.n.CtCtMults++
			if relin {
				e.n.Relinearizations++
				e.n.KeySwitches++
			}
			return
		}
		e.n.CtPtMults++
	case rlwe.ElementInterface[ring.Poly]:
		e.n.CtPtMults++
	default:
		e.n.ScalarOps++
	}
}

func (e *countingEvaluator) Add(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countAdd(op1)
	return e.Evaluator.Add(op0, op1, opOut)
}

func (e *countingEvaluator) AddNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countAdd(op1)
	return e.Evaluator.AddNew(op0, op1)
}

func (e *countingEvaluator) Sub(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countAdd(op1)
	return e.Evaluator.Sub(op0, op1, opOut)
}

func (e *countingEvaluator) SubNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countAdd(op1)
	return e.Evaluator.SubNew(op0, op1)
}

func (e *countingEvaluator) Mul(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countMul(op1, false)
	return e.Evaluator.Mul(op0, op1, opOut)
}

func (e *countingEvaluator) MulNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countMul(op1, false)
	return e.Evaluator.MulNew(op0, op1)
}

func (e *countingEvaluator) MulRelin(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countMul(op1, true)
	return e.Evaluator.MulRelin(op0, op1, opOut)
}

func (e *countingEvaluator) MulRelinNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countMul(op1, true)
	return e.Evaluator.MulRelinNew(op0, op1)
}

func (e *countingEvaluator) MulThenAdd(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countMul(op1, false)
	if _, ok := op1.(rlwe.ElementInterface[ring.Poly]); ok {
		e.n.Additions++
	}
	return e.Evaluator.MulThenAdd(op0, op1, opOut)
}

func (e *countingEvaluator) Relinearize(op0, opOut *rlwe.Ciphertext) error {
	e.n.Relinearizations++
	e.n.KeySwitches++
	return e.Evaluator.Relinearize(op0, opOut)
}

func (e *countingEvaluator) Rescale(op0, opOut *rlwe.Ciphertext) error {
	e.n.Rescales++
	return e.Evaluator.Rescale(op0, opOut)
}

// Rotate is a plain (non-hoisted) key-switched rotation.
func (e *countingEvaluator) Rotate(op0 *rlwe.Ciphertext, k int, opOut *rlwe.Ciphertext) error {
	e.n.Rotations++
	e.n.KeySwitches++
	return e.Evaluator.Rotate(op0, k, opOut)
}
