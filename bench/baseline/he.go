package baseline

import (
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/utils/bignum"
)

// Slot layout (logN 13: 4096 slots).
const (
	period1 = 1024 // the input, padded to 1024, replicated 4 times
	stride  = 32   // layer-1 diagonal stride = slots summed by the layer-1 fold
	diags2  = 16   // layer-2 diagonals (hybrid method on the stride-32 lattice)
)

// ParametersLiteral returns the CKKS parameters of the baseline for act
// (see the package documentation for the reasoning).
func ParametersLiteral(act Activation) hefloat.ParametersLiteral {
	if act == Square {
		// depth 3: layer 1, x², layer 2.
		return hefloat.ParametersLiteral{LogN: 13, LogQ: []int{48, 40, 40, 40}, LogP: []int{49}, LogDefaultScale: 40}
	}
	// depth 5: layer 1, relu7 (3), layer 2.
	return hefloat.ParametersLiteral{LogN: 13, LogQ: []int{38, 28, 28, 28, 28, 28}, LogP: []int{40}, LogDefaultScale: 28}
}

// MaxLogQP128 is the largest log2(QP) at logN 13 with 128-bit security for a
// uniform ternary secret (HomomorphicEncryption.org standard, Table 1).
const MaxLogQP128 = 218

// LT1LogBSGSRatio and LT2LogBSGSRatio are the Lattigo BSGS ratios of the
// two dense layers: 32 diagonals {0, 32, ..., 992} split as 8 baby steps
// (7 hoisted rotations) x 4 giant steps (3 rotations); 16 diagonals
// {0, 32, ..., 480} as 8 baby steps (7 hoisted) x 2 giant steps (1).
// Hoisted baby steps share one gadget decomposition and cost a fraction of
// a giant step, hence ratios > 1.
const (
	LT1LogBSGSRatio = 2
	LT2LogBSGSRatio = 3
)

// Baseline is the hand-written encrypted MLP: the model encoded as two
// Lattigo linear transformations (server side, done once), the activation,
// and the parameters. Client side: KeyGen, Encrypt, Decrypt; server side:
// NewServer(evk).Evaluate.
type Baseline struct {
	Act    Activation
	Params hefloat.Parameters

	ecd      *hefloat.Encoder
	lt1, lt2 hefloat.LinearTransformation
	b1, b2   *rlwe.Plaintext
	poly     bignum.Polynomial // relu7 in t = x/2 on [-1, 1]
	fold1    []int             // rotate-and-add after layer 1: 1, 2, 4, 8, 16
	fold2    []int             // after layer 2: 512, 1024, 2048
	galEls   []uint64
}

