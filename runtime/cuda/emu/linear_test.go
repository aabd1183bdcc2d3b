//go:build cudaemu

package emu

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"

	"github.com/fhec/fhec/runtime"
	"github.com/fhec/fhec/runtime/cuda"
)

// Mode bits of fhec_lin_mac / fhec_lin_giant (kernels/linear.cu).
const (
	linFirst   = 1
	linReduceQ = 2
	linReduceP = 4
	linQOnly   = 8
)

// linearLT builds a Lattigo linear transformation with the given
// diagonals (random values), baby step n1, at level, in QP, encoded as the
// CPU runtime encodes LINEAR (runtime/linear.go).
func (k *ksFixture) linearLT(diags []int, n1, level int) hefloat.LinearTransformation {
	params := k.params
	slots := params.MaxSlots()
	d := hefloat.Diagonals[float64]{}
	for _, i := range diags {
		v := make([]float64, slots)
		for j := range v {
			v[j] = 2*k.rng.Float64() - 1
		}
		d[i] = v
	}
	lt, err := runtime.NewLinearTransformation(params, hefloat.NewEncoder(params), d, n1, level, float64(params.Q()[level]))
	must(k.t, err)
	return lt
}

// bsgsGaloisKeys generates the Galois keys of the baby and giant steps.
func (k *ksFixture) bsgsGaloisKeys(lt hefloat.LinearTransformation) []*rlwe.GaloisKey {
	_, rotN1, rotN2 := he.LinearTransformation(lt).BSGSIndex()
	var rots []int
	for _, r := range slices.Concat(rotN1, rotN2) {
		if r != 0 {
			rots = append(rots, r)
		}
	}
	gals := k.params.GaloisElements(rots)
	slices.Sort(gals)
	return k.kgen.GenGaloisKeysNew(slices.Compact(gals), k.sk)
}

