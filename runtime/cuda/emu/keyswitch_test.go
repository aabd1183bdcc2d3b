//go:build cudaemu

package emu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"

	"github.com/fhec/fhec/runtime/cuda"
)

// ksCase is one parameter set of the key-switching tests: fhec's usual one
// P prime, and two or three (Lattigo's multi-P path, whose digits are a
// fast basis conversion of several limbs).
type ksCase struct {
	logN       int
	logQ, logP []int
}

func (k ksCase) String() string {
	return fmt.Sprintf("logN=%d/Q=%d/P=%d", k.logN, len(k.logQ), len(k.logP))
}

var ksCases = []ksCase{
	{10, []int{60, 45, 45, 50, 55}, []int{61}},
	{10, []int{60, 45, 45, 50, 55}, []int{61, 61}},
	{10, []int{55, 40, 40, 40, 40, 40, 40}, []int{50, 50, 50}},
	{11, []int{55, 40, 40, 40}, []int{61}},
	{11, []int{58, 45, 45, 45, 45}, []int{60, 60}},
	{12, []int{55, 40, 40, 40, 40}, []int{61}},
}

// ksFixture: Lattigo parameters, a secret, genuine keys and ciphertexts,
// and the device context over the same rings.
type ksFixture struct {
	*ckksFixture
	sk    *rlwe.SecretKey
	kgen  *rlwe.KeyGenerator
	rlk   *rlwe.RelinearizationKey
	reval *rlwe.Evaluator
}

func newKS(t testing.TB, kc ksCase) *ksFixture {
	t.Helper()
	params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN: kc.logN, LogQ: kc.logQ, LogP: kc.logP, LogDefaultScale: 40,
	})
	must(t, err)
	dev := New()
	ctx, err := cuda.NewContext(dev, params.RingQ(), params.RingP())
	must(t, err)
	f := &fixture{t: t, params: params, ringQ: params.RingQ(), dev: dev, ctx: ctx, rng: rand.New(rand.NewPCG(7, uint64(kc.logN)))}
	f.ringQP = append(append(f.ringQP, params.RingQ().SubRings...), params.RingP().SubRings...)
	t.Cleanup(func() {
		ctx.Close()
		if n := dev.Live(); n != 0 {
			t.Errorf("%d device allocations leaked", n)
		}
		dev.Close()
	})
	kgen := rlwe.NewKeyGenerator(params)
	sk := kgen.GenSecretKeyNew()
	rlk := kgen.GenRelinearizationKeyNew(sk)
	c := &ckksFixture{fixture: f, enc: rlwe.NewEncryptor(params, sk), ecd: hefloat.NewEncoder(params)}
	c.eval = hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(rlk))
	return &ksFixture{ckksFixture: c, sk: sk, kgen: kgen, rlk: rlk, reval: rlwe.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(rlk))}
}

// qp returns the compact device layout of a ringqp.Poly (Q limbs then P
// limbs) at levels (levelQ, levelP).
func qpLimbs(p ringqp.Poly, levelQ, levelP int) [][]uint64 {
	return append(slices.Clone(p.Q.Coeffs[:levelQ+1]), p.P.Coeffs[:levelP+1]...)
}

func (k *ksFixture) uploadKey(g *rlwe.GadgetCiphertext) *cuda.SwitchingKey {
	key, err := k.ctx.UploadKey(g)
	must(k.t, err)
	k.t.Cleanup(func() { k.ctx.FreeKey(key) })
	return key
}

func (k *ksFixture) alloc(words int) cuda.Ptr {
	p, err := k.dev.Alloc(words)
	must(k.t, err)
	return p
}

