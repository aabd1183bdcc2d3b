package baseline

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"

	"github.com/tuneinsight/lattigo/v5/utils/bignum"

	"github.com/fhec/fhec/internal/onnxbuild"
)

// Model dimensions: 784 -> 128 -> 10.
const (
	In     = 784
	Hidden = 128
	Out    = 10
)

// Activation selects the hidden-layer activation.
type Activation string

const (
	// Square is x -> x².
	Square Activation = "x2"
	// ReLU7 is ReLU replaced by its degree-7 Chebyshev interpolant on
	// [ReLURange.Lo, ReLURange.Hi] (see ReLU7Coeffs).
	ReLU7 Activation = "relu7"
)

// ReLU interval: the degree-7 ReLU polynomial is fitted on [-ReLUBound, ReLUBound].
const ReLUBound = 2.0

// ReLUDegree is the degree of the ReLU polynomial.
const ReLUDegree = 7

// MLP is a dense 784 -> 128 -> 10 network: y = W2 act(W1 x + B1) + B2.
type MLP struct {
	W1 [Hidden][In]float64
	B1 [Hidden]float64
	W2 [Out][Hidden]float64
	B2 [Out]float64
}

// HiddenGain multiplies the first layer of the seeded random model
// (onnxbuild.NewRandomMLP draws every layer from ±1/sqrt(fan_in)): with
// inputs in [0, 1] the unscaled hidden pre-activations have a standard
// deviation of about 0.3; doubled, they spread over the ReLU interval
// [-2, 2] (about 99% of them inside it for TestInputs). A power of two keeps
// the float32 weights exact.
const HiddenGain = 2

// TestModelSeed is the seed of the benchmark model.
const TestModelSeed = 784128

// NewTestModel returns the deterministic test model for act: the MLP (float64
// copies of the float32 weights, so both sides use the same numbers) and
// its ONNX encoding (Gemm transB=1 -> Relu or Mul(x, x) -> Gemm, written by
// internal/onnxbuild) for fhec to compile.
func NewTestModel(seed uint64, act Activation) (*MLP, []byte, error) {
	onnxAct := "relu"
	if act == Square {
		onnxAct = "square"
	} else if act != ReLU7 {
		return nil, nil, fmt.Errorf("baseline: unknown activation %q", act)
	}
	m, err := onnxbuild.NewRandomMLP(seed, []int{In, Hidden, Out}, onnxAct,
		onnxbuild.WithName("mlp784_"+string(act)))
	if err != nil {
		return nil, nil, err
	}
	for i := range m.Weights[0] {
		m.Weights[0][i] *= HiddenGain
	}
	for i := range m.Biases[0] {
		m.Biases[0][i] *= HiddenGain
	}
	onnx, err := m.Marshal()
	if err != nil {
		return nil, nil, err
	}
	var out MLP
	for r := 0; r < Hidden; r++ {
		for c := 0; c < In; c++ {
			out.W1[r][c] = float64(m.Weights[0][r*In+c])
		}
		out.B1[r] = float64(m.Biases[0][r])
	}
	for o := 0; o < Out; o++ {
		for r := 0; r < Hidden; r++ {
			out.W2[o][r] = float64(m.Weights[1][o*Hidden+r])
		}
		out.B2[o] = float64(m.Biases[1][o])
	}
	return &out, onnx, nil
}

// ReLU7Coeffs returns the Chebyshev coefficients c_0..c_7 of the degree-7
// interpolant of ReLU at the 8 Chebyshev nodes of [-2, 2] (Lattigo's
// bignum.ChebyshevApproximation), in the variable t = x/2 on [-1, 1]:
// relu7(x) = sum_k c_k T_k(x/2). ReLU = (x + |x|)/2 and the nodes are
// symmetric, so c_1 = 1 and the odd coefficients above 1 vanish (up to
// rounding): the interpolant is effectively of degree 6, still 3 levels deep.
func ReLU7Coeffs() []float64 {
	const prec = 128
	relu := func(x *big.Float) *big.Float {
		if x.Sign() < 0 {
			return new(big.Float).SetPrec(x.Prec())
		}
		return new(big.Float).Set(x)
	}
	p := bignum.ChebyshevApproximation(relu, bignum.Interval{
		Nodes: ReLUDegree,
		A:     *bignum.NewFloat(-ReLUBound, prec),
		B:     *bignum.NewFloat(ReLUBound, prec),
	})
	out := make([]float64, len(p.Coeffs))
	for i, c := range p.Coeffs {
		out[i], _ = c[0].Float64()
	}
	return out
}

// ChebyshevEval evaluates sum_k c[k] T_k(t) (Clenshaw).
func ChebyshevEval(c []float64, t float64) float64 {
	var b1, b2 float64
	for k := len(c) - 1; k >= 1; k-- {
		b1, b2 = 2*t*b1-b2+c[k], b1
	}
	return t*b1 - b2 + c[0]
}

// Hidden returns the hidden pre-activations W1 x + B1.
func (m *MLP) Hidden(x []float64) [Hidden]float64 {
	var z [Hidden]float64
	for r := range z {
		s := m.B1[r]
		for c, v := range x {
			s += m.W1[r][c] * v
		}
		z[r] = s
	}
	return z
}

// Forward evaluates the model in float64 with the activation the encrypted
// evaluation computes: x² for Square, the degree-7 polynomial (relu7, not
// the exact ReLU) for ReLU7. exactReLU swaps in max(x, 0) for ReLU7.
func (m *MLP) Forward(x []float64, act Activation, exactReLU bool) [Out]float64 {
	z := m.Hidden(x)
	coeffs := ReLU7Coeffs()
	for r, v := range z {
		switch {
		case act == Square:
			z[r] = v * v
		case exactReLU:
			z[r] = math.Max(v, 0)
		default:
			z[r] = ChebyshevEval(coeffs, v/ReLUBound)
		}
	}
	var y [Out]float64
	for o := range y {
		s := m.B2[o]
		for r, v := range z {
			s += m.W2[o][r] * v
		}
		y[o] = s
	}
	return y
}

// TestInputs returns n deterministic 28x28 "pen stroke" images in [0, 1],
// flattened row-major: each has 2 to 4 random strokes of width about 3
// pixels, like handwritten digits (about 15% of the pixels lit).
func TestInputs(seed uint64, n int) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([][]float64, n)
	for s := range out {
		img := make([]float64, In)
		strokes := 2 + rng.IntN(3)
		for range strokes {
			x0, y0 := 4+rng.Float64()*20, 4+rng.Float64()*20
			x1, y1 := 4+rng.Float64()*20, 4+rng.Float64()*20
			for py := 0; py < 28; py++ {
				for px := 0; px < 28; px++ {
					d := segDist(float64(px), float64(py), x0, y0, x1, y1)
					v := math.Max(0, 1-(d/1.6)*(d/1.6))
					img[py*28+px] = math.Max(img[py*28+px], v)
				}
			}
		}
		out[s] = img
	}
	return out
}

func segDist(px, py, x0, y0, x1, y1 float64) float64 {
	dx, dy := x1-x0, y1-y0
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((px-x0)*dx+(py-y0)*dy)/l))
	}
	return math.Hypot(px-x0-t*dx, py-y0-t*dy)
}
