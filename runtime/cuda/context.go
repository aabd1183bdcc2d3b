package cuda

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Context holds one ring's constant tables on a device and issues the kernel
// launches of each RNS operation. Polynomials are nlimbs consecutive limbs of
// N words; limb l of a polynomial at chain offset limb0 has modulus
// Moduli[limb0+l]. The chain is Q (indices 0 .. NQ-1) followed by P.
type Context struct {
	Dev    Device
	LogN   int
	N      int
	Moduli []uint64
	NQ     int

	consts  Ptr // FHEC_C_COUNT arrays of L words (fhec_cuda.h)
	rootsF  Ptr // L*N: SubRing.RootsForward
	rootsB  Ptr // L*N: SubRing.RootsBackward
	rescale Ptr // (NQ-1) rows of L words: row level-1 = ringQ.RescaleConstants[level-1]
	autIdx  map[uint64]Ptr

	ringQ, ringP *ring.Ring
	ks           *ksTables // key-switching tables, built on first use (keyswitch.go)

	// Launches counts kernel launches per kernel name.
	Launches map[string]int
}

// NewContext uploads the tables of ringQ (and ringP, may be nil) to dev.
// The tables are Lattigo's own (twiddles, N^-1, Montgomery and Barrett
// constants, rescale constants), so the kernels reproduce its results.
func NewContext(dev Device, ringQ, ringP *ring.Ring) (*Context, error) {
	subs := append([]*ring.SubRing{}, ringQ.SubRings...)
	if ringP != nil {
		subs = append(subs, ringP.SubRings...)
	}
	N := ringQ.N()
	c := &Context{Dev: dev, N: N, LogN: bits.Len(uint(N)) - 1, NQ: len(ringQ.SubRings), autIdx: map[uint64]Ptr{}, Launches: map[string]int{},
		ringQ: ringQ, ringP: ringP}
	L := len(subs)
	consts := make([]uint64, 5*L)
	rootsF := make([]uint64, L*N)
	rootsB := make([]uint64, L*N)
	for i, s := range subs {
		if s.N != N || s.NTTTable == nil || len(s.RootsForward) != N {
			return nil, fmt.Errorf("cuda: modulus %d: only the standard ring of degree %d is supported", s.Modulus, N)
		}
		c.Moduli = append(c.Moduli, s.Modulus)
		consts[0*L+i] = s.Modulus
		consts[1*L+i] = s.MRedConstant
		consts[2*L+i] = s.BRedConstant[0]
		consts[3*L+i] = s.BRedConstant[1]
		consts[4*L+i] = s.NInv
		copy(rootsF[i*N:], s.RootsForward)
		copy(rootsB[i*N:], s.RootsBackward)
	}
	resc := make([]uint64, max(1, (c.NQ-1)*L))
	for lvl := 1; lvl < c.NQ; lvl++ {
		copy(resc[(lvl-1)*L:], ringQ.RescaleConstants[lvl-1])
	}
	var err error
	upload := func(dst *Ptr, v []uint64) {
		if err != nil {
			return
		}
		if *dst, err = dev.Alloc(len(v)); err == nil {
			err = dev.CopyIn(*dst, v)
		}
	}
	upload(&c.consts, consts)
	upload(&c.rootsF, rootsF)
	upload(&c.rootsB, rootsB)
	upload(&c.rescale, resc)
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close frees the context's tables (not the device).
func (c *Context) Close() {
	for _, p := range []Ptr{c.consts, c.rootsF, c.rootsB, c.rescale} {
		if p != 0 {
			c.Dev.Free(p)
		}
	}
	for _, p := range c.autIdx {
		c.Dev.Free(p)
	}
	c.freeKeySwitch()
	c.consts, c.rootsF, c.rootsB, c.rescale, c.autIdx = 0, 0, 0, 0, map[uint64]Ptr{}
}

// L is the length of the whole modulus chain (Q and P).
func (c *Context) L() int { return len(c.Moduli) }

func (c *Context) launch(k string, threads int, args ...uint64) error {
	c.Launches[k]++
	return c.Dev.Launch(k, threads, args...)
}

func (c *Context) check(limb0, nlimbs int) error {
	if limb0 < 0 || nlimbs < 1 || limb0+nlimbs > c.L() {
		return fmt.Errorf("cuda: limbs %d..%d outside the chain of %d moduli", limb0, limb0+nlimbs-1, c.L())
	}
	return nil
}

// ForwardMode returns the fhec_ntt_fwd_stage mode of stage m = 2^logm that
// reproduces Lattigo's forward NTT (nttUnrolled16Lazy for N >= 16, nttLazy
// below): which butterflies reduce U >= 4q, and the final Barrett reduction
// of NTT (not NTTLazy).
func ForwardMode(logN, logm int, lazy bool) uint64 {
	const reduceU, finalBRed = 1, 2
	N, m := 1<<logN, 1<<logm
	t := N / (2 * m)
	var mode uint64
	switch {
	case N < ring.MinimumRingDegreeForLoopUnrolledNTT:
		mode = reduceU
	case m == 1:
		mode = 0
	case t == 1:
		mode = reduceU
	case bits.Len64(uint64(m))&1 == 1:
		mode = reduceU
	}
	if logm == logN-1 && !lazy {
		mode |= finalBRed
	}
	return mode
}

// NTT writes NTT(src) (Lattigo's SubRing.NTT, or NTTLazy when lazy) to dst,
// for nlimbs limbs from chain index limb0; dst may equal src. logN stages,
// each one launch of N/2 threads per limb; the final reduction is fused into
// the last stage.
func (c *Context) NTT(dst, src Ptr, limb0, nlimbs int, lazy bool) error {
	if err := c.check(limb0, nlimbs); err != nil {
		return err
	}
	return c.ntt(dst, src, limb0, nlimbs, nlimbs, 0, lazy)
}

// NTTQP is NTT of a compact QP polynomial: nq Q limbs (chain 0..nq-1)
// followed by np P limbs (chain NQ..NQ+np-1), in one launch per stage.
func (c *Context) NTTQP(dst, src Ptr, nq, np int, lazy bool) error {
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	return c.ntt(dst, src, 0, nq+np, nq, c.NQ, lazy)
}

func (c *Context) ntt(dst, src Ptr, limb0, nlimbs, split, limb1 int, lazy bool) error {
	in := src
	for logm := 0; logm < c.LogN; logm++ {
		if err := c.launch(KNTTForwardStage, nlimbs*c.N/2, uint64(dst), uint64(in), uint64(c.rootsF), uint64(c.consts), uint64(c.L()),
			uint64(c.LogN), uint64(limb0), uint64(nlimbs), uint64(logm), ForwardMode(c.LogN, logm, lazy), uint64(split), uint64(limb1)); err != nil {
			return err
		}
		in = dst
	}
	return nil
}

// INTT writes INTT(src) (SubRing.INTT, or INTTLazy when lazy) to dst; the
// multiplication by N^-1 is fused into the last stage.
func (c *Context) INTT(dst, src Ptr, limb0, nlimbs int, lazy bool) error {
	if err := c.check(limb0, nlimbs); err != nil {
		return err
	}
	in := src
	for logt := 0; logt < c.LogN; logt++ {
		var mode uint64
		if logt == c.LogN-1 {
			mode = 1
			if lazy {
				mode = 2
			}
		}
		if err := c.launch(KNTTInverseStage, nlimbs*c.N/2, uint64(dst), uint64(in), uint64(c.rootsB), uint64(c.consts), uint64(c.L()),
			uint64(c.LogN), uint64(limb0), uint64(nlimbs), uint64(logt), mode, uint64(nlimbs), 0); err != nil {
			return err
		}
		in = dst
	}
	return nil
}

// checkQP checks a QP shape: 1..NQ Q limbs and 0..NP P limbs.
func (c *Context) checkQP(nq, np int) error {
	if nq < 1 || nq > c.NQ || np < 0 || np > c.L()-c.NQ {
		return fmt.Errorf("cuda: %d Q and %d P limbs outside the chain of %d Q and %d P moduli", nq, np, c.NQ, c.L()-c.NQ)
	}
	return nil
}

// Copy copies words words from a to d (device to device, one launch).
func (c *Context) Copy(d, a Ptr, words int) error {
	if words < 0 {
		return fmt.Errorf("cuda: copy of %d words", words)
	}
	return c.launch(KCopy, words, uint64(d), uint64(a), uint64(words))
}

func (c *Context) elem(k string, limb0, nlimbs int, ptrs ...Ptr) error {
	if err := c.check(limb0, nlimbs); err != nil {
		return err
	}
	args := make([]uint64, 0, len(ptrs)+5)
	for _, p := range ptrs {
		args = append(args, uint64(p))
	}
	args = append(args, uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(limb0), uint64(nlimbs))
	return c.launch(k, nlimbs*c.N, args...)
}

// Add: d = a + b mod q (SubRing.Add).
func (c *Context) Add(d, a, b Ptr, limb0, nlimbs int) error {
	return c.elem(KAdd, limb0, nlimbs, d, a, b)
}

// Sub: d = a - b mod q (SubRing.Sub).
func (c *Context) Sub(d, a, b Ptr, limb0, nlimbs int) error {
	return c.elem(KSub, limb0, nlimbs, d, a, b)
}

// Neg: d = q - a (SubRing.Neg).
func (c *Context) Neg(d, a Ptr, limb0, nlimbs int) error { return c.elem(KNeg, limb0, nlimbs, d, a) }

// MForm: d = a * 2^64 mod q (SubRing.MForm).
func (c *Context) MForm(d, a Ptr, limb0, nlimbs int) error {
	return c.elem(KMForm, limb0, nlimbs, d, a)
}

// MulMont: d = a * b / 2^64 mod q (SubRing.MulCoeffsMontgomery).
func (c *Context) MulMont(d, a, b Ptr, limb0, nlimbs int) error {
	return c.elem(KMulMont, limb0, nlimbs, d, a, b)
}

// MulMontAdd: d += a * b / 2^64 mod q (SubRing.MulCoeffsMontgomeryThenAdd).
func (c *Context) MulMontAdd(d, a, b Ptr, limb0, nlimbs int) error {
	return c.elem(KMulMontAdd, limb0, nlimbs, d, a, b)
}

// MulPlain: the npolys polynomials of ct (stride words apart) times the
// plaintext pt, into d (dstride apart): ckks Evaluator.Mul(ct, pt) at a level
// of nlimbs limbs, MForm fused.
func (c *Context) MulPlain(d Ptr, dstride int, ct Ptr, stride int, pt Ptr, npolys, nlimbs int) error {
	if err := c.check(0, nlimbs); err != nil {
		return err
	}
	return c.launch(KMulPlain, nlimbs*c.N, uint64(d), uint64(dstride), uint64(ct), uint64(stride), uint64(pt), uint64(npolys),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), 0, uint64(nlimbs))
}