// New prepares the baseline for m: CKKS parameters, the encoded dense
// layers and biases.
func New(m *MLP, act Activation) (*Baseline, error) {
	if act != Square && act != ReLU7 {
		return nil, fmt.Errorf("baseline: unknown activation %q", act)
	}
	params, err := hefloat.NewParametersFromLiteral(ParametersLiteral(act))
	if err != nil {
		return nil, err
	}
	if params.LogQP() > MaxLogQP128 {
		return nil, fmt.Errorf("baseline: log2(QP) = %.2f > %d: not 128-bit secure", params.LogQP(), MaxLogQP128)
	}
	slots := params.MaxSlots()
	if slots != 4096 {
		return nil, fmt.Errorf("baseline: the layout needs 4096 slots, have %d", slots)
	}
	b := &Baseline{Act: act, Params: params, ecd: hefloat.NewEncoder(params)}
	top := params.MaxLevel()
	// The change of basis of the [-2, 2] Chebyshev series (t = x/2) is folded
	// into layer 1, so the polynomial costs no extra level.
	g := 1.0
	if act == ReLU7 {
		g = 1 / ReLUBound
		b.poly = bignum.NewPolynomial(bignum.Chebyshev, ReLU7Coeffs(), [2]float64{-1, 1})
	}

	// Layer 1: slot j holds the partial dot product of row j/32 over the 32
	// columns (j + 32c) mod 1024, c < 32: diagonal 32c is
	// d[j] = W1[j/32][(j+32c) mod 1024]. Every row covers each of its 1024
	// (padded) columns exactly once over its 32 slots.
	d1 := hefloat.Diagonals[float64]{}
	for c := 0; c < period1/stride; c++ {
		d := make([]float64, slots)
		for j := range d {
			if col := (j + stride*c) % period1; col < In {
				d[j] = g * m.W1[j/stride][col]
			}
		}
		d1[stride*c] = d
	}
	if b.lt1, err = b.encodeLT(d1, top, LT1LogBSGSRatio); err != nil {
		return nil, err
	}
	b.fold1 = []int{1, 2, 4, 8, 16}
	bias1 := make([]float64, slots)
	for r := 0; r < Hidden; r++ {
		bias1[stride*r] = g * m.B1[r]
	}
	if b.b1, err = b.encode(bias1, top-1, params.DefaultScale()); err != nil {
		return nil, err
	}

	// Layer 2 on the lattice of slots 32r (r < 128) where layer 1 leaves
	// h_r: hybrid diagonal method, 16 diagonals 32c (c < 16),
	// d[32r] = W2[r mod 16][(r+c) mod 128] (zero for rows >= 10 and off the
	// lattice, which also masks layer 1's partial sums there), then
	// rotate-and-add by 512, 1024, 2048: y_o lands in slot 32o.
	d2 := hefloat.Diagonals[float64]{}
	for c := 0; c < diags2; c++ {
		d := make([]float64, slots)
		for r := 0; r < Hidden; r++ {
			if o := r % diags2; o < Out {
				d[stride*r] = m.W2[o][(r+c)%Hidden]
			}
		}
		d2[stride*c] = d
	}
	if b.lt2, err = b.encodeLT(d2, 1, LT2LogBSGSRatio); err != nil {
		return nil, err
	}
	b.fold2 = []int{512, 1024, 2048}
	bias2 := make([]float64, slots)
	for o := 0; o < Out; o++ {
		bias2[stride*o] = m.B2[o]
	}
	// Scale after layer 2 = scale entering it (the diagonals are encoded at
	// scale q_1, rescaled away): Δ for relu7, Δ²/q_2 after the square.
	s2 := params.DefaultScale()
	if act == Square {
		s2 = s2.Mul(s2).Div(rlwe.NewScale(params.Q()[top-1]))
	}
	if b.b2, err = b.encode(bias2, 0, s2); err != nil {
		return nil, err
	}

	gal := map[uint64]bool{}
	for _, lt := range []hefloat.LinearTransformation{b.lt1, b.lt2} {
		for _, e := range lt.GaloisElements(params) {
			gal[e] = true
		}
	}
	for _, k := range append(slices.Clone(b.fold1), b.fold2...) {
		gal[params.GaloisElement(k)] = true
	}
	delete(gal, params.GaloisElement(0)) // the identity needs no key
	for e := range gal {
		b.galEls = append(b.galEls, e)
	}
	slices.Sort(b.galEls)
	return b, nil
}

func (b *Baseline) encodeLT(d hefloat.Diagonals[float64], level, logRatio int) (hefloat.LinearTransformation, error) {
	p := b.Params
	lt := hefloat.NewLinearTransformation(p, hefloat.LinearTransformationParameters{
		DiagonalsIndexList:       d.DiagonalsIndexList(),
		Level:                    level,
		Scale:                    rlwe.NewScale(p.Q()[level]), // rescaling by q_level restores the input scale
		LogDimensions:            p.LogMaxDimensions(),
		LogBabyStepGianStepRatio: logRatio,
	})
	return lt, hefloat.EncodeLinearTransformation(b.ecd, d, lt)
}

func (b *Baseline) encode(v []float64, level int, scale rlwe.Scale) (*rlwe.Plaintext, error) {
	pt := hefloat.NewPlaintext(b.Params, level)
	pt.Scale = scale
	return pt, b.ecd.Encode(v, pt)
}

// GaloisElements lists the Galois elements of the rotation keys the
// evaluation needs (ascending).
func (b *Baseline) GaloisElements() []uint64 { return slices.Clone(b.galEls) }

// KeyGen samples a secret key and the evaluation keys: the relinearization
// key and only the rotation keys the evaluation uses.
func (b *Baseline) KeyGen() (*rlwe.SecretKey, *rlwe.MemEvaluationKeySet) {
	kgen := rlwe.NewKeyGenerator(b.Params)
	sk := kgen.GenSecretKeyNew()
	rlk := kgen.GenRelinearizationKeyNew(sk)
	return sk, rlwe.NewMemEvaluationKeySet(rlk, kgen.GenGaloisKeysNew(b.galEls, sk)...)
}

// Encrypt encrypts one sample (784 values), replicated: slot j holds
// x[j mod 1024] (zero past 784), at the top level and the default scale.
func (b *Baseline) Encrypt(sk *rlwe.SecretKey, x []float64) (*rlwe.Ciphertext, error) {
	if len(x) != In {
		return nil, fmt.Errorf("baseline: %d inputs, want %d", len(x), In)
	}
	v := make([]float64, b.Params.MaxSlots())
	for j := range v {
		if c := j % period1; c < In {
			v[j] = x[c]
		}
	}
	pt, err := b.encode(v, b.Params.MaxLevel(), b.Params.DefaultScale())
	if err != nil {
		return nil, err
	}
	return rlwe.NewEncryptor(b.Params, sk).EncryptNew(pt)
}

