package cuda

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils"
)

// Lattigo v5.0.7's double-hoisted baby-step giant-step linear
// transformation (he.EvaluateLinearTransformationsMany with N1 > 0:
// DecomposeNTT, GetPreRotatedCiphertextForDiagonalMatrixMultiplication,
// MultiplyByDiagMatrixBSGS) on the kernels, step for step:
//
//   - P·c0 and P·c1 (ring.MulScalarBigint), once;
//   - one decomposition of c1 (DecomposeNTT: exact NTT, every digit kept);
//   - per non-zero baby step b, AutomorphismHoistedLazy into QP: the
//     hoisted gadget product with the Galois key (lazy, Lattigo's
//     reductions), P·c0 added to the Q limbs of the first polynomial, the
//     NTT automorphism of both QP polynomials;
//   - per giant step g, the diagonals times the rotated inputs accumulated
//     lazily in QP (the b == 0 term on the Q limbs only, from P·c0, P·c1),
//     reduced on Lattigo's QiOverflowMargin/PiOverflowMargin schedule; for
//     g != 0 ModDown of the second polynomial, GadgetProductLazy with the
//     key of g, the first polynomial added, the automorphism of g
//     accumulated lazily into the result (for g == 0, a copy or lazy add);
//   - ModDown of both result polynomials.
//
// Every intermediate word equals Lattigo's, so the result is its bytes.

// mode bits of fhec_lin_mac / fhec_lin_giant (linear.cu)
const (
	linFirst   = 1
	linReduceQ = 2
	linReduceP = 4
	linQOnly   = 8
)

// LinearTransform is an encoded linear transformation on the device: its
// diagonals (Lattigo's hefloat.LinearTransformation.Vec, in QP, NTT and
// Montgomery form) and its baby-step giant-step index.
type LinearTransform struct {
	Level, LevelP int
	N1            int
	Scale         rlwe.Scale
	index         map[int][]int // giant step -> baby steps (he.BSGSIndex)
	giants        []int         // sorted giant steps
	babies        []int         // sorted baby steps (rotN2)
	diag          map[int]Ptr   // diagonal -> compact QP polynomial (Level+1 Q, LevelP+1 P limbs)
}

// UploadLinearTransform copies the diagonals of lt to the device. Only the
// baby-step giant-step form (N1 > 0) is supported.
func (c *Context) UploadLinearTransform(lt he.LinearTransformation) (_ *LinearTransform, err error) {
	if lt.N1 < 1 || lt.N1&(lt.N1-1) != 0 {
		return nil, fmt.Errorf("cuda: linear transformation with baby step %d (only Lattigo's BSGS form, N1 a power of two, runs on the kernels)", lt.N1)
	}
	if lt.MetaData == nil || len(lt.Vec) == 0 {
		return nil, fmt.Errorf("cuda: empty linear transformation")
	}
	if lt.Level < 0 || lt.Level >= c.NQ {
		return nil, fmt.Errorf("cuda: linear transformation at level %d, the chain has %d Q moduli", lt.Level, c.NQ)
	}
	if lt.LogDimensions.Cols < 0 || lt.LogDimensions.Cols >= c.LogN {
		return nil, fmt.Errorf("cuda: linear transformation over 2^%d slots in a ring of degree %d", lt.LogDimensions.Cols, c.N)
	}
	t := &LinearTransform{Level: lt.Level, LevelP: -1, N1: lt.N1, Scale: lt.Scale, diag: map[int]Ptr{}}
	defer func() {
		if err != nil {
			c.FreeLinearTransform(t)
		}
	}()
	nq := lt.Level + 1
	for _, k := range utils.GetSortedKeys(lt.Vec) {
		p := lt.Vec[k]
		np := len(p.P.Coeffs)
		if t.LevelP < 0 {
			t.LevelP = np - 1
		}
		if len(p.Q.Coeffs) < nq || np != t.LevelP+1 || np < 1 {
			return nil, fmt.Errorf("cuda: diagonal %d has %d Q and %d P limbs, want %d and %d (>= 1)", k, len(p.Q.Coeffs), np, nq, t.LevelP+1)
		}
		if err := c.checkQP(nq, np); err != nil {
			return nil, err
		}
		host := make([]uint64, 0, (nq+np)*c.N)
		for _, limb := range append(slices.Clone(p.Q.Coeffs[:nq]), p.P.Coeffs...) {
			if len(limb) != c.N {
				return nil, fmt.Errorf("cuda: diagonal %d of degree %d, the ring has %d", k, len(limb), c.N)
			}
			host = append(host, limb...)
		}
		if t.diag[k], err = c.uploadTable(host); err != nil {
			return nil, err
		}
	}
	t.index, _, t.babies = lt.BSGSIndex()
	t.giants = utils.GetSortedKeys(t.index)
	return t, nil
}