// Tensor: degree-1 a times degree-1 b into degree-2 d (polynomials stride
// words apart): ckks Evaluator.Mul of two ciphertexts without
// relinearization, in one fused pass.
func (c *Context) Tensor(d Ptr, dstride int, a Ptr, astride int, b Ptr, bstride int, nlimbs int) error {
	if err := c.check(0, nlimbs); err != nil {
		return err
	}
	return c.launch(KTensor, nlimbs*c.N, uint64(d), uint64(dstride), uint64(a), uint64(astride), uint64(b), uint64(bstride),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), 0, uint64(nlimbs))
}

// RescaleScratchWords is the scratch size Rescale needs at `level`.
func (c *Context) RescaleScratchWords(level int) int { return (level + 1) * c.N }

// Rescale writes to d (level limbs) the NTT-domain polynomial p0 (level+1
// limbs) divided, rounded, by its last modulus: ring.DivRoundByLastModulusNTT.
// scratch holds RescaleScratchWords(level) words; d may equal p0.
func (c *Context) Rescale(d, p0, scratch Ptr, level int) error {
	if level < 1 || level >= c.NQ {
		return fmt.Errorf("cuda: cannot rescale at level %d (Q has %d moduli)", level, c.NQ)
	}
	N := c.N
	last := scratch.Add(level * N)
	if err := c.INTT(last, p0.Add(level*N), level, 1, true); err != nil {
		return err
	}
	if err := c.launch(KRescalePrep, level*N, uint64(scratch), uint64(last), uint64(level),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), 0, uint64(level)); err != nil {
		return err
	}
	if err := c.NTT(scratch, scratch, 0, level, true); err != nil {
		return err
	}
	rc := c.rescale.Add((level - 1) * c.L())
	return c.launch(KRescaleFinish, level*N, uint64(d), uint64(p0), uint64(scratch), uint64(rc),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), 0, uint64(level))
}