// TestKeySwitchKernels checks each stage against the Lattigo function it
// reproduces, on the uploaded genuine relinearization key, at every level:
// the decomposition digits (DecomposeAndSplit + NTTLazy for one P prime,
// DecomposeSingleNTT for several), the lazy inner product
// (GadgetProductLazy, reduction schedule included), and ModDownQPtoQNTT.
func TestKeySwitchKernels(t *testing.T) {
	for _, kc := range ksCases {
		if kc.logN == 12 {
			continue // TestKeySwitchCiphertexts covers logN 12
		}
		t.Run(kc.String(), func(t *testing.T) {
			k := newKS(t, kc)
			N := k.ctx.N
			levelP := k.params.MaxLevelP()
			nbPi := levelP + 1
			key := k.uploadKey(&k.rlk.GadgetCiphertext)
			maxQP := (k.params.QCount() + k.params.PCount()) * N
			d, acc0, acc1 := k.alloc(maxQP), k.alloc(maxQP), k.alloc(maxQP)
			scratch := k.alloc(k.ctx.KeySwitchScratchWords())
			out := k.alloc(k.params.QCount() * N)
			defer k.free(d, acc0, acc1, scratch, out)
			ringQP := k.params.RingQP()
			for level := k.params.MaxLevel(); level >= 0; level-- {
				name := fmt.Sprintf("level %d", level)
				ringQ := k.ringQ.AtLevel(level)
				// Random coefficients, and the edges of the centred lift
				// (0, q/2 +- 1, q-1) at the start of every limb.
				inv := ringQ.NewPoly()
				for l, v := range k.random(0, level+1, below) {
					q := k.ringQ.SubRings[l].Modulus
					copy(inv.Coeffs[l], v)
					copy(inv.Coeffs[l], []uint64{0, 1, q>>1 - 1, q >> 1, q>>1 + 1, q - 1})
				}
				cx := ringQ.NewPoly()
				ringQ.NTT(inv, cx)
				pInv := k.upload(inv.Coeffs[:level+1])
				rqp := ringQP.AtLevel(level, levelP)
				want := rqp.NewPoly()
				dnum := k.params.BaseRNSDecompositionVectorSize(level, levelP)
				for i := range dnum {
					if nbPi == 1 {
						k.reval.Decomposer.DecomposeAndSplit(level, levelP, nbPi, i, inv, want.Q, want.P)
						for u := range level + 1 {
							k.ringQ.SubRings[u].NTTLazy(want.Q.Coeffs[u], want.Q.Coeffs[u])
						}
						for u := range levelP + 1 {
							k.params.RingP().SubRings[u].NTTLazy(want.P.Coeffs[u], want.P.Coeffs[u])
						}
					} else {
						k.reval.DecomposeSingleNTT(level, levelP, nbPi, i, cx, inv, want.Q, want.P)
					}
					must(t, k.ctx.Decompose(d, pInv, level, levelP, i))
					k.equal(fmt.Sprintf("%s digit %d", name, i), k.download(d, level+levelP+2), qpLimbs(want, level, levelP))
				}

				// Inner product, with Lattigo's lazy reductions.
				ctQP := &rlwe.Element[ringqp.Poly]{Value: []ringqp.Poly{rqp.NewPoly(), rqp.NewPoly()}, MetaData: &rlwe.MetaData{CiphertextMetaData: rlwe.CiphertextMetaData{IsNTT: true}}}
				k.reval.GadgetProductLazy(level, cx, &k.rlk.GadgetCiphertext, ctQP)
				pcx := k.upload(cx.Coeffs[:level+1])
				must(t, k.ctx.GadgetProductLazy(acc0, acc1, pcx, level, key, scratch))
				k.equal(name+" inner product 0", k.download(acc0, level+levelP+2), qpLimbs(ctQP.Value[0], level, levelP))
				k.equal(name+" inner product 1", k.download(acc1, level+levelP+2), qpLimbs(ctQP.Value[1], level, levelP))

				// ModDown of both (the P part of acc is consumed).
				for b, acc := range []cuda.Ptr{acc0, acc1} {
					res := ringQ.NewPoly()
					k.reval.BasisExtender.ModDownQPtoQNTT(level, levelP, ctQP.Value[b].Q, ctQP.Value[b].P, res)
					must(t, k.ctx.ModDown(out, acc, 0, level, levelP, scratch))
					k.equal(fmt.Sprintf("%s ModDown %d", name, b), k.download(out, level+1), res.Coeffs[:level+1])
				}
				k.free(pInv, pcx)
			}
		})
	}
}

