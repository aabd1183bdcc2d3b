package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat/bootstrapping"

	"github.com/fhec/fhec/plan"
)

// bootstrapKeys are the keys of Lattigo's bootstrapping circuit (same ring
// as the plan, so no ring-switching keys): a relinearization key, the two
// sparse-secret encapsulation keys and the circuit's Galois keys, all over
// the circuit's larger modulus. The evaluator built from them (DFT matrices
// and all) is made once and shared; workers use shallow copies.
type bootstrapKeys struct {
	rlk           *rlwe.RelinearizationKey
	denseToSparse *rlwe.EvaluationKey
	sparseToDense *rlwe.EvaluationKey
	galois        []*rlwe.GaloisKey // ascending Galois element
}

// bootstrapEvaluators caches the bootstrapping evaluator of the last keys a
// Context evaluated with (in the Context, not in EvaluationKeys: Lattigo's
// evaluator has a debug secret-key field, always nil here).
type bootstrapEvaluators struct {
	mu   sync.Mutex
	keys *bootstrapKeys
	eval *bootstrapping.Evaluator
}

// Progress reports key generation: done of total keys, bytes so far.
type Progress func(done, total int, bytes int64)

// bootstrapParams returns the plan's bootstrapping parameters (nil when the
// plan never bootstraps).
func (c *Context) bootstrapParams() (*bootstrapping.Parameters, error) {
	if c.plan.Params.GetBootstrapping() == nil {
		return nil, nil
	}
	bp, err := plan.BootstrappingParameters(c.plan.Params)
	if err != nil {
		return nil, err
	}
	return &bp, nil
}

// NeedsBootstrapping reports whether the plan's program bootstraps.
func (c *Context) NeedsBootstrapping() bool { return c.plan.Keys.GetBootstrapping() }

// genBootstrapKeys makes the bootstrapping keys, as
// bootstrapping.Parameters.GenEvaluationKeys does for equal ring degrees,
// one key at a time so that progress can be reported.
func (c *Context) genBootstrapKeys(sk *rlwe.SecretKey, progress Progress) (*bootstrapKeys, error) {
	bp := c.btp
	params := bp.BootstrappingParameters
	ringQ, ringP := params.RingQ(), params.RingP()
	// The same secret over the circuit's modulus.
	skN2 := rlwe.NewSecretKey(params)
	buff := ringQ.NewPoly()
	rlwe.ExtendBasisSmallNormAndCenterNTTMontgomery(ringQ, ringQ, sk.Value.Q, buff, skN2.Value.Q)
	rlwe.ExtendBasisSmallNormAndCenterNTTMontgomery(ringQ, ringP, sk.Value.Q, buff, skN2.Value.P)

	gal := c.plan.Keys.BootstrappingGaloisElements
	total := len(gal) + 1
	if bp.EphemeralSecretWeight != 0 {
		total += 2
	}
	done := 0
	var bytes int64
	step := func(n int) {
		done++
		bytes += int64(n)
		if progress != nil {
			progress(done, total, bytes)
		}
	}
	kgen := rlwe.NewKeyGenerator(params)
	k := &bootstrapKeys{}
	if bp.EphemeralSecretWeight != 0 {
		sparse, err := rlwe.NewParametersFromLiteral(rlwe.ParametersLiteral{LogN: params.LogN(), Q: params.Q()[:1], P: params.P()[:1]})
		if err != nil {
			return nil, err
		}
		skSparse := rlwe.NewKeyGenerator(sparse).GenSecretKeyWithHammingWeightNew(bp.EphemeralSecretWeight)
		k.denseToSparse = kgen.GenEvaluationKeyNew(skN2, skSparse)
		step(k.denseToSparse.BinarySize())
		k.sparseToDense = kgen.GenEvaluationKeyNew(skSparse, skN2)
		step(k.sparseToDense.BinarySize())
	}
	k.rlk = kgen.GenRelinearizationKeyNew(skN2)
	step(k.rlk.BinarySize())
	for _, g := range gal {
		gk := kgen.GenGaloisKeyNew(g, skN2)
		k.galois = append(k.galois, gk)
		step(gk.BinarySize())
	}
	return k, nil
}