// TestLinearKernels checks each kernel piece of the BSGS linear
// transformation against the Lattigo function it reproduces, word for
// word (lazy values included), at every level, on genuine ciphertexts and
// keys: MulScalarBigint by P, DecomposeNTT (every digit),
// AutomorphismHoistedLazy, the inner loop's lazy products
// (MulCoeffsMontgomeryLazy / ...ThenAddLazy in QP and on Q only, with the
// reduction schedule) and the outer loop's accumulation
// (ringQP.Add + AutomorphismNTTWithIndex / ...ThenAddLazy, AddLazy, CopyLvl,
// Reduce).
func TestLinearKernels(t *testing.T) {
	for _, kc := range ksCases {
		if kc.logN == 12 {
			continue
		}
		t.Run(kc.String(), func(t *testing.T) {
			k := newKS(t, kc)
			params := k.params
			N := k.ctx.N
			levelP := params.MaxLevelP()
			np := levelP + 1
			galEl := params.GaloisElement(5)
			gk := k.kgen.GenGaloisKeyNew(galEl, k.sk)
			reval := rlwe.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(nil, gk))
			key := k.uploadKey(&gk.GadgetCiphertext)
			maxQP := (params.QCount() + np) * N
			dnumMax := params.BaseRNSDecompositionVectorSize(params.MaxLevel(), levelP)
			digits := k.alloc(dnumMax * maxQP)
			scratch := k.alloc(2 * maxQP)
			pc0, out0, out1 := k.alloc(maxQP), k.alloc(maxQP), k.alloc(maxQP)
			defer k.free(digits, scratch, pc0, out0, out1)
			index := reval.AutomorphismIndex(galEl)
			idx, err := k.ctx.AutomorphismIndex(galEl)
			must(t, err)
			for level := params.MaxLevel(); level >= 0; level-- {
				name := fmt.Sprintf("level %d", level)
				nq := level + 1
				ringQP := params.RingQP().AtLevel(level, levelP)
				ringQ, ringP := ringQP.RingQ, ringQP.RingP
				ct := k.ciphertext(level)
				// The edges of the centred lift in c1's coefficients.
				inv := ringQ.NewPoly()
				ringQ.INTT(ct.Value[1], inv)
				for l := range nq {
					q := ringQ.SubRings[l].Modulus
					copy(inv.Coeffs[l], []uint64{0, 1, q>>1 - 1, q >> 1, q>>1 + 1, q - 1})
				}
				ringQ.NTT(inv, ct.Value[1])
				pct := k.uploadCt(ct, nq*N)

				// P·c0 (MulScalarBigint).
				want := ringQ.NewPoly()
				ringQ.MulScalarBigint(ct.Value[0], ringP.ModulusAtLevel[levelP], want)
				must(t, k.ctx.MulScalarP(pc0, pct, level, levelP))
				k.equal(name+" P*c0", k.download(pc0, nq), want.Coeffs)

				// The hoisted decomposition (DecomposeNTT, exact NTT).
				dnum := params.BaseRNSDecompositionVectorSize(level, levelP)
				decomp := make([]ringqp.Poly, dnum)
				for i := range decomp {
					decomp[i] = ringQP.NewPoly()
				}
				reval.DecomposeNTT(level, levelP, np, ct.Value[1], true, decomp)
				must(t, k.ctx.DecomposeNTT(digits, pct.Add(nq*N), level, levelP, scratch))
				qp := (nq + np) * N
				for i := range dnum {
					k.equal(fmt.Sprintf("%s digit %d", name, i), k.download(digits.Add(i*qp), nq+np), qpLimbs(decomp[i], level, levelP))
				}

				// AutomorphismHoistedLazy.
				ctQP := rlwe.NewElementExtended(params, 1, level, levelP)
				must(t, reval.AutomorphismHoistedLazy(level, ct, decomp, galEl, ctQP))
				must(t, k.ctx.AutomorphismHoistedLazy(out0, out1, pc0, digits, level, galEl, key, scratch))
				k.equal(name+" hoisted automorphism 0", k.download(out0, nq+np), qpLimbs(ctQP.Value[0], level, levelP))
				k.equal(name+" hoisted automorphism 1", k.download(out1, nq+np), qpLimbs(ctQP.Value[1], level, levelP))

				// Inner loop: 13 products (the reduction periods are 8 or
				// 4 with 60/61-bit moduli), the Q-only term first and once
				// in the middle, as Lattigo would run them.
				qF := params.QiOverflowMargin(level) >> 1
				pF := params.PiOverflowMargin(levelP) >> 1
				randQP := func() ringqp.Poly {
					p := ringQP.NewPoly()
					for l, v := range k.random(0, nq, below) {
						copy(p.Q.Coeffs[l], v)
					}
					for l, v := range k.random(params.QCount(), np, below) {
						copy(p.P.Coeffs[l], v)
					}
					return p
				}
				acc0, acc1 := ringQP.NewPoly(), ringQP.NewPoly()
				x0, x1 := randQP(), randQP()
				px0, px1 := k.upload(qpLimbs(x0, level, levelP)), k.upload(qpLimbs(x1, level, levelP))
				pcx1 := k.upload(want.Coeffs[:nq]) // a second Q-only input (P*c0 again)
				const terms = 13
				for cnt := range terms {
					pt := randQP()
					// the diagonal as uploaded: its P limbs apart from its Q limbs
					ppt, pptP := k.upload(pt.Q.Coeffs[:nq]), k.upload(pt.P.Coeffs)
					qonly := cnt == 0 || cnt == 6
					var mode uint64
					if cnt == 0 {
						mode |= linFirst
					}
					if qonly {
						mode |= linQOnly
						if cnt == 0 {
							ringQ.MulCoeffsMontgomeryLazy(pt.Q, want, acc0.Q)
							ringQ.MulCoeffsMontgomeryLazy(pt.Q, want, acc1.Q)
							acc0.P.Zero()
							acc1.P.Zero()
						} else {
							ringQ.MulCoeffsMontgomeryLazyThenAddLazy(pt.Q, want, acc0.Q)
							ringQ.MulCoeffsMontgomeryLazyThenAddLazy(pt.Q, want, acc1.Q)
						}
						must(t, k.ctx.LinearMAC(out0, out1, pc0, pcx1, ppt, pptP, level, levelP, mode|reduceBits(cnt, terms, qF, pF)))
					} else {
						ringQP.MulCoeffsMontgomeryLazyThenAddLazy(pt, x0, acc0)
						ringQP.MulCoeffsMontgomeryLazyThenAddLazy(pt, x1, acc1)
						must(t, k.ctx.LinearMAC(out0, out1, px0, px1, ppt, pptP, level, levelP, mode|reduceBits(cnt, terms, qF, pF)))
					}
					if cnt%qF == qF-1 || cnt == terms-1 {
						ringQ.Reduce(acc0.Q, acc0.Q)
						ringQ.Reduce(acc1.Q, acc1.Q)
					}
					if cnt%pF == pF-1 || cnt == terms-1 {
						ringP.Reduce(acc0.P, acc0.P)
						ringP.Reduce(acc1.P, acc1.P)
					}
					k.equal(fmt.Sprintf("%s product %d (0)", name, cnt), k.download(out0, nq+np), qpLimbs(acc0, level, levelP))
					k.equal(fmt.Sprintf("%s product %d (1)", name, cnt), k.download(out1, nq+np), qpLimbs(acc1, level, levelP))
					k.free(ppt, pptP)
				}

				// Outer loop: giant steps j != 0 (Add, then the automorphism
				// assigned or added lazily) and j == 0 (copy or AddLazy),
				// 11 of them, Lattigo's reductions.
				c0, c1 := ringQP.NewPoly(), ringQP.NewPoly()
				const giants = 11
				for cnt := range giants {
					a0, a1, b0 := randQP(), randQP(), randQP()
					pa0, pa1, pb0 := k.upload(qpLimbs(a0, level, levelP)), k.upload(qpLimbs(a1, level, levelP)), k.upload(qpLimbs(b0, level, levelP))
					mode := reduceBits(cnt, giants, qF, pF)
					if cnt == 0 || cnt == 5 {
						mode |= linFirst
					}
					identity := cnt%3 == 1
					if identity {
						if mode&linFirst != 0 {
							c0.CopyLvl(level, levelP, b0)
							c1.CopyLvl(level, levelP, a1)
						} else {
							ringQP.AddLazy(c0, b0, c0)
							ringQP.AddLazy(c1, a1, c1)
						}
						must(t, k.ctx.LinearGiant(out0, out1, pb0, pa1, 0, 0, level, levelP, mode))
					} else {
						ringQP.Add(a0, b0, a0)
						if mode&linFirst != 0 {
							ringQP.AutomorphismNTTWithIndex(a0, index, c0)
							ringQP.AutomorphismNTTWithIndex(a1, index, c1)
						} else {
							ringQP.AutomorphismNTTWithIndexThenAddLazy(a0, index, c0)
							ringQP.AutomorphismNTTWithIndexThenAddLazy(a1, index, c1)
						}
						must(t, k.ctx.LinearGiant(out0, out1, pa0, pa1, pb0, idx, level, levelP, mode))
					}
					if mode&linReduceQ != 0 {
						ringQ.Reduce(c0.Q, c0.Q)
						ringQ.Reduce(c1.Q, c1.Q)
					}
					if mode&linReduceP != 0 {
						ringP.Reduce(c0.P, c0.P)
						ringP.Reduce(c1.P, c1.P)
					}
					k.equal(fmt.Sprintf("%s giant %d (0)", name, cnt), k.download(out0, nq+np), qpLimbs(c0, level, levelP))
					k.equal(fmt.Sprintf("%s giant %d (1)", name, cnt), k.download(out1, nq+np), qpLimbs(c1, level, levelP))
					k.free(pa0, pa1, pb0)
				}
				k.free(pct, px0, px1, pcx1)
			}
		})
	}
}