// TestKeySwitchCiphertexts: on genuine Lattigo ciphertexts and keys, at
// several levels, MUL (tensor) + RELINEARIZE and ROTATE (several offsets,
// conjugation) give the same ciphertext bytes as Lattigo's Relinearize and
// Rotate; the rotations also equal Lattigo's hoisted rotations (what the
// CPU runtime uses for several rotations of one ciphertext).
func TestKeySwitchCiphertexts(t *testing.T) {
	for _, kc := range ksCases {
		t.Run(kc.String(), func(t *testing.T) {
			k := newKS(t, kc)
			N := k.ctx.N
			params := k.params
			offsets := []int{1, -3, 17}
			gals := append(params.GaloisElements(offsets), params.GaloisElementOrderTwoOrthogonalSubgroup())
			gks := k.kgen.GenGaloisKeysNew(gals, k.sk)
			keys := map[uint64]*cuda.SwitchingKey{}
			for _, g := range gks {
				keys[g.GaloisElement] = k.uploadKey(&g.GadgetCiphertext)
			}
			eval := hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(k.rlk, gks...))
			rlk := k.uploadKey(&k.rlk.GadgetCiphertext)
			stride := params.QCount() * N
			scratch := k.alloc(k.ctx.KeySwitchScratchWords())
			prod, out := k.alloc(3*stride), k.alloc(2*stride)
			defer k.free(scratch, prod, out)
			levels := []int{params.MaxLevel(), params.MaxLevel() / 2, 0}
			if kc.logN == 12 {
				levels = []int{params.MaxLevel(), 1}
			}
			for _, level := range levels {
				a, b := k.ciphertext(level), k.ciphertext(level)
				pa, pb := k.uploadCt(a, stride), k.uploadCt(b, stride)

				// MUL then RELINEARIZE, and Lattigo's fused MulRelin.
				deg2 := hefloat.NewCiphertext(params, 2, level)
				must(t, eval.Mul(a, b, deg2))
				want := hefloat.NewCiphertext(params, 1, level)
				must(t, eval.Relinearize(deg2, want))
				must(t, k.ctx.Tensor(prod, stride, pa, stride, pb, stride, level+1))
				must(t, k.ctx.Relinearize(out, stride, prod, stride, level, rlk, scratch))
				k.equalCt(fmt.Sprintf("RELINEARIZE level %d", level), out, stride, want)
				fused, err := eval.MulRelinNew(a, b)
				must(t, err)
				k.equalCt(fmt.Sprintf("MulRelin level %d", level), out, stride, fused)

				// Squaring, relinearized in place.
				must(t, eval.MulRelin(a, a, want))
				must(t, k.ctx.Tensor(prod, stride, pa, stride, pa, stride, level+1))
				must(t, k.ctx.Relinearize(prod, stride, prod, stride, level, rlk, scratch))
				k.equalCt(fmt.Sprintf("square RELINEARIZE level %d", level), prod, stride, want)

				hoisted, err := eval.RotateHoistedNew(a, offsets)
				must(t, err)
				for _, g := range gals {
					want := hefloat.NewCiphertext(params, 1, level)
					must(t, eval.Automorphism(a, g, want))
					must(t, k.ctx.Automorphism(out, stride, pa, stride, level, g, keys[g], scratch))
					k.equalCt(fmt.Sprintf("automorphism %d level %d", g, level), out, stride, want)
				}
				for i, off := range offsets {
					must(t, k.ctx.Automorphism(out, stride, pa, stride, level, gals[i], keys[gals[i]], scratch))
					k.equalCt(fmt.Sprintf("hoisted rotation %d level %d", off, level), out, stride, hoisted[off])
				}
				k.free(pa, pb)
			}
		})
	}
}