// FreeLinearTransform releases the diagonals.
func (c *Context) FreeLinearTransform(t *LinearTransform) {
	if t == nil {
		return
	}
	for k, p := range t.diag {
		c.Dev.Free(p)
		delete(t.diag, k)
	}
}

// GaloisElements returns the Galois elements of the transformation's
// non-zero baby and giant steps, as Lattigo's params.GaloisElement(k).
func (t *LinearTransform) GaloisElements(c *Context) []uint64 {
	var g []uint64
	for _, k := range slices.Concat(t.babies, t.giants) {
		if k != 0 {
			g = append(g, c.galoisElement(k))
		}
	}
	slices.Sort(g)
	return slices.Compact(g)
}

// galoisElement is rlwe.Parameters.GaloisElement: GaloisGen^k mod 2N.
func (c *Context) galoisElement(k int) uint64 {
	nthRoot := uint64(2 * c.N)
	return ring.ModExp(rlwe.GaloisGen, uint64(k)&(nthRoot-1), nthRoot)
}

// pScalars returns (uploading once) the table of MForm(P mod q_c) for every
// chain index c (P = the product of the first levelP+1 P moduli; zero at P
// indices): the scalars ring.MulScalarBigint(·, P) multiplies by.
func (c *Context) pScalars(levelP int) (Ptr, error) {
	ks, err := c.tables()
	if err != nil {
		return 0, err
	}
	if p, ok := ks.pScal[levelP]; ok {
		return p, nil
	}
	if levelP < 0 || c.NQ+levelP+1 > c.L() {
		return 0, fmt.Errorf("cuda: P level %d: the chain has %d P moduli", levelP, c.L()-c.NQ)
	}
	P := c.ringP.ModulusAtLevel[levelP]
	tab := make([]uint64, c.L())
	m := new(big.Int)
	for i, s := range c.ringQ.SubRings {
		m.Mod(P, new(big.Int).SetUint64(s.Modulus))
		tab[i] = ring.MForm(m.Uint64(), s.Modulus, s.BRedConstant)
	}
	p, err := c.uploadTable(tab)
	if err != nil {
		return 0, err
	}
	ks.pScal[levelP] = p
	return p, nil
}

// MulScalarP: d = a · P mod q (ring.MulScalarBigint by the product of the
// first levelP+1 P moduli) on the Q limbs 0..level; d may be a.
func (c *Context) MulScalarP(d, a Ptr, level, levelP int) error {
	if err := c.checkQP(level+1, levelP+1); err != nil {
		return err
	}
	s, err := c.pScalars(levelP)
	if err != nil {
		return err
	}
	return c.launch(KMulScalarMont, (level+1)*c.N, uint64(d), uint64(a), uint64(s),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), 0, uint64(level+1))
}

// DecomposeNTT writes every digit of the decomposition of cx (NTT,
// level+1 limbs) to digits (digit i at i*(level+levelP+2)*N, compact QP,
// NTT): rlwe.Evaluator.DecomposeNTT with nbPi = levelP+1, what the
// linear transformation hoists. scratch holds (level+1)*N words.
func (c *Context) DecomposeNTT(digits, cx Ptr, level, levelP int, scratch Ptr) error {
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	if np < 1 {
		return fmt.Errorf("cuda: key switching needs P moduli")
	}
	if err := c.INTT(scratch, cx, 0, nq, false); err != nil {
		return err
	}
	for i := range (level + levelP + 1) / (levelP + 1) {
		if err := c.decompose(digits.Add(i*(nq+np)*c.N), scratch, level, levelP, i, false); err != nil {
			return err
		}
	}
	return nil
}

// AutomorphismHoistedLazy writes to out0, out1 (compact QP, NTT) Lattigo's
// AutomorphismHoistedLazy of a ciphertext whose c1 was decomposed into
// digits (DecomposeNTT) and whose P·c0 is pc0 (level+1 Q limbs): the
// hoisted gadget product with key (lazy), P·c0 added to the Q limbs of the
// first polynomial, the NTT automorphism of galEl on both. scratch holds
// 2*(level+key.LevelP+2)*N words; out must not alias it.
func (c *Context) AutomorphismHoistedLazy(out0, out1, pc0, digits Ptr, level int, galEl uint64, key *SwitchingKey, scratch Ptr) error {
	if err := c.checkKey(key, level); err != nil {
		return err
	}
	nq, np := level+1, key.LevelP+1
	qp := (nq + np) * c.N
	g0, g1 := scratch, scratch.Add(qp)
	if err := c.keyDot(g0, g1, level, key, func(i int) (Ptr, error) { return digits.Add(i * qp), nil }); err != nil {
		return err
	}
	idx, err := c.AutomorphismIndex(galEl)
	if err != nil {
		return err
	}
	return c.LinearGiant(out0, out1, g0, g1, pc0, idx, level, key.LevelP, linFirst|linQOnly)
}