func (k *bootstrapKeys) lattigo() *bootstrapping.EvaluationKeys {
	return &bootstrapping.EvaluationKeys{EvkDenseToSparse: k.denseToSparse, EvkSparseToDense: k.sparseToDense,
		MemEvaluationKeySet: rlwe.NewMemEvaluationKeySet(k.rlk, k.galois...)}
}

// bootstrapEvaluator returns a bootstrapping evaluator for one worker: a
// shallow copy of the one shared by all evaluations with these keys.
// (Lattigo v5.0.7's ShallowCopy drops the parameters and the keys; they are
// read-only and put back here. Its ring-switching buffers, which it drops
// too, are unused with equal ring degrees.)
func (c *Context) bootstrapEvaluator(k *bootstrapKeys) (e *bootstrapping.Evaluator, err error) {
	c.btpEval.mu.Lock()
	defer c.btpEval.mu.Unlock()
	if c.btpEval.keys != k {
		c.btpEval.keys, c.btpEval.eval = nil, nil
		var ev *bootstrapping.Evaluator
		err = func() (err error) {
			defer recoverTo(&err)
			ev, err = bootstrapping.NewEvaluator(*c.btp, k.lattigo())
			return err
		}()
		if err != nil {
			return nil, fmt.Errorf("runtime: bootstrapping evaluator: %w", err)
		}
		c.btpEval.keys, c.btpEval.eval = k, ev
	}
	base := c.btpEval.eval
	e = base.ShallowCopy()
	e.Parameters = base.Parameters
	e.EvaluationKeys = base.EvaluationKeys
	return e, nil
}

// BootstrappingKeySize is the size in bytes of the bootstrapping keys (0 without).
func (e *EvaluationKeys) BootstrappingKeySize() int64 {
	if e.btp == nil {
		return 0
	}
	return int64(e.btp.lattigo().BinarySize())
}

// BootstrappingGaloisElements lists the Galois elements of the bootstrapping keys.
func (e *EvaluationKeys) BootstrappingGaloisElements() []uint64 {
	if e.btp == nil {
		return nil
	}
	out := make([]uint64, len(e.btp.galois))
	for i, g := range e.btp.galois {
		out[i] = g.GaloisElement
	}
	return out
}

func (c *Context) checkBootstrapKeys(evk *EvaluationKeys) error {
	if !c.NeedsBootstrapping() {
		return nil
	}
	if evk.btp == nil {
		return fmt.Errorf("runtime: the plan bootstraps, the evaluation keys lack the bootstrapping keys (regenerate them with this plan)")
	}
	if have := evk.BootstrappingGaloisElements(); !slices.Equal(have, c.plan.Keys.BootstrappingGaloisElements) {
		return fmt.Errorf("runtime: the bootstrapping keys cover %d Galois elements, the plan needs %d others", len(have), len(c.plan.Keys.BootstrappingGaloisElements))
	}
	return nil
}

// appendBootstrapKeys encodes the optional bootstrapping section of an
// evaluation key file: uint8 has_bootstrapping, then
// blob(rlwe.RelinearizationKey), uint8 has_encapsulation,
// [blob(dense-to-sparse key), blob(sparse-to-dense key)], uint32 count,
// count x blob(rlwe.GaloisKey), ascending.
func appendBootstrapKeys(body []byte, k *bootstrapKeys) ([]byte, error) {
	if k == nil {
		return append(body, 0), nil
	}
	body = append(body, 1)
	blob, err := k.rlk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	body = appendBlob(body, blob)
	if k.denseToSparse != nil {
		body = append(body, 1)
		for _, ek := range []*rlwe.EvaluationKey{k.denseToSparse, k.sparseToDense} {
			if blob, err = ek.MarshalBinary(); err != nil {
				return nil, err
			}
			body = appendBlob(body, blob)
		}
	} else {
		body = append(body, 0)
	}
	body = binary.LittleEndian.AppendUint32(body, uint32(len(k.galois)))
	for _, gk := range k.galois {
		if blob, err = gk.MarshalBinary(); err != nil {
			return nil, err
		}
		body = appendBlob(body, blob)
	}
	return body, nil
}

