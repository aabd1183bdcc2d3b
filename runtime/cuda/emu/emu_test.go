//go:build cudaemu

package emu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/runtime/cuda"
)

// testParams: logN 10 and 11, Q primes of 55..60 bits (the lazy ranges are
// tightest near 61 bits), two 61-bit P primes.
func testParams(t testing.TB, logN int) hefloat.Parameters {
	t.Helper()
	p, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN:            logN,
		LogQ:            []int{60, 45, 45, 50, 55},
		LogP:            []int{61, 61},
		LogDefaultScale: 45,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	t      testing.TB
	params hefloat.Parameters
	ringQ  *ring.Ring
	ringQP []*ring.SubRing
	dev    *Device
	ctx    *cuda.Context
	rng    *rand.Rand
}

func newFixture(t testing.TB, logN int) *fixture {
	params := testParams(t, logN)
	dev := New()
	ctx, err := cuda.NewContext(dev, params.RingQ(), params.RingP())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, params: params, ringQ: params.RingQ(), dev: dev, ctx: ctx, rng: rand.New(rand.NewPCG(1, uint64(logN)))}
	f.ringQP = append(append(f.ringQP, params.RingQ().SubRings...), params.RingP().SubRings...)
	t.Cleanup(func() {
		ctx.Close()
		if n := dev.Live(); n != 0 {
			t.Errorf("%d device allocations leaked", n)
		}
		dev.Close()
	})
	return f
}

// random returns nlimbs limbs from chain index limb0, uniform below bound(q).
func (f *fixture) random(limb0, nlimbs int, bound func(q uint64) uint64) [][]uint64 {
	out := make([][]uint64, nlimbs)
	for l := range out {
		q := f.ringQP[limb0+l].Modulus
		out[l] = make([]uint64, f.ctx.N)
		for j := range out[l] {
			out[l][j] = f.rng.Uint64N(bound(q))
		}
	}
	return out
}

func below(q uint64) uint64 { return q }

func (f *fixture) upload(limbs [][]uint64) cuda.Ptr {
	f.t.Helper()
	p, err := f.dev.Alloc(len(limbs) * f.ctx.N)
	if err != nil {
		f.t.Fatal(err)
	}
	for l, v := range limbs {
		if err := f.dev.CopyIn(p.Add(l*f.ctx.N), v); err != nil {
			f.t.Fatal(err)
		}
	}
	return p
}

func (f *fixture) download(p cuda.Ptr, nlimbs int) [][]uint64 {
	f.t.Helper()
	out := make([][]uint64, nlimbs)
	for l := range out {
		out[l] = make([]uint64, f.ctx.N)
		if err := f.dev.CopyOut(out[l], p.Add(l*f.ctx.N)); err != nil {
			f.t.Fatal(err)
		}
	}
	return out
}

func (f *fixture) free(ps ...cuda.Ptr) {
	for _, p := range ps {
		if err := f.dev.Free(p); err != nil {
			f.t.Fatal(err)
		}
	}
}

func clone(v [][]uint64) [][]uint64 {
	out := make([][]uint64, len(v))
	for i := range v {
		out[i] = slices.Clone(v[i])
	}
	return out
}