// TestKeySwitchErrors: bad inputs give errors, not panics.
func TestKeySwitchErrors(t *testing.T) {
	k := newKS(t, ksCases[0])
	if _, err := k.ctx.UploadKey(nil); err == nil {
		t.Error("UploadKey(nil) succeeded")
	}
	g := k.rlk.GadgetCiphertext.CopyNew()
	g.BaseTwoDecomposition = 3
	if _, err := k.ctx.UploadKey(g); err == nil {
		t.Error("UploadKey accepted a base-2 decomposition")
	}
	key := k.uploadKey(&k.rlk.GadgetCiphertext)
	s := k.alloc(k.ctx.KeySwitchScratchWords())
	defer k.free(s)
	if err := k.ctx.GadgetProductLazy(s, s, s, k.params.MaxLevel()+1, key, s); err == nil {
		t.Error("key switch above the key's level succeeded")
	}
	if err := k.ctx.GadgetProductLazy(s, s, s, 0, nil, s); err == nil {
		t.Error("key switch without a key succeeded")
	}
	if err := k.ctx.Decompose(s, s, 1, 0, 5); err == nil {
		t.Error("decomposition digit out of range succeeded")
	}
	if err := k.ctx.ModDown(s, s, 0, 0, 4, s); err == nil {
		t.Error("ModDown with 5 P moduli succeeded")
	}
	noP, err := cuda.NewContext(k.dev, k.ringQ, nil)
	must(t, err)
	defer noP.Close()
	if _, err := noP.UploadKey(&k.rlk.GadgetCiphertext); err == nil {
		t.Error("UploadKey on a context without P succeeded")
	}
	if err := noP.ModDown(s, s, 0, 0, 0, s); err == nil {
		t.Error("ModDown without P succeeded")
	}
}

// BenchmarkKeySwitch times RELINEARIZE and ROTATE emulated against Lattigo
// on the same host (logN 12, 5 Q limbs, one P prime: fhec's shape):
// go test -tags cudaemu -run XXX -bench KeySwitch ./runtime/cuda/emu
func BenchmarkKeySwitch(b *testing.B) {
	k := newKS(b, ksCases[5])
	params := k.params
	N, level := k.ctx.N, params.MaxLevel()
	stride := params.QCount() * N
	g := params.GaloisElement(1)
	gk := k.kgen.GenGaloisKeyNew(g, k.sk)
	eval := hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(k.rlk, gk))
	rlk, key := k.uploadKey(&k.rlk.GadgetCiphertext), k.uploadKey(&gk.GadgetCiphertext)
	a := k.ciphertext(level)
	deg2 := hefloat.NewCiphertext(params, 2, level)
	must(b, eval.Mul(a, a, deg2))
	pa, p2 := k.uploadCt(a, stride), k.uploadCt(deg2, stride)
	scratch, out := k.alloc(k.ctx.KeySwitchScratchWords()), k.alloc(2*stride)
	defer k.free(pa, p2, scratch, out)
	res := hefloat.NewCiphertext(params, 1, level)
	b.Run("Relinearize/emu", func(b *testing.B) {
		for b.Loop() {
			must(b, k.ctx.Relinearize(out, stride, p2, stride, level, rlk, scratch))
		}
	})
	b.Run("Relinearize/lattigo", func(b *testing.B) {
		for b.Loop() {
			must(b, eval.Relinearize(deg2, res))
		}
	})
	b.Run("Rotate/emu", func(b *testing.B) {
		for b.Loop() {
			must(b, k.ctx.Automorphism(out, stride, pa, stride, level, g, key, scratch))
		}
	})
	b.Run("Rotate/lattigo", func(b *testing.B) {
		for b.Loop() {
			must(b, eval.Rotate(a, 1, res))
		}
	})
}
