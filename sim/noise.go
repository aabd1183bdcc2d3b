package sim

import (
	"math"
	"math/rand/v2"

	"github.com/fhec/fhec/plan/planpb"
)

// NoiseConstants are the empirical factors of the noise model, calibrated
// against Lattigo v5 (TestNoiseModelMatchesLattigo).
type NoiseConstants struct {
	// KeySwitch: key-switching (rotation, relinearization) error as a
	// multiple of the rounding error of a rescale at the same scale (the
	// ModDown rounding dominates when the special modulus P is large).
	KeySwitch float64
	// Poly: the error a polynomial evaluation adds (beyond propagating its
	// input's error through the polynomial) as a multiple of the rounding
	// error at its output scale times sqrt(1 + sum_k |c_k|) (fitted on
	// relu and tanh interpolants of degree 7 to 31).
	Poly float64
	// Bootstrap: the error (standard deviation, slot units) one BOOTSTRAP
	// adds. Not calibrated against Lattigo yet: Lattigo v5's documented
	// precision for its default circuits is about 2^-20 to 2^-25 of the
	// [-1, 1] input range; 1e-5 is a conservative placeholder.
	Bootstrap float64
}

// DefaultNoise holds the constants calibrated against Lattigo v5.0.7.
var DefaultNoise = NoiseConstants{KeySwitch: 0.85, Poly: 1.1, Bootstrap: 1e-5}

// NoiseModel is the per-slot CKKS error of each operation, in message units
// (the error a decryption would show, divided by the scale). It follows the
// canonical-embedding heuristic: a ring element whose N coefficients have
// independent errors of variance v shows, in the real part of each slot, an
// error of variance N v / 2. With h the secret's Hamming weight and sigma
// the RLWE error's standard deviation:
//
//	encoding (rounding to integers)       v = 1/12            std = sqrt(N/24) / scale
//	fresh encryption (secret key)         v = sigma^2 + 1/12  std = sqrt(N (sigma^2 + 1/12) / 2) / scale
//	rescale (rounding c0 + c1 s)          v = (1 + h)/12      std = sqrt(N (1 + h) / 24) / scale'
//	rescale of a degree-2 ciphertext      v = (1 + h + 2h^2)/12 (rounding c2 s^2 too: |s(z)|^4
//	  (before relinearization)              has mean 2h^2 at a slot z)  std = sqrt(N (1 + h + 2h^2) / 24) / scale'
//	key switch (ModDown rounding)         KeySwitch x the rescale error at that scale
//	plaintext multiply by pt at scale Dp  x * (encoding error of pt) = x * sqrt(N/24) / Dp
//	polynomial evaluation                 Poly x rescale error at the output scale x sqrt(1 + sum |c_k|)
//	DOT (integer weights w_k)             none of its own: sum_k |w_k| x the operands' noise, which
//	                                      the simulated operands carry (the rounding of the weights
//	                                      round(c W)/W - c is applied as a value error)
//
// Each term is drawn independently per slot from a normal distribution.
type NoiseModel struct {
	N, H, Sigma float64
	C           NoiseConstants
}

func newNoiseModel(p *planpb.Params, c NoiseConstants) *NoiseModel {
	n := math.Exp2(float64(p.LogN))
	h := float64(p.HammingWeight)
	if h == 0 {
		h = 2 * n / 3 // uniform ternary
	}
	sigma := p.ErrorStd
	if sigma == 0 {
		sigma = 3.2
	}
	return &NoiseModel{N: n, H: h, Sigma: sigma, C: c}
}

// FreshStd, EncodeStd, RescaleStd are the per-slot standard deviations at a scale.
func (m *NoiseModel) FreshStd(scale float64) float64 {
	return math.Sqrt(m.N*(m.Sigma*m.Sigma+1.0/12)/2) / scale
}
func (m *NoiseModel) EncodeStd(scale float64) float64  { return math.Sqrt(m.N/24) / scale }
func (m *NoiseModel) RescaleStd(scale float64) float64 { return math.Sqrt(m.N*(1+m.H)/24) / scale }

func addNormal(rng *rand.Rand, v []float64, std float64) {
	if std == 0 {
		return
	}
	for i := range v {
		v[i] += std * rng.NormFloat64()
	}
}

func (m *NoiseModel) fresh(rng *rand.Rand, v []float64, scale float64) {
	addNormal(rng, v, m.FreshStd(scale))
}
func (m *NoiseModel) encode(rng *rand.Rand, v []float64, scale float64) {
	addNormal(rng, v, m.EncodeStd(scale))
}
func (m *NoiseModel) rescale(rng *rand.Rand, v []float64, scale float64) {
	addNormal(rng, v, m.RescaleStd(scale))
}
func (m *NoiseModel) rescale2(rng *rand.Rand, v []float64, scale float64) {
	addNormal(rng, v, m.Rescale2Std(scale))
}

// Rescale2Std is the rescale error of a degree-2 (not yet relinearized)
// ciphertext: the rounding of c2 is multiplied by s^2.
func (m *NoiseModel) Rescale2Std(scale float64) float64 {
	return math.Sqrt(m.N*(1+m.H+2*m.H*m.H)/24) / scale
}

func (m *NoiseModel) keySwitch(rng *rand.Rand, v []float64, scale float64) {
	addNormal(rng, v, m.C.KeySwitch*m.RescaleStd(scale))
}

// plainMul adds x * e, e the encoding error of a plaintext at scale ptScale.
func (m *NoiseModel) plainMul(rng *rand.Rand, v, x []float64, ptScale float64) {
	std := m.EncodeStd(ptScale)
	for i := range v {
		v[i] += x[i] * std * rng.NormFloat64()
	}
}

func (m *NoiseModel) poly(rng *rand.Rand, v []float64, coeffs []float64, scale float64) {
	addNormal(rng, v, m.PolyStd(coeffs, scale))
}

// PolyStd is the error a polynomial evaluation adds at its output scale.
func (m *NoiseModel) PolyStd(coeffs []float64, scale float64) float64 {
	s := 0.0
	for _, c := range coeffs {
		s += math.Abs(c)
	}
	return m.C.Poly * m.RescaleStd(scale) * math.Sqrt(1+s)
}
