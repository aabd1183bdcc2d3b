package runtime

import (
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
)

// A key switch is Lattigo's single-threaded gadget product: the input
// polynomial is decomposed into one digit per group of P primes, each digit
// is extended to QP and multiplied by its row of the key, the products are
// summed, and the sum is divided by P (mod-down). The digits are
// independent, so when one ROTATE or RELINEARIZE is all that a group has
// left to do (a rotate-and-add fold chain, the relinearization after a
// square), the runtime splits the digits over the cores and the mod-downs
// of the two output polynomials over two of them. The arithmetic is
// Lattigo's, in the same order per digit, reduced at the same points mod q:
// the result is the bytes Lattigo's Rotate and Relinearize produce (tested).

// keySwitchParallel sets (out0, out1) = gadget product of cx (NTT, level
// levelQ) with key, mod Q in the NTT domain, over evs (ShallowCopy
// evaluators: their buffers are their own).
func keySwitchParallel(params hefloat.Parameters, evs []*rlwe.Evaluator, levelQ int, cx ring.Poly, key *rlwe.GadgetCiphertext, out0, out1 ring.Poly) {
	levelP := key.LevelP()
	if key.BaseTwoDecomposition != 0 {
		panic(fmt.Errorf("keys with a base-2 decomposition are not supported by the parallel key switch"))
	}
	ringQP := params.RingQP().AtLevel(levelQ, levelP)
	ringQ, ringP := ringQP.RingQ, ringQP.RingP
	digits := params.BaseRNSDecompositionVectorSize(levelQ, levelP)
	par := max(1, min(len(evs), digits))
	cxInv := ringQ.NewPoly()
	ringQ.INTT(cx, cxInv)
	qiOverF := params.QiOverflowMargin(levelQ) >> 1
	piOverF := params.PiOverflowMargin(levelP) >> 1

	type acc struct{ a0, a1 ringqp.Poly }
	accs := make([]acc, par)
	fanOut(par, func(k int) {
		ev := evs[k]
		c2 := ev.GetBuffDecompQP()[0]
		a := acc{ringQP.NewPoly(), ringQP.NewPoly()}
		n := 0
		for i := k; i < digits; i += par {
			ev.DecomposeSingleNTT(levelQ, levelP, levelP+1, i, cx, cxInv, c2.Q, c2.P)
			if n == 0 {
				ringQP.MulCoeffsMontgomeryLazy(key.Value[i][0][0], c2, a.a0)
				ringQP.MulCoeffsMontgomeryLazy(key.Value[i][0][1], c2, a.a1)
			} else {
				ringQP.MulCoeffsMontgomeryLazyThenAddLazy(key.Value[i][0][0], c2, a.a0)
				ringQP.MulCoeffsMontgomeryLazyThenAddLazy(key.Value[i][0][1], c2, a.a1)
			}
			if n%qiOverF == qiOverF-1 {
				ringQ.Reduce(a.a0.Q, a.a0.Q)
				ringQ.Reduce(a.a1.Q, a.a1.Q)
			}
			if n%piOverF == piOverF-1 {
				ringP.Reduce(a.a0.P, a.a0.P)
				ringP.Reduce(a.a1.P, a.a1.P)
			}
			n++
		}
		ringQ.Reduce(a.a0.Q, a.a0.Q)
		ringQ.Reduce(a.a1.Q, a.a1.Q)
		ringP.Reduce(a.a0.P, a.a0.P)
		ringP.Reduce(a.a1.P, a.a1.P)
		accs[k] = a
	})
	for _, a := range accs[1:] {
		ringQP.Add(accs[0].a0, a.a0, accs[0].a0)
		ringQP.Add(accs[0].a1, a.a1, accs[0].a1)
	}
	// the two mod-downs side by side
	outs, as := []ring.Poly{out0, out1}, []ringqp.Poly{accs[0].a0, accs[0].a1}
	if len(evs) > 1 {
		fanOut(2, func(k int) { evs[k].ModDownQPtoQNTT(levelQ, levelP, as[k].Q, as[k].P, outs[k]) })
		return
	}
	for k := range outs {
		evs[0].ModDownQPtoQNTT(levelQ, levelP, as[k].Q, as[k].P, outs[k])
	}
}

// subEvaluators returns w.par ShallowCopy evaluators (made once).
func (w *worker) subEvaluators() []*rlwe.Evaluator {
	for len(w.sub) < w.par {
		w.sub = append(w.sub, w.eval.Evaluator.ShallowCopy())
	}
	evs := make([]*rlwe.Evaluator, len(w.sub))
	for i, e := range w.sub {
		evs[i] = e.Evaluator.Evaluator
	}
	return evs
}

// rotateParallel is Lattigo's Rotate(ct, k) with the key switch over the cores.
func (w *worker) rotateParallel(ct *rlwe.Ciphertext, k int) (*rlwe.Ciphertext, error) {
	params := w.c.params
	galEl := params.GaloisElement(k)
	if ct.Degree() != 1 || !ct.IsNTT {
		return nil, fmt.Errorf("rotation of a degree-%d ciphertext (NTT %v)", ct.Degree(), ct.IsNTT)
	}
	evk, err := w.eval.CheckAndGetGaloisKey(galEl)
	if err != nil {
		return nil, err
	}
	level := ct.Level()
	ringQ := params.RingQ().AtLevel(level)
	t0, t1 := ringQ.NewPoly(), ringQ.NewPoly()
	keySwitchParallel(params, w.subEvaluators(), level, ct.Value[1], &evk.GadgetCiphertext, t0, t1)
	ringQ.Add(t0, ct.Value[0], t0)
	res := hefloat.NewCiphertext(params, 1, level)
	idx := w.eval.AutomorphismIndex(galEl)
	ringQ.AutomorphismNTTWithIndex(t0, idx, res.Value[0])
	ringQ.AutomorphismNTTWithIndex(t1, idx, res.Value[1])
	*res.MetaData = *ct.MetaData.CopyNew()
	w.eval.n.Rotations++
	w.eval.n.KeySwitches++
	return res, nil
}

// relinearizeParallel is Lattigo's Relinearize with the key switch over the cores.
func (w *worker) relinearizeParallel(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	params := w.c.params
	if ct.Degree() != 2 || !ct.IsNTT {
		return nil, fmt.Errorf("relinearization of a degree-%d ciphertext (NTT %v)", ct.Degree(), ct.IsNTT)
	}
	rlk, err := w.eval.CheckAndGetRelinearizationKey()
	if err != nil {
		return nil, err
	}
	level := ct.Level()
	ringQ := params.RingQ().AtLevel(level)
	res := hefloat.NewCiphertext(params, 1, level)
	keySwitchParallel(params, w.subEvaluators(), level, ct.Value[2], &rlk.GadgetCiphertext, res.Value[0], res.Value[1])
	ringQ.Add(ct.Value[0], res.Value[0], res.Value[0])
	ringQ.Add(ct.Value[1], res.Value[1], res.Value[1])
	*res.MetaData = *ct.MetaData.CopyNew()
	w.eval.n.Relinearizations++
	w.eval.n.KeySwitches++
	return res, nil
}

// fanOut runs f(0), ..., f(n-1) on n goroutines and waits; a panic in any
// of them is re-raised in the caller (where recoverTo turns it into an
// error), not lost with its goroutine.
func fanOut(n int, f func(k int)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var panicked any
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panicked = p
					mu.Unlock()
				}
			}()
			f(k)
		}(k)
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