func reduceBits(cnt, n, qF, pF int) uint64 {
	var m uint64
	if cnt%qF == qF-1 || cnt == n-1 {
		m |= linReduceQ
	}
	if cnt%pF == pF-1 || cnt == n-1 {
		m |= linReduceP
	}
	return m
}

// linCase is one linear transformation of TestLinearCiphertexts.
type linCase struct {
	name  string
	n1    int
	diags func(slots int) []int
}

var linCases = []linCase{
	// fhec's dense layers: a band of diagonals, both signs.
	{"band", 4, func(slots int) []int { return []int{0, 1, 2, 3, 5, 8, slots - 1, slots - 2, slots - 4} }},
	// 16 babies under giant 0 and 14 giants: every reduction period of the
	// inner and the outer loop (8 for 60-bit Q, 4 for 61-bit P) is crossed.
	{"wide", 16, func(slots int) []int {
		d := []int{}
		for i := range 20 {
			d = append(d, i)
		}
		for m := range 13 {
			d = append(d, 16*m+3)
		}
		return append(d, slots-1, slots-7, slots-16)
	}},
	// no diagonal 0, no baby step 0.
	{"no zero", 8, func(slots int) []int { return []int{3, 9, 10, 27, slots - 5} }},
	// only giant 0, only baby 0.
	{"giant zero", 32, func(int) []int { return []int{0, 1, 31} }},
	{"diagonal zero", 2, func(int) []int { return []int{0} }},
}