// Decrypt returns the 10 outputs (slots 32o).
func (b *Baseline) Decrypt(sk *rlwe.SecretKey, ct *rlwe.Ciphertext) ([]float64, error) {
	v := make([]float64, b.Params.MaxSlots())
	if err := b.ecd.Decode(rlwe.NewDecryptor(b.Params, sk).DecryptNew(ct), v); err != nil {
		return nil, err
	}
	y := make([]float64, Out)
	for o := range y {
		y[o] = v[stride*o]
	}
	return y, nil
}

// Server evaluates the encrypted model with evaluation keys only. It is not
// safe for concurrent use.
type Server struct {
	b    *Baseline
	eval *countingEvaluator
	lte  *hefloat.LinearTransformationEvaluator
	poly *hefloat.PolynomialEvaluator
	ops  OpCounts
	tmp  *rlwe.Ciphertext
}

// NewServer makes a server for the evaluation keys.
func (b *Baseline) NewServer(evk rlwe.EvaluationKeySet) *Server {
	s := &Server{b: b}
	raw := hefloat.NewEvaluator(b.Params, evk)
	s.eval = &countingEvaluator{Evaluator: raw, n: &s.ops}
	s.lte = hefloat.NewLinearTransformationEvaluator(raw)
	s.poly = hefloat.NewPolynomialEvaluator(b.Params, s.eval)
	s.tmp = hefloat.NewCiphertext(b.Params, 1, b.Params.MaxLevel())
	return s
}

// Evaluate runs the model on one encrypted sample and returns the encrypted
// outputs and the operations it performed.
func (s *Server) Evaluate(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, OpCounts, error) {
	s.ops = OpCounts{}
	b := s.b
	h, err := s.dense(ct, b.lt1, b.fold1, b.b1)
	if err != nil {
		return nil, s.ops, fmt.Errorf("layer 1: %w", err)
	}
	switch b.Act {
	case Square:
		if err = s.eval.MulRelin(h, h, h); err == nil {
			err = s.eval.Rescale(h, h)
		}
	case ReLU7:
		h, err = s.poly.Evaluate(h, b.poly, b.Params.DefaultScale())
	}
	if err != nil {
		return nil, s.ops, fmt.Errorf("activation: %w", err)
	}
	y, err := s.dense(h, b.lt2, b.fold2, b.b2)
	if err != nil {
		return nil, s.ops, fmt.Errorf("layer 2: %w", err)
	}
	return y, s.ops, nil
}

// dense: BSGS linear transformation (Lattigo, double hoisting), rescale,
// rotate-and-add fold, bias.
func (s *Server) dense(ct *rlwe.Ciphertext, lt hefloat.LinearTransformation, fold []int, bias *rlwe.Plaintext) (*rlwe.Ciphertext, error) {
	if ct.Level() != lt.Level {
		return nil, fmt.Errorf("input at level %d, the layer is encoded at level %d", ct.Level(), lt.Level)
	}
	out := hefloat.NewCiphertext(s.b.Params, 1, lt.Level)
	if err := s.lte.Evaluate(ct, lt, out); err != nil {
		return nil, err
	}
	s.countLT(lt)
	if err := s.eval.Rescale(out, out); err != nil {
		return nil, err
	}
	tmp := s.tmp
	for _, k := range fold {
		tmp.Resize(1, out.Level())
		if err := s.eval.Rotate(out, k, tmp); err != nil {
			return nil, err
		}
		if err := s.eval.Add(out, tmp, out); err != nil {
			return nil, err
		}
	}
	return out, s.eval.Add(out, bias, out)
}

// countLT counts what Lattigo's MultiplyByDiagMatrixBSGS does: one
// plaintext product per diagonal, the nonzero baby steps as hoisted
// rotations, the nonzero giant steps as rotations.
func (s *Server) countLT(lt hefloat.LinearTransformation) {
	_, giants, babies := he.LinearTransformation(lt).BSGSIndex()
	for _, k := range babies {
		if k != 0 {
			s.ops.Rotations++
			s.ops.HoistedRotations++
			s.ops.KeySwitches++
		}
	}
	for _, k := range giants {
		if k != 0 {
			s.ops.Rotations++
			s.ops.KeySwitches++
		}
	}
	s.ops.CtPtMults += int64(len(lt.Vec))
}

// NoiseModel is the standard deviation, relative to the scale, of the
// errors that CKKS operations add (real part of one slot), for parameters
// p: derived from the ring degree N, the secret's Hamming weight h, the
// error sigma, and the moduli.
type NoiseModel struct {
	Fresh   float64 // encoding rounding + fresh secret-key encryption
	Rescale float64 // rounding of the division by q_l: (e0 + e1 s)
	Encode  float64 // rounding of a plaintext encoded at scale ~Δ (in value units)
	// KeySwitch(level): ModDown rounding + the gadget product's noise
	// sum_i digit_i * e_i / P, digits uniform in [0, q_i).
	KeySwitch func(level int) float64
}

