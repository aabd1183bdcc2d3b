package cuda

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// Key switching: Lattigo v5.0.7's rlwe.Evaluator.GadgetProduct (hybrid
// decomposition, ModDownQPtoQNTT) on the kernels of keyswitch.cu, and
// Relinearize / Automorphism over it. QP polynomials are compact: nq Q
// limbs (chain 0..nq-1) then np P limbs (chain NQ..NQ+np-1).

// fhec_ks_dot mode bits (keyswitch.cu).
const (
	ksFirst   = 1
	ksReduceQ = 2
	ksReduceP = 4
)

// ksTables holds the device tables of the basis extensions, uploaded once
// per shape from Lattigo's own BasisExtender and Decomposer.
type ksTables struct {
	be      reflect.Value // *ring.BasisExtender
	dec     *ring.Decomposer
	moddown map[int]Ptr // levelP -> fhec_moddown_ext / finish table
	digits  map[[3]int]digitTable
	pScal   map[int]Ptr // levelP -> MForm(P mod q) per chain index (linear.go)
}

// digitTable describes one decomposition digit: a one-limb digit (ptr 0,
// limb start) or a fast basis conversion from limbs start..start+count-1.
type digitTable struct {
	ptr          Ptr
	start, count int
}

func (c *Context) freeKeySwitch() {
	if c.ks == nil {
		return
	}
	for _, p := range c.ks.moddown {
		c.Dev.Free(p)
	}
	for _, p := range c.ks.pScal {
		c.Dev.Free(p)
	}
	for _, t := range c.ks.digits {
		if t.ptr != 0 {
			c.Dev.Free(t.ptr)
		}
	}
	c.ks = nil
}

func (c *Context) tables() (*ksTables, error) {
	if c.ks != nil {
		return c.ks, nil
	}
	if c.ringP == nil || c.L() == c.NQ {
		return nil, fmt.Errorf("cuda: key switching needs P moduli; the context has none")
	}
	c.ks = &ksTables{
		be:      reflect.ValueOf(ring.NewBasisExtender(c.ringQ, c.ringP)),
		dec:     ring.NewDecomposer(c.ringQ, c.ringP),
		moddown: map[int]Ptr{},
		digits:  map[[3]int]digitTable{},
		pScal:   map[int]Ptr{},
	}
	return c.ks, nil
}

// lattigoField reads the (unexported) field name of Lattigo's struct v:
// its tables are used as they are, read-only, never recomputed.
func lattigoField(v reflect.Value, name string) (reflect.Value, error) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, fmt.Errorf("cuda: nil Lattigo structure reading %s", name)
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("cuda: Lattigo %v is not a struct (reading %s)", v.Type(), name)
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		return reflect.Value{}, fmt.Errorf("cuda: Lattigo's %v has no field %s (the kernels follow lattigo v5.0.7)", v.Type(), name)
	}
	return f, nil
}

func u64s(v reflect.Value) ([]uint64, error) {
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint64 {
		return nil, fmt.Errorf("cuda: Lattigo table of type %v, want []uint64", v.Type())
	}
	out := make([]uint64, v.Len())
	for i := range out {
		out[i] = v.Index(i).Uint()
	}
	return out, nil
}