// TestLinearCiphertexts: on genuine Lattigo ciphertexts and Galois keys,
// Context.Linear gives the bytes of Lattigo's
// LinearTransformationEvaluator.Evaluate (what the CPU runtime runs for
// LINEAR): one and several P primes, several baby-step sizes and diagonal
// sets, the ciphertext at the transformation's level and above it.
func TestLinearCiphertexts(t *testing.T) {
	for _, kc := range ksCases {
		if kc.logN == 12 || (testing.Short() && len(kc.logP) > 1) {
			continue
		}
		t.Run(kc.String(), func(t *testing.T) {
			k := newKS(t, kc)
			params := k.params
			N := k.ctx.N
			slots := params.MaxSlots()
			stride := params.QCount() * N
			out := k.alloc(2 * stride)
			defer k.free(out)
			for _, lc := range linCases {
				for _, ltLevel := range []int{params.MaxLevel(), params.MaxLevel() - 1} {
					lt := k.linearLT(lc.diags(slots), lc.n1, ltLevel)
					gks := k.bsgsGaloisKeys(lt)
					keys := map[uint64]*cuda.SwitchingKey{}
					for _, g := range gks {
						keys[g.GaloisElement] = k.uploadKey(&g.GadgetCiphertext)
					}
					eval := hefloat.NewLinearTransformationEvaluator(hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(nil, gks...)))
					dt, err := k.ctx.UploadLinearTransform(he.LinearTransformation(lt))
					must(t, err)
					for _, level := range []int{params.MaxLevel(), 1} {
						ct := k.ciphertext(level)
						want := hefloat.NewCiphertext(params, 1, min(level, lt.Level))
						must(t, eval.Evaluate(ct, lt, want))
						pct := k.uploadCt(ct, stride)
						must(t, k.ctx.Linear(out, stride, pct, stride, level, dt, keys))
						k.equalCt(fmt.Sprintf("%s: transformation at level %d, input at level %d", lc.name, ltLevel, level), out, stride, want)
						k.free(pct)
					}
					k.ctx.FreeLinearTransform(dt)
				}
			}
		})
	}
}

// TestLinearErrors: unsupported or inconsistent inputs are errors.
func TestLinearErrors(t *testing.T) {
	k := newKS(t, ksCases[0])
	params := k.params
	lt := k.linearLT([]int{0, 1, 5}, 2, params.MaxLevel())
	bad := lt
	bad.N1 = 0
	if _, err := k.ctx.UploadLinearTransform(he.LinearTransformation(bad)); err == nil {
		t.Error("a transformation without baby steps (N1 = 0) was uploaded")
	}
	bad.N1 = 3
	if _, err := k.ctx.UploadLinearTransform(he.LinearTransformation(bad)); err == nil {
		t.Error("a baby step of 3 was accepted")
	}
	if _, err := k.ctx.UploadLinearTransform(he.LinearTransformation{}); err == nil {
		t.Error("an empty transformation was uploaded")
	}
	dt, err := k.ctx.UploadLinearTransform(he.LinearTransformation(lt))
	must(t, err)
	defer k.ctx.FreeLinearTransform(dt)
	stride := params.QCount() * k.ctx.N
	s := k.alloc(2 * stride)
	defer k.free(s)
	if err := k.ctx.Linear(s, stride, s, stride, params.MaxLevel(), dt, nil); err == nil {
		t.Error("a transformation without its Galois keys ran")
	}
	if err := k.ctx.Linear(s, stride, s, stride, params.MaxLevel(), nil, nil); err == nil {
		t.Error("a nil transformation ran")
	}
	if got := len(dt.GaloisElements(k.ctx)); got != 2 {
		t.Errorf("%d Galois elements for baby step 1 and giant step 4, want 2", got)
	}
}

// BenchmarkLinear times LINEAR emulated against Lattigo on the same host
// (logN 12, 5 Q limbs, one P prime: fhec's shape; 16 diagonals -8..7 with
// N1 = 4: 3 non-zero baby steps, 4 giant steps):
// go test -tags cudaemu -run XXX -bench Linear ./runtime/cuda/emu
func BenchmarkLinear(b *testing.B) {
	k := newKS(b, ksCases[5])
	params := k.params
	slots := params.MaxSlots()
	stride := params.QCount() * k.ctx.N
	var diags []int
	for i := -8; i < 8; i++ {
		diags = append(diags, (i+slots)%slots)
	}
	lt := k.linearLT(diags, 4, params.MaxLevel())
	gks := k.bsgsGaloisKeys(lt)
	keys := map[uint64]*cuda.SwitchingKey{}
	for _, g := range gks {
		keys[g.GaloisElement] = k.uploadKey(&g.GadgetCiphertext)
	}
	eval := hefloat.NewLinearTransformationEvaluator(hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(nil, gks...)))
	dt, err := k.ctx.UploadLinearTransform(he.LinearTransformation(lt))
	must(b, err)
	defer k.ctx.FreeLinearTransform(dt)
	ct := k.ciphertext(params.MaxLevel())
	pct, out := k.uploadCt(ct, stride), k.alloc(2*stride)
	defer k.free(pct, out)
	res := hefloat.NewCiphertext(params, 1, params.MaxLevel())
	b.Run("emu", func(b *testing.B) {
		for b.Loop() {
			must(b, k.ctx.Linear(out, stride, pct, stride, params.MaxLevel(), dt, keys))
		}
	})
	b.Run("lattigo", func(b *testing.B) {
		for b.Loop() {
			must(b, eval.Evaluate(ct, lt, res))
		}
	})
}