func (f *fixture) equal(what string, got, want [][]uint64) {
	f.t.Helper()
	for l := range want {
		for j := range want[l] {
			if got[l][j] != want[l][j] {
				f.t.Fatalf("%s: limb %d coefficient %d: kernel %d, Lattigo %d", what, l, j, got[l][j], want[l][j])
			}
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNTT: forward and inverse NTT, exact and lazy, on every modulus of Q
// and P, against SubRing.NTT/NTTLazy/INTT/INTTLazy. Lazy outputs are
// compared unreduced: the kernels follow Lattigo's reduction schedule.
// Inputs below 4q exercise the lazy paths with unreduced inputs (as the
// rescale does).
func TestNTT(t *testing.T) {
	for _, logN := range []int{10, 11} {
		f := newFixture(t, logN)
		L := len(f.ringQP)
		for _, in := range []struct {
			name  string
			bound func(uint64) uint64
		}{{"reduced", below}, {"below2q", func(q uint64) uint64 { return 2 * q }}} {
			for _, lazy := range []bool{false, true} {
				name := fmt.Sprintf("logN=%d/%s/lazy=%v", logN, in.name, lazy)
				x := f.random(0, L, in.bound)
				want := clone(x)
				wantInv := clone(x)
				for l, s := range f.ringQP {
					if lazy {
						s.NTTLazy(x[l], want[l])
						s.INTTLazy(x[l], wantInv[l])
					} else {
						s.NTT(x[l], want[l])
						s.INTT(x[l], wantInv[l])
					}
				}
				src := f.upload(x)
				dst, err := f.dev.Alloc(L * f.ctx.N)
				must(t, err)
				must(t, f.ctx.NTT(dst, src, 0, L, lazy))
				f.equal("NTT "+name, f.download(dst, L), want)
				must(t, f.ctx.INTT(dst, src, 0, L, lazy))
				f.equal("INTT "+name, f.download(dst, L), wantInv)
				// In place, on a sub-range of limbs (limb0 > 0).
				must(t, f.ctx.NTT(src.Add(2*f.ctx.N), src.Add(2*f.ctx.N), 2, L-2, lazy))
				f.equal("NTT in place "+name, f.download(src.Add(2*f.ctx.N), L-2), want[2:])
				f.free(src, dst)
			}
		}
	}
}

// TestElementwise: add, sub, neg, MForm, Montgomery products against the
// ring.Ring operations on Q.
func TestElementwise(t *testing.T) {
	f := newFixture(t, 10)
	r := f.ringQ
	nl := r.ModuliChainLength()
	a, b, d0 := r.NewPoly(), r.NewPoly(), r.NewPoly()
	for l, v := range f.random(0, nl, below) {
		copy(a.Coeffs[l], v)
	}
	for l, v := range f.random(0, nl, below) {
		copy(b.Coeffs[l], v)
	}
	for l, v := range f.random(0, nl, below) {
		copy(d0.Coeffs[l], v)
	}
	pa, pb, pd := f.upload(a.Coeffs), f.upload(b.Coeffs), f.upload(d0.Coeffs)
	defer f.free(pa, pb, pd)
	want := r.NewPoly()
	cases := []struct {
		name   string
		kernel func() error
		ref    func()
	}{
		{"add", func() error { return f.ctx.Add(pd, pa, pb, 0, nl) }, func() { r.Add(a, b, want) }},
		{"sub", func() error { return f.ctx.Sub(pd, pa, pb, 0, nl) }, func() { r.Sub(a, b, want) }},
		{"neg", func() error { return f.ctx.Neg(pd, pa, 0, nl) }, func() { r.Neg(a, want) }},
		{"mform", func() error { return f.ctx.MForm(pd, pa, 0, nl) }, func() { r.MForm(a, want) }},
		{"mulmont", func() error { return f.ctx.MulMont(pd, pa, pb, 0, nl) }, func() { r.MulCoeffsMontgomery(a, b, want) }},
		{"mulmontadd", func() error {
			if err := f.dev.CopyIn(pd, slices.Concat(d0.Coeffs...)); err != nil {
				return err
			}
			return f.ctx.MulMontAdd(pd, pa, pb, 0, nl)
		}, func() { want.Copy(d0); r.MulCoeffsMontgomeryThenAdd(a, b, want) }},
	}
	for _, c := range cases {
		c.ref()
		must(t, c.kernel())
		f.equal(c.name, f.download(pd, nl), want.Coeffs)
	}
}

// TestAutomorphismNTT against ring.AutomorphismNTT for rotations and conjugation.
func TestAutomorphismNTT(t *testing.T) {
	f := newFixture(t, 10)
	r := f.ringQ
	nl := r.ModuliChainLength()
	a := r.NewPoly()
	for l, v := range f.random(0, nl, below) {
		copy(a.Coeffs[l], v)
	}
	pa := f.upload(a.Coeffs)
	pd, err := f.dev.Alloc(nl * f.ctx.N)
	must(t, err)
	defer f.free(pa, pd)
	want := r.NewPoly()
	for _, g := range []uint64{f.params.GaloisElement(1), f.params.GaloisElement(-3), f.params.GaloisElement(17), f.params.GaloisElementOrderTwoOrthogonalSubgroup()} {
		r.AutomorphismNTT(a, g, want)
		must(t, f.ctx.AutomorphismNTT(pd, pa, g, nl))
		f.equal(fmt.Sprintf("automorphism %d", g), f.download(pd, nl), want.Coeffs)
	}
}

// ckksFixture encrypts random messages, so the ciphertext-level tests run on
// genuine Lattigo ciphertexts and compare every byte of the results.
type ckksFixture struct {
	*fixture
	enc  *rlwe.Encryptor
	ecd  *hefloat.Encoder
	eval *hefloat.Evaluator
}

func newCKKS(t testing.TB) *ckksFixture {
	f := newFixture(t, 10)
	kgen := rlwe.NewKeyGenerator(f.params)
	sk := kgen.GenSecretKeyNew()
	return &ckksFixture{fixture: f, enc: rlwe.NewEncryptor(f.params, sk), ecd: hefloat.NewEncoder(f.params), eval: hefloat.NewEvaluator(f.params, nil)}
}

func (c *ckksFixture) values() []float64 {
	v := make([]float64, c.params.MaxSlots())
	for i := range v {
		v[i] = 2*c.rng.Float64() - 1
	}
	return v
}

func (c *ckksFixture) plaintext(level int) *rlwe.Plaintext {
	pt := hefloat.NewPlaintext(c.params, level)
	must(c.t, c.ecd.Encode(c.values(), pt))
	return pt
}

func (c *ckksFixture) ciphertext(level int) *rlwe.Ciphertext {
	ct, err := c.enc.EncryptNew(c.plaintext(level))
	must(c.t, err)
	return ct
}

// uploadCt puts a ciphertext on the device, polynomial p at p*stride words.
func (c *ckksFixture) uploadCt(ct *rlwe.Ciphertext, stride int) cuda.Ptr {
	p, err := c.dev.Alloc(len(ct.Value) * stride)
	must(c.t, err)
	for i, poly := range ct.Value {
		must(c.t, c.dev.CopyIn(p.Add(i*stride), slices.Concat(poly.Coeffs...)))
	}
	return p
}

// equalCt compares the device ciphertext with Lattigo's, byte for byte in
// its binary form (after copying the device polynomials into a clone).
func (c *ckksFixture) equalCt(what string, p cuda.Ptr, stride int, want *rlwe.Ciphertext) {
	c.t.Helper()
	got := want.CopyNew()
	for i := range got.Value {
		c.equal(fmt.Sprintf("%s: polynomial %d", what, i), c.download(p.Add(i*stride), want.Level()+1), want.Value[i].Coeffs)
		for l, v := range c.download(p.Add(i*stride), want.Level()+1) {
			copy(got.Value[i].Coeffs[l], v)
		}
	}
	gb, err := got.MarshalBinary()
	must(c.t, err)
	wb, err := want.MarshalBinary()
	must(c.t, err)
	if !slices.Equal(gb, wb) {
		c.t.Fatalf("%s: ciphertext bytes differ", what)
	}
}

// TestCiphertextOps: ADD, SUB, MUL_PLAIN, MUL (tensor) and RESCALE on
// Lattigo ciphertexts give identical ciphertext bytes.
func TestCiphertextOps(t *testing.T) {
	c := newCKKS(t)
	maxL := c.params.MaxLevel()
	N := c.ctx.N
	stride := (maxL + 1) * N
	for _, level := range []int{maxL, 2} {
		nl := level + 1
		a, b := c.ciphertext(level), c.ciphertext(level)
		pa, pb := c.uploadCt(a, stride), c.uploadCt(b, stride)
		out, err := c.dev.Alloc(3 * stride)
		must(t, err)

		want, err := c.eval.AddNew(a, b)
		must(t, err)
		for i := range 2 {
			must(t, c.ctx.Add(out.Add(i*stride), pa.Add(i*stride), pb.Add(i*stride), 0, nl))
		}
		c.equalCt(fmt.Sprintf("ADD level %d", level), out, stride, want)

		want, err = c.eval.SubNew(a, b)
		must(t, err)
		for i := range 2 {
			must(t, c.ctx.Sub(out.Add(i*stride), pa.Add(i*stride), pb.Add(i*stride), 0, nl))
		}
		c.equalCt(fmt.Sprintf("SUB level %d", level), out, stride, want)

		pt := c.plaintext(level)
		ppt := c.upload(pt.Value.Coeffs)
		want = hefloat.NewCiphertext(c.params, 1, level)
		must(t, c.eval.Mul(a, pt, want))
		must(t, c.ctx.MulPlain(out, stride, pa, stride, ppt, 2, nl))
		c.equalCt(fmt.Sprintf("MUL_PLAIN level %d", level), out, stride, want)

		want = hefloat.NewCiphertext(c.params, 2, level)
		must(t, c.eval.Mul(a, b, want))
		must(t, c.ctx.Tensor(out, stride, pa, stride, pb, stride, nl))
		c.equalCt(fmt.Sprintf("MUL level %d", level), out, stride, want)

		// Squaring: Lattigo takes a different path (2*c0*c1), same result.
		must(t, c.eval.Mul(a, a, want))
		must(t, c.ctx.Tensor(out, stride, pa, stride, pa, stride, nl))
		c.equalCt(fmt.Sprintf("MUL square level %d", level), out, stride, want)

		// RESCALE of the degree-2 product: every polynomial.
		resc := hefloat.NewCiphertext(c.params, 2, level-1)
		must(t, c.eval.Rescale(want, resc))
		scratch, err := c.dev.Alloc(c.ctx.RescaleScratchWords(level))
		must(t, err)
		for i := range 3 {
			must(t, c.ctx.Rescale(out.Add(i*stride), out.Add(i*stride), scratch, level))
		}
		c.equalCt(fmt.Sprintf("RESCALE level %d", level), out, stride, resc)
		c.free(pa, pb, out, ppt, scratch)
	}
}

// BenchmarkEmulation times the emulated kernels against Lattigo on the same
// host: go test -tags cudaemu -bench . -run XXX ./runtime/cuda/emu
func BenchmarkEmulation(b *testing.B) {
	f := newFixture(b, 12)
	r := f.ringQ
	nl := r.ModuliChainLength()
	x := f.random(0, nl, below)
	px := f.upload(x)
	pd, err := f.dev.Alloc(nl * f.ctx.N)
	must(b, err)
	defer f.free(px, pd)
	p, o := r.NewPoly(), r.NewPoly()
	for l := range x {
		copy(p.Coeffs[l], x[l])
	}
	b.Run("NTT/emu", func(b *testing.B) {
		for b.Loop() {
			must(b, f.ctx.NTT(pd, px, 0, nl, false))
		}
	})
	b.Run("NTT/lattigo", func(b *testing.B) {
		for b.Loop() {
			r.NTT(p, o)
		}
	})
	b.Run("MulMont/emu", func(b *testing.B) {
		for b.Loop() {
			must(b, f.ctx.MulMont(pd, px, px, 0, nl))
		}
	})
	b.Run("MulMont/lattigo", func(b *testing.B) {
		for b.Loop() {
			r.MulCoeffsMontgomery(p, p, o)
		}
	})
	scratch, err := f.dev.Alloc(f.ctx.RescaleScratchWords(nl - 1))
	must(b, err)
	defer f.free(scratch)
	b.Run("Rescale/emu", func(b *testing.B) {
		for b.Loop() {
			must(b, f.ctx.Rescale(pd, px, scratch, nl-1))
		}
	})
	buf := r.NewPoly()
	b.Run("Rescale/lattigo", func(b *testing.B) {
		for b.Loop() {
			r.DivRoundByLastModulusNTT(p, buf, o)
		}
	})
	_ = time.Now
}