func u64rows(v reflect.Value) ([][]uint64, error) {
	if v.Kind() != reflect.Slice {
		return nil, fmt.Errorf("cuda: Lattigo table of type %v, want [][]uint64", v.Type())
	}
	out := make([][]uint64, v.Len())
	for i := range out {
		var err error
		if out[i], err = u64s(v.Index(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// modUpConstants reads a ring.ModUpConstants: (Q/q_i)^-1 mod q_i, Q/q_i mod
// each target, v*Q mod each target.
func modUpConstants(v reflect.Value) (qInv []uint64, qModP, vQModP [][]uint64, err error) {
	f, err := lattigoField(v, "qoverqiinvqi")
	if err == nil {
		qInv, err = u64s(f)
	}
	if err == nil {
		f, err = lattigoField(v, "qoverqimodp")
	}
	if err == nil {
		qModP, err = u64rows(f)
	}
	if err == nil {
		f, err = lattigoField(v, "vtimesqmodp")
	}
	if err == nil {
		vQModP, err = u64rows(f)
	}
	if err == nil && (len(qModP) != len(vQModP)) {
		err = fmt.Errorf("cuda: Lattigo ModUpConstants of inconsistent shape")
	}
	for t := range qModP {
		if err == nil && (len(qModP[t]) != len(qInv) || len(vQModP[t]) != len(qInv)+1) {
			err = fmt.Errorf("cuda: Lattigo ModUpConstants of inconsistent shape")
		}
	}
	return
}

func (c *Context) uploadTable(t []uint64) (Ptr, error) {
	p, err := c.Dev.Alloc(len(t))
	if err != nil {
		return 0, err
	}
	if err := c.Dev.CopyIn(p, t); err != nil {
		c.Dev.Free(p)
		return 0, err
	}
	return p, nil
}

// halfMod returns (prod moduli) >> 1 mod each of targets (Lattigo computes
// QHalf/PHalf with big integers, then reduces them per modulus).
func halfMod(moduli, targets []uint64) []uint64 {
	h := big.NewInt(1)
	for _, q := range moduli {
		h.Mul(h, new(big.Int).SetUint64(q))
	}
	h.Rsh(h, 1)
	out := make([]uint64, len(targets))
	t := new(big.Int)
	for i, q := range targets {
		out[i] = t.Mod(h, new(big.Int).SetUint64(q)).Uint64()
	}
	return out
}

// modDownTable: the fhec_moddown_ext / fhec_moddown_finish table at levelP
// (BasisExtender.constantsPtoQ[levelP], modDownConstantsPtoQ[levelP]).
func (c *Context) modDownTable(levelP int) (Ptr, error) {
	ks, err := c.tables()
	if err != nil {
		return 0, err
	}
	if p, ok := ks.moddown[levelP]; ok {
		return p, nil
	}
	np := levelP + 1
	if levelP < 0 || c.NQ+np > c.L() {
		return 0, fmt.Errorf("cuda: ModDown at P level %d: the chain has %d P moduli", levelP, c.L()-c.NQ)
	}
	f, err := lattigoField(ks.be, "constantsPtoQ")
	if err != nil {
		return 0, err
	}
	if f.Kind() != reflect.Slice || f.Len() <= levelP {
		return 0, fmt.Errorf("cuda: Lattigo BasisExtender has no constants at P level %d", levelP)
	}
	qInv, qModP, vQModP, err := modUpConstants(f.Index(levelP))
	if err != nil {
		return 0, err
	}
	f, err = lattigoField(ks.be, "modDownConstantsPtoQ")
	if err != nil {
		return 0, err
	}
	if f.Kind() != reflect.Slice || f.Len() <= levelP {
		return 0, fmt.Errorf("cuda: Lattigo BasisExtender has no ModDown constants at P level %d", levelP)
	}
	mdc, err := u64s(f.Index(levelP))
	if err != nil {
		return 0, err
	}
	if len(qInv) != np || len(qModP) != c.NQ || len(mdc) != c.NQ {
		return 0, fmt.Errorf("cuda: Lattigo ModDown constants of unexpected shape")
	}
	P := c.Moduli[c.NQ : c.NQ+np]
	t := slices.Concat(qInv, halfMod(P, P))
	hq := halfMod(P, c.Moduli[:c.NQ])
	for i := range c.NQ {
		t = append(append(append(t, qModP[i]...), vQModP[i]...), hq[i], mdc[i])
	}
	p, err := c.uploadTable(t)
	if err != nil {
		return 0, err
	}
	ks.moddown[levelP] = p
	return p, nil
}

// digitTable: digit `digit` of Lattigo's decomposition at (levelQ,
// levelP), as Decomposer.DecomposeAndSplit chooses it (nbPi = levelP+1).
func (c *Context) digitTable(levelQ, levelP, digit int) (digitTable, error) {
	ks, err := c.tables()
	if err != nil {
		return digitTable{}, err
	}
	key := [3]int{levelQ, levelP, digit}
	if t, ok := ks.digits[key]; ok {
		return t, nil
	}
	nbPi := levelP + 1
	decompLvl := levelQ%nbPi - 1
	if levelQ > nbPi*(digit+1)-1 {
		decompLvl = nbPi - 2
	}
	start := digit * nbPi
	if decompLvl < 0 {
		t := digitTable{start: start, count: 1}
		ks.digits[key] = t
		return t, nil
	}
	end := min(start+nbPi, levelQ+1)
	muc := ks.dec.ModUpConstants
	if nbPi-2 >= len(muc) || digit >= len(muc[nbPi-2]) || decompLvl >= len(muc[nbPi-2][digit]) {
		return digitTable{}, fmt.Errorf("cuda: Lattigo Decomposer has no constants for digit %d at levels (%d, %d)", digit, levelQ, levelP)
	}
	qInv, qModP, vQModP, err := modUpConstants(reflect.ValueOf(muc[nbPi-2][digit][decompLvl]))
	if err != nil {
		return digitTable{}, err
	}
	count := decompLvl + 2
	if end-start != count || len(qInv) != count || len(qModP) < c.NQ+nbPi {
		return digitTable{}, fmt.Errorf("cuda: Lattigo Decomposer constants of unexpected shape for digit %d", digit)
	}
	digitModuli := c.Moduli[start:end]
	t := slices.Concat(qInv, halfMod(digitModuli, digitModuli))
	rows := len(qModP)
	h := halfMod(digitModuli, c.Moduli[:rows])
	for r := range rows {
		t = append(append(append(t, qModP[r]...), vQModP[r]...), h[r])
	}
	p, err := c.uploadTable(t)
	if err != nil {
		return digitTable{}, err
	}
	dt := digitTable{ptr: p, start: start, count: count}
	ks.digits[key] = dt
	return dt, nil
}

// overflowMargins returns Lattigo's reduction periods of the inner
// product: QiOverflowMargin(levelQ)>>1 and PiOverflowMargin(levelP)>>1.
func (c *Context) overflowMargins(levelQ, levelP int) (int, int) {
	margin := func(m []uint64) int {
		return max(1, int(math.Exp2(64)/float64(slices.Max(m)))>>1)
	}
	return margin(c.Moduli[:levelQ+1]), margin(c.Moduli[c.NQ : c.NQ+levelP+1])
}

// SwitchingKey is a gadget ciphertext (relinearization or Galois key) on
// the device: digit i, polynomial b at ((2i+b)*L)*N words, each limb at
// its chain index (Q limbs from 0, P limbs from NQ).
type SwitchingKey struct {
	ptr            Ptr
	Digits         int
	LevelQ, LevelP int
}

// UploadKey copies a Lattigo gadget ciphertext (NTT, Montgomery form, as
// Lattigo stores its evaluation keys) to the device.
func (c *Context) UploadKey(g *rlwe.GadgetCiphertext) (*SwitchingKey, error) {
	if g == nil || len(g.Value) == 0 {
		return nil, fmt.Errorf("cuda: empty switching key")
	}
	if g.BaseTwoDecomposition != 0 {
		return nil, fmt.Errorf("cuda: switching keys with a base-2 decomposition (%d) are not supported", g.BaseTwoDecomposition)
	}
	k := &SwitchingKey{Digits: len(g.Value), LevelQ: -1, LevelP: -1}
	L, N := c.L(), c.N
	host := make([]uint64, 2*k.Digits*L*N)
	for i, row := range g.Value {
		if len(row) != 1 || len(row[0]) != 2 {
			return nil, fmt.Errorf("cuda: switching key digit %d has an unexpected shape", i)
		}
		for b, pq := range row[0] {
			nq, np := len(pq.Q.Coeffs), len(pq.P.Coeffs)
			if k.LevelQ < 0 {
				k.LevelQ, k.LevelP = nq-1, np-1
			}
			if nq != k.LevelQ+1 || np != k.LevelP+1 || nq > c.NQ || np < 1 || np > L-c.NQ {
				return nil, fmt.Errorf("cuda: switching key digit %d has %d Q and %d P limbs (the context has %d and %d)", i, nq, np, c.NQ, L-c.NQ)
			}
			base := (2*i + b) * L * N
			for l, limb := range pq.Q.Coeffs {
				if len(limb) != N {
					return nil, fmt.Errorf("cuda: switching key of degree %d, the ring has %d", len(limb), N)
				}
				copy(host[base+l*N:], limb)
			}
			for l, limb := range pq.P.Coeffs {
				if len(limb) != N {
					return nil, fmt.Errorf("cuda: switching key of degree %d, the ring has %d", len(limb), N)
				}
				copy(host[base+(c.NQ+l)*N:], limb)
			}
		}
	}
	var err error
	if k.ptr, err = c.uploadTable(host); err != nil {
		return nil, err
	}
	return k, nil
}

// FreeKey releases a key uploaded by UploadKey.
func (c *Context) FreeKey(k *SwitchingKey) {
	if k != nil && k.ptr != 0 {
		c.Dev.Free(k.ptr)
		k.ptr = 0
	}
}

func (k *SwitchingKey) poly(c *Context, digit, b int) Ptr {
	return k.ptr.Add((2*digit + b) * c.L() * c.N)
}

// KeySwitchScratchWords is the scratch Relinearize and Automorphism need
// at any level: two QP accumulators, the INTT of the input, one QP digit
// and two Q polynomials.
func (c *Context) KeySwitchScratchWords() int {
	nq, np := c.NQ, c.L()-c.NQ
	return (3*(nq+np) + 3*nq) * c.N
}

// Decompose writes digit `digit` of Lattigo's decomposition of a polynomial
// to d (compact QP, level+1 Q and levelP+1 P limbs, NTT domain); inv is
// the polynomial's INTT (level+1 limbs). One P modulus (levelP 0):
// DecomposeAndSplit then NTTLazy, as gadgetProductSinglePAndBitDecompLazy;
// several: DecomposeSingleNTT.
func (c *Context) Decompose(d, inv Ptr, level, levelP, digit int) error {
	return c.decompose(d, inv, level, levelP, digit, levelP == 0)
}

// decompose is Decompose with the final NTT lazy or exact: exact is
// DecomposeSingleNTT (rlwe.Evaluator.DecomposeNTT, the hoisted
// decomposition) for any number of P moduli.
func (c *Context) decompose(d, inv Ptr, level, levelP, digit int, lazy bool) error {
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	if np < 1 {
		return fmt.Errorf("cuda: key switching needs P moduli")
	}
	if digit < 0 || digit >= (level+levelP+1)/(levelP+1) {
		return fmt.Errorf("cuda: decomposition digit %d out of range at levels (%d, %d)", digit, level, levelP)
	}
	t, err := c.digitTable(level, levelP, digit)
	if err != nil {
		return err
	}
	n := nq + np
	if t.ptr == 0 {
		err = c.launch(KDecomposeCopy, n*c.N, uint64(d), uint64(inv.Add(t.start*c.N)), uint64(t.start),
			uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(n), uint64(nq), uint64(c.NQ))
	} else {
		err = c.launch(KDecomposeExt, n*c.N, uint64(d), uint64(inv), uint64(t.ptr),
			uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(n), uint64(nq), uint64(c.NQ), uint64(t.start), uint64(t.count))
	}
	if err != nil {
		return err
	}
	return c.NTTQP(d, d, nq, np, lazy)
}

// GadgetProductLazy writes to acc0, acc1 (compact QP, NTT, reduced) the
// inner product of the decomposition of cx (NTT, level+1 limbs) with the
// key: Lattigo's GadgetProductLazy, with its reduction schedule. scratch
// holds (2*(level+1) + key.LevelP+1)*N words.
func (c *Context) GadgetProductLazy(acc0, acc1, cx Ptr, level int, key *SwitchingKey, scratch Ptr) error {
	if key == nil || key.ptr == 0 {
		return fmt.Errorf("cuda: no switching key")
	}
	if level < 0 || level > key.LevelQ {
		return fmt.Errorf("cuda: key switching at level %d with a key of level %d", level, key.LevelQ)
	}
	levelP := key.LevelP
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	dnum := (level + levelP + 1) / (levelP + 1)
	if dnum > key.Digits {
		return fmt.Errorf("cuda: key switching at level %d needs %d digits, the key has %d", level, dnum, key.Digits)
	}
	inv, d := scratch, scratch.Add(nq*c.N)
	if err := c.INTT(inv, cx, 0, nq, false); err != nil {
		return err
	}
	return c.keyDot(acc0, acc1, level, key, func(i int) (Ptr, error) {
		return d, c.Decompose(d, inv, level, levelP, i)
	})
}

// keyDot accumulates the digits given by digit (in order) times the key
// into acc0, acc1 with Lattigo's lazy reductions (the inner loop of
// GadgetProductLazy and GadgetProductHoistedLazy).
func (c *Context) keyDot(acc0, acc1 Ptr, level int, key *SwitchingKey, digit func(i int) (Ptr, error)) error {
	levelP := key.LevelP
	nq, np := level+1, levelP+1
	dnum := (level + levelP + 1) / (levelP + 1)
	qF, pF := c.overflowMargins(level, levelP)
	for i := range dnum {
		d, err := digit(i)
		if err != nil {
			return err
		}
		var mode uint64
		if i == 0 {
			mode |= ksFirst
		}
		// Lattigo reduces every F digits and once after the loop unless the
		// last digit just did: the same as reducing at the last digit.
		if i%qF == qF-1 || i == dnum-1 {
			mode |= ksReduceQ
		}
		if i%pF == pF-1 || i == dnum-1 {
			mode |= ksReduceP
		}
		if err := c.launch(KKeySwitchDot, (nq+np)*c.N, uint64(acc0), uint64(acc1), uint64(d), uint64(key.poly(c, i, 0)), uint64(key.poly(c, i, 1)),
			uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(nq+np), uint64(nq), uint64(c.NQ), mode); err != nil {
			return err
		}
	}
	return nil
}

// ModDown writes to d (level+1 limbs) Lattigo's ModDownQPtoQNTT of the
// compact QP polynomial acc (NTT domain), plus add when add is not 0. The P
// part of acc is overwritten; buf holds (level+1)*N words; d may be acc.
func (c *Context) ModDown(d, acc, add Ptr, level, levelP int, buf Ptr) error {
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	if np < 1 {
		return fmt.Errorf("cuda: ModDown needs P moduli")
	}
	tab, err := c.modDownTable(levelP)
	if err != nil {
		return err
	}
	p := acc.Add(nq * c.N)
	if err := c.INTT(p, p, c.NQ, np, true); err != nil {
		return err
	}
	if err := c.launch(KModDownExt, nq*c.N, uint64(buf), uint64(p), uint64(tab),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(nq), uint64(c.NQ), uint64(np)); err != nil {
		return err
	}
	if err := c.NTT(buf, buf, 0, nq, true); err != nil {
		return err
	}
	hasAdd := uint64(0)
	if add != 0 {
		hasAdd = 1
	}
	return c.launch(KModDownFinish, nq*c.N, uint64(d), uint64(acc), uint64(buf), uint64(add), uint64(tab),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(nq), uint64(np), hasAdd)
}

// GadgetProduct: out_b = add_b + ModDown(<decomp(cx), key_b>) for b = 0, 1
// (add_b may be 0): rlwe.Evaluator.GadgetProduct followed by the addition
// of Relinearize or Automorphism. scratch holds KeySwitchScratchWords().
func (c *Context) GadgetProduct(out0, out1, add0, add1, cx Ptr, level int, key *SwitchingKey, scratch Ptr) error {
	if key == nil {
		return fmt.Errorf("cuda: no switching key")
	}
	nq, np := level+1, key.LevelP+1
	qp := (nq + np) * c.N
	acc0, acc1, rest := scratch, scratch.Add(qp), scratch.Add(2*qp)
	if err := c.GadgetProductLazy(acc0, acc1, cx, level, key, rest); err != nil {
		return err
	}
	if err := c.ModDown(out0, acc0, add0, level, key.LevelP, rest); err != nil {
		return err
	}
	return c.ModDown(out1, acc1, add1, level, key.LevelP, rest)
}

// Relinearize: the degree-2 ciphertext ct (polynomials cstride words apart,
// level+1 limbs) relinearized into out (ostride apart), as
// rlwe.Evaluator.Relinearize. out may be ct.
func (c *Context) Relinearize(out Ptr, ostride int, ct Ptr, cstride, level int, rlk *SwitchingKey, scratch Ptr) error {
	return c.GadgetProduct(out, out.Add(ostride), ct, ct.Add(cstride), ct.Add(2*cstride), level, rlk, scratch)
}

// Automorphism: ct(X^galEl) key-switched back to the secret, as
// rlwe.Evaluator.Automorphism (key switch of ct1, add ct0, then the NTT
// automorphism of both). galEl must not be 1; out must not alias ct.
func (c *Context) Automorphism(out Ptr, ostride int, ct Ptr, cstride, level int, galEl uint64, key *SwitchingKey, scratch Ptr) error {
	if key == nil {
		return fmt.Errorf("cuda: no Galois key for element %d", galEl)
	}
	nq := level + 1
	t0 := scratch.Add(c.KeySwitchScratchWords() - 2*nq*c.N)
	t1 := t0.Add(nq * c.N)
	if err := c.GadgetProduct(t0, t1, ct, 0, ct.Add(cstride), level, key, scratch); err != nil {
		return err
	}
	if err := c.AutomorphismNTT(out, t0, galEl, nq); err != nil {
		return err
	}
	return c.AutomorphismNTT(out.Add(ostride), t1, galEl, nq)
}