// Noise returns the noise model of the baseline's parameters at the default scale.
func (b *Baseline) Noise() NoiseModel {
	p := b.Params
	n := float64(p.N())
	delta := p.DefaultScale().Float64()
	sigma := p.NoiseFreshSK()
	h := float64(p.XsHammingWeight())
	emb := math.Sqrt(n / 2) // coefficient std -> std of the real part of a slot
	round := math.Sqrt((1 + h) / 12)
	var pp big.Float
	pp.SetInt(p.RingP().Modulus())
	pf, _ := pp.Float64()
	q := p.Q()
	return NoiseModel{
		Fresh:   emb * math.Sqrt(sigma*sigma+1.0/12) / delta,
		Rescale: emb * round / delta,
		Encode:  emb * math.Sqrt(1.0/12) / delta,
		KeySwitch: func(level int) float64 {
			s := 0.0
			for i := 0; i <= level; i++ {
				s += float64(q[i]) * float64(q[i]) / 12
			}
			gadget := math.Sqrt(n*sigma*sigma*s) / pf
			return emb * math.Sqrt(round*round+gadget*gadget) / delta
		},
	}
}

// ErrorStd is the predicted standard deviation of the error of each
// decrypted output against m.Forward(x, act, false), for inputs in [0, 1]
// whose hidden pre-activations stay within ±zMax. It propagates the
// NoiseModel's per-operation errors, independent and zero-mean, through
// the evaluation as it runs:
//
//	layer 1: σ_z² = g²·Σ_k W1[r][k]²·(σ_fresh² + σ_ks(L)²)   inputs, baby-step rotations
//	              + 784·σ_enc²·g²                               diagonal encoding (|x| <= 1)
//	              + 32·σ_rs² + 31·σ_ks(L-1)² + σ_enc²           rescale of 32 summed slots, fold, bias
//	act:     x²: σ_a = 2·zMax·σ_z + σ_ks(L-1) + σ_rs;
//	         relu7: σ_a = max|p'|·σ_z + Σ_k |c_k|·k²·(σ_rs + σ_ks(L-1))
//	layer 2: σ_y² = Σ_r W2[o][r]²·(σ_a² + σ_ks(1)²) + 16·σ_enc² + 8·σ_rs² + 7·σ_ks(0)² + σ_enc²
//
// (g = 1/2 for relu7: t = z/2; errors are in t units until the activation.)
func (b *Baseline) ErrorStd(m *MLP, zMax float64) float64 {
	nm := b.Noise()
	top := b.Params.MaxLevel()
	g := 1.0
	if b.Act == ReLU7 {
		g = 1 / ReLUBound
	}
	ks := nm.KeySwitch
	w1 := 0.0
	for r := range m.W1 {
		s := 0.0
		for _, w := range m.W1[r] {
			s += w * w
		}
		w1 = math.Max(w1, s)
	}
	vz := g*g*w1*(nm.Fresh*nm.Fresh+ks(top)*ks(top)) + In*g*g*nm.Encode*nm.Encode +
		stride*nm.Rescale*nm.Rescale + (stride-1)*ks(top-1)*ks(top-1) + nm.Encode*nm.Encode
	sz := math.Sqrt(vz)
	var sa float64
	switch b.Act {
	case Square:
		sa = 2*zMax*sz + ks(top-1) + nm.Rescale
	case ReLU7:
		c := ReLU7Coeffs()
		own := 0.0
		for k, ck := range c {
			own += math.Abs(ck) * float64(k*k)
		}
		sa = maxSlope(c, math.Min(1, g*zMax)+4*sz)*sz + own*(nm.Rescale+ks(top-1))
	}
	w2 := 0.0
	for o := range m.W2 {
		s := 0.0
		for _, w := range m.W2[o] {
			s += w * w
		}
		w2 = math.Max(w2, s)
	}
	vy := w2*(sa*sa+ks(1)*ks(1)) + 16*nm.Encode*nm.Encode + 8*nm.Rescale*nm.Rescale +
		7*ks(0)*ks(0) + nm.Encode*nm.Encode
	return math.Sqrt(vy)
}

// maxSlope is max |p'(t)| for |t| <= a (sampled finely; p is smooth).
func maxSlope(c []float64, a float64) float64 {
	best := 0.0
	const n = 4000
	h := a / n
	for i := -n; i < n; i++ {
		t := float64(i) * h
		best = math.Max(best, math.Abs(ChebyshevEval(c, t+h)-ChebyshevEval(c, t))/h)
	}
	return best
}