func (c *Context) checkKey(key *SwitchingKey, level int) error {
	if key == nil || key.ptr == 0 {
		return fmt.Errorf("cuda: no switching key")
	}
	if level < 0 || level > key.LevelQ {
		return fmt.Errorf("cuda: key switching at level %d with a key of level %d", level, key.LevelQ)
	}
	if dnum := (level + key.LevelP + 1) / (key.LevelP + 1); dnum > key.Digits {
		return fmt.Errorf("cuda: key switching at level %d needs %d digits, the key has %d", level, dnum, key.Digits)
	}
	return c.checkQP(level+1, key.LevelP+1)
}

// LinearMAC is one baby step of MultiplyByDiagMatrixBSGS's inner loop:
// acc_b (+)= MRedLazy(pt, x_b) on the compact QP accumulators acc0, acc1
// (level+1 Q, levelP+1 P limbs); pt's P limbs are at ptP. mode: linFirst
// (MulCoeffsMontgomeryLazy rather than ...ThenAddLazy), linQOnly (x_b
// are Q polynomials: the i == 0 branch, P limbs zeroed or kept), and the
// reductions linReduceQ / linReduceP applied after.
func (c *Context) LinearMAC(acc0, acc1, x0, x1, pt, ptP Ptr, level, levelP int, mode uint64) error {
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	return c.launch(KLinearMAC, (nq+np)*c.N, uint64(acc0), uint64(acc1), uint64(x0), uint64(x1), uint64(pt), uint64(ptP),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(nq+np), uint64(nq), uint64(c.NQ), mode)
}

// LinearGiant is the outer loop's accumulation on compact QP polynomials:
// out_b (=, or lazily +=) perm(a_b), a_0 first reduced-added to b0 (when
// not 0; on the Q limbs only with linQOnly), perm the automorphism index
// idx (identity when 0), then the reductions of mode. out must not alias
// the inputs when idx is not 0.
func (c *Context) LinearGiant(out0, out1, a0, a1, b0, idx Ptr, level, levelP int, mode uint64) error {
	nq, np := level+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	return c.launch(KLinearGiant, (nq+np)*c.N, uint64(out0), uint64(out1), uint64(a0), uint64(a1), uint64(b0), uint64(idx),
		uint64(c.consts), uint64(c.L()), uint64(c.LogN), uint64(nq+np), uint64(nq), uint64(c.NQ), mode)
}

// reduceMode: Lattigo reduces after term cnt when cnt%F == F-1, and after
// the loop unless it just did, i.e. also after the last term.
func reduceMode(cnt, n, qF, pF int) uint64 {
	var m uint64
	if cnt%qF == qF-1 || cnt == n-1 {
		m |= linReduceQ
	}
	if cnt%pF == pF-1 || cnt == n-1 {
		m |= linReduceP
	}
	return m
}