// AutomorphismIndex returns (uploading it once) the device table of
// ring.AutomorphismNTTIndex(N, 2N, galEl).
func (c *Context) AutomorphismIndex(galEl uint64) (Ptr, error) {
	if p, ok := c.autIdx[galEl]; ok {
		return p, nil
	}
	idx, err := ring.AutomorphismNTTIndex(c.N, uint64(2*c.N), galEl)
	if err != nil {
		return 0, err
	}
	p, err := c.Dev.Alloc(c.N)
	if err != nil {
		return 0, err
	}
	if err := c.Dev.CopyIn(p, idx); err != nil {
		c.Dev.Free(p)
		return 0, err
	}
	c.autIdx[galEl] = p
	return p, nil
}

// AutomorphismNTT: d = a(X^galEl) in the NTT domain (ring.AutomorphismNTT),
// nlimbs limbs; d must not alias a.
func (c *Context) AutomorphismNTT(d, a Ptr, galEl uint64, nlimbs int) error {
	if err := c.check(0, nlimbs); err != nil {
		return err
	}
	idx, err := c.AutomorphismIndex(galEl)
	if err != nil {
		return err
	}
	return c.launch(KAutomorphismNTT, nlimbs*c.N, uint64(d), uint64(a), uint64(idx), uint64(c.LogN), uint64(nlimbs))
}