// readBootstrapKeys decodes the section appendBootstrapKeys writes, checking
// each key's structure against the circuit's parameters first.
func (c *Context) readBootstrapKeys(r *reader) (*bootstrapKeys, error) {
	switch has := r.u8(); {
	case r.err != nil:
		return nil, fmt.Errorf("runtime: evaluation keys: %w", r.err)
	case has != 1:
		return nil, fmt.Errorf("runtime: evaluation keys: %w: bootstrapping flag %d", ErrMalformed, has)
	}
	if c.btp == nil {
		return nil, fmt.Errorf("runtime: evaluation keys: %w: bootstrapping keys for a plan without bootstrapping parameters", ErrMalformed)
	}
	params := c.btp.BootstrappingParameters
	full := newShape(params.Parameters.Parameters)
	k := &bootstrapKeys{}
	blob := r.blob()
	if r.err != nil {
		return nil, fmt.Errorf("runtime: evaluation keys: %w", r.err)
	}
	w := &reader{b: blob}
	full.gadget(w)
	if err := w.end("bootstrapping relinearization key"); err != nil {
		return nil, err
	}
	k.rlk = new(rlwe.RelinearizationKey)
	if err := lattigoUnmarshal(k.rlk, blob); err != nil {
		return nil, fmt.Errorf("runtime: bootstrapping relinearization key: %w", err)
	}
	switch has := r.u8(); {
	case r.err != nil:
	case has == 1:
		for i, dst := range []**rlwe.EvaluationKey{&k.denseToSparse, &k.sparseToDense} {
			blob := r.blob()
			if r.err != nil {
				break
			}
			w := &reader{b: blob}
			full.gadget(w) // full-level keys (Lattigo makes them at the circuit's max levels)
			if err := w.end(fmt.Sprintf("encapsulation key %d", i)); err != nil {
				return nil, err
			}
			*dst = new(rlwe.EvaluationKey)
			if err := lattigoUnmarshal(*dst, blob); err != nil {
				return nil, fmt.Errorf("runtime: encapsulation key %d: %w", i, err)
			}
		}
	case has != 0:
		return nil, fmt.Errorf("runtime: evaluation keys: %w: encapsulation flag %d", ErrMalformed, has)
	}
	var err error
	if k.galois, err = readGaloisKeys(r, full, uint64(2*params.N()), "bootstrapping Galois key"); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, fmt.Errorf("runtime: evaluation keys: %w", r.err)
	}
	return k, nil
}

// bootstrap runs Lattigo's bootstrapping (Evaluate: full slots) on a copy
// of ct (Lattigo drops the input's levels in place) and checks that the
// result is where the plan says: the output level, at the default scale.
func (w *worker) bootstrap(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	if w.btp == nil {
		return nil, fmt.Errorf("no bootstrapping evaluator")
	}
	res, err := w.btp.Evaluate(ct.CopyNew())
	if err != nil {
		return nil, err
	}
	w.eval.n.Bootstraps++
	b := w.c.plan.Params.Bootstrapping
	if res.Level() != int(b.OutputLevel) {
		return nil, fmt.Errorf("bootstrapping left the result at level %d, the plan expects %d", res.Level(), b.OutputLevel)
	}
	if want := w.c.params.DefaultScale(); res.Scale.Cmp(want) != 0 {
		return nil, fmt.Errorf("bootstrapping left the result at scale 2^%.4f, the plan expects 2^%.4f", res.LogScale(), math.Log2(want.Float64()))
	}
	return res, nil
}