// Linear writes to out (two polynomials ostride words apart) the linear
// transformation t of the degree-1 ciphertext ct (cstride apart, NTT, at
// least level+1 limbs), at level min(level, t.Level): Lattigo's
// LinearTransformationEvaluator.Evaluate (double-hoisted BSGS), bit for
// bit. keys holds the Galois keys of t.GaloisElements. out must not alias
// ct. Device scratch is allocated and freed here.
func (c *Context) Linear(out Ptr, ostride int, ct Ptr, cstride, level int, t *LinearTransform, keys map[uint64]*SwitchingKey) (err error) {
	if t == nil || len(t.diag) == 0 {
		return fmt.Errorf("cuda: no linear transformation")
	}
	levelQ, levelP := min(level, t.Level), t.LevelP
	nq, np := levelQ+1, levelP+1
	if err := c.checkQP(nq, np); err != nil {
		return err
	}
	N := c.N
	qp := (nq + np) * N
	dnum := (levelQ + levelP + 1) / (levelP + 1)
	key := func(k int) (*SwitchingKey, Ptr, error) {
		g := c.galoisElement(k)
		kk := keys[g]
		if kk == nil {
			return nil, 0, fmt.Errorf("cuda: no Galois key for element %d (rotation %d)", g, k)
		}
		if kk.LevelP != levelP {
			return nil, 0, fmt.Errorf("cuda: Galois key %d has %d P moduli, the diagonals %d", g, kk.LevelP+1, np)
		}
		if err := c.checkKey(kk, levelQ); err != nil {
			return nil, 0, err
		}
		idx, err := c.AutomorphismIndex(g)
		return kk, idx, err
	}
	for _, k := range slices.Concat(t.babies, t.giants) {
		if k != 0 {
			if _, _, err := key(k); err != nil {
				return err
			}
		}
	}
	var babies []int
	for _, b := range t.babies {
		if b != 0 {
			babies = append(babies, b)
		}
	}
	// Device memory: P·c0, P·c1 | digits | pre-rotated inputs | tmp0, tmp1,
	// cQP0, cQP1, out0, out1 | work (INTT, gadget-product and ModDown scratch).
	words := 2*nq*N + dnum*qp + 2*len(babies)*qp + 6*qp + (2*nq+np)*N
	buf, err := c.Dev.Alloc(words)
	if err != nil {
		return err
	}
	defer c.Dev.Free(buf)
	next := buf
	take := func(w int) Ptr { p := next; next = next.Add(w); return p }
	pc0, pc1 := take(nq*N), take(nq*N)
	digits := take(dnum * qp)
	pre := map[int][2]Ptr{}
	for _, b := range babies {
		pre[b] = [2]Ptr{take(qp), take(qp)}
	}
	tmp0, tmp1, cq0, cq1, out0, out1 := take(qp), take(qp), take(qp), take(qp), take(qp), take(qp)
	work := take((2*nq + np) * N)

	// P·c0, P·c1 (MultiplyByDiagMatrixBSGS's ctInTmp; AutomorphismHoistedLazy
	// computes the same P·c0 again).
	if err := c.MulScalarP(pc0, ct, levelQ, levelP); err != nil {
		return err
	}
	if err := c.MulScalarP(pc1, ct.Add(cstride), levelQ, levelP); err != nil {
		return err
	}
	// One decomposition of c1, every baby step from it.
	if err := c.DecomposeNTT(digits, ct.Add(cstride), levelQ, levelP, work); err != nil {
		return err
	}
	for _, b := range babies {
		kk, _, err := key(b)
		if err != nil {
			return err
		}
		if err := c.AutomorphismHoistedLazy(pre[b][0], pre[b][1], pc0, digits, levelQ, c.galoisElement(b), kk, cq0); err != nil {
			return err
		}
	}
	qF, pF := c.overflowMargins(levelQ, levelP)
	ptP := (t.Level + 1) * N // offset of a diagonal's P limbs
	for cnt0, j := range t.giants {
		babyList := t.index[j]
		for cnt1, i := range babyList {
			pt, ok := t.diag[j+i]
			if !ok {
				return fmt.Errorf("cuda: linear transformation lacks diagonal %d", j+i)
			}
			mode := reduceMode(cnt1, len(babyList), qF, pF)
			if cnt1 == 0 {
				mode |= linFirst
			}
			x0, x1 := pc0, pc1
			if i == 0 {
				mode |= linQOnly
			} else {
				x0, x1 = pre[i][0], pre[i][1]
			}
			if err := c.LinearMAC(tmp0, tmp1, x0, x1, pt, pt.Add(ptP), levelQ, levelP, mode); err != nil {
				return err
			}
		}
		mode := reduceMode(cnt0, len(t.giants), qF, pF)
		if cnt0 == 0 {
			mode |= linFirst
		}
		if j == 0 {
			if err := c.LinearGiant(out0, out1, tmp0, tmp1, 0, 0, levelQ, levelP, mode); err != nil {
				return err
			}
			continue
		}
		kk, idx, err := key(j)
		if err != nil {
			return err
		}
		// ModDown of the second polynomial, its key switch in QP, the first
		// added, the automorphism accumulated.
		if err := c.ModDown(tmp1, tmp1, 0, levelQ, levelP, work); err != nil {
			return err
		}
		if err := c.GadgetProductLazy(cq0, cq1, tmp1, levelQ, kk, work); err != nil {
			return err
		}
		if err := c.LinearGiant(out0, out1, cq0, cq1, tmp0, idx, levelQ, levelP, mode); err != nil {
			return err
		}
	}
	if err := c.ModDown(out, out0, 0, levelQ, levelP, work); err != nil {
		return err
	}
	return c.ModDown(out.Add(ostride), out1, 0, levelQ, levelP, work)
}
