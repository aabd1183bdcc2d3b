package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/fhec/fhec/internal/onnxbuild"
)

// Network and training hyperparameters.
const (
	inputs  = 30
	hidden  = 16
	classes = 2
	epochs  = 300
	lr      = 0.01  // Adam step size
	beta1   = 0.9   // Adam first-moment decay
	beta2   = 0.999 // Adam second-moment decay
	adamEps = 1e-8
	l2      = 1e-4 // weight decay on the weights (not the biases)
)

// Names in the ONNX model.
const (
	inputName  = "patient_features"
	outputName = "diagnosis_logits"
	opset      = 13
)

// mlp is the 30 -> 16 (ReLU) -> 2 classifier. Its parameters live in one
// slice: w1 [hidden][inputs], b1 [hidden], w2 [classes][hidden], b2
// [classes], all row-major, which is the layout Gemm(transB=1) wants.
type mlp struct {
	p []float64
}

const (
	offW1 = 0
	offB1 = offW1 + hidden*inputs
	offW2 = offB1 + hidden
	offB2 = offW2 + classes*hidden
	nPar  = offB2 + classes
)

func (m *mlp) w1(h, i int) float64 { return m.p[offW1+h*inputs+i] }
func (m *mlp) w2(c, h int) float64 { return m.p[offW2+c*hidden+h] }

// newMLP draws Glorot-uniform weights from a PCG stream; biases start at 0.
func newMLP(seed uint64) *mlp {
	rng := rand.NewPCG(seed, 2)
	uniform := func(a float64) float64 {
		u := float64(rng.Uint64()>>11) * 0x1p-53
		return float64(a * float64(2*u-1))
	}
	m := &mlp{p: make([]float64, nPar)}
	a1 := sqrt(6.0 / (inputs + hidden))
	for k := offW1; k < offB1; k++ {
		m.p[k] = uniform(a1)
	}
	a2 := sqrt(6.0 / (hidden + classes))
	for k := offW2; k < offB2; k++ {
		m.p[k] = uniform(a2)
	}
	return m
}

// forward returns the hidden pre-activations and the logits of one row.
func (m *mlp) forward(x []float64) (z1 [hidden]float64, z2 [classes]float64) {
	for h := range hidden {
		acc := m.p[offB1+h]
		for i := range inputs {
			acc += float64(m.w1(h, i) * x[i])
		}
		z1[h] = acc
	}
	for c := range classes {
		acc := m.p[offB2+c]
		for h := range hidden {
			acc += float64(m.w2(c, h) * max(z1[h], 0))
		}
		z2[c] = acc
	}
	return z1, z2
}

// train runs full-batch Adam on the mean softmax cross-entropy plus
// l2/2 * |weights|^2.
func (m *mlp) train(x [][]float64, y []int) {
	n := float64(len(x))
	mom := make([]float64, nPar)
	vel := make([]float64, nPar)
	g := make([]float64, nPar)
	b1t, b2t := 1.0, 1.0 // beta1^t, beta2^t
	for range epochs {
		clear(g)
		for s, row := range x {
			z1, z2 := m.forward(row)
			// Softmax probabilities, shifted by the max for stability.
			zmax := max(z2[0], z2[1])
			var e [classes]float64
			sum := 0.0
			for c := range classes {
				e[c] = exp(z2[c] - zmax)
				sum += e[c]
			}
			var dz2 [classes]float64
			for c := range classes {
				dz2[c] = e[c] / sum
				if c == y[s] {
					dz2[c]--
				}
				dz2[c] /= n
			}
			for c := range classes {
				g[offB2+c] += dz2[c]
				for h := range hidden {
					g[offW2+c*hidden+h] += float64(dz2[c] * max(z1[h], 0))
				}
			}
			for h := range hidden {
				if z1[h] <= 0 {
					continue
				}
				d := 0.0
				for c := range classes {
					d += float64(dz2[c] * m.w2(c, h))
				}
				g[offB1+h] += d
				for i := range inputs {
					g[offW1+h*inputs+i] += float64(d * row[i])
				}
			}
		}
		b1t = float64(b1t * beta1)
		b2t = float64(b2t * beta2)
		for k := range m.p {
			gk := g[k]
			if k < offB1 || (k >= offW2 && k < offB2) {
				gk += float64(l2 * m.p[k])
			}
			mom[k] = float64(beta1*mom[k]) + float64((1-beta1)*gk)
			vel[k] = float64(beta2*vel[k]) + float64(float64((1-beta2)*gk)*gk)
			mHat := mom[k] / (1 - b1t)
			vHat := vel[k] / (1 - b2t)
			m.p[k] -= float64(lr*mHat) / (sqrt(vHat) + adamEps)
		}
	}
}

// float32Copy returns the network with its parameters rounded to float32,
// as the ONNX model stores them.
func (m *mlp) float32Copy() *mlp {
	q := &mlp{p: make([]float64, nPar)}
	for k, v := range m.p {
		q.p[k] = float64(float32(v))
	}
	return q
}

// predict returns the logits and the argmax for a row rounded to float32
// (as samples.npy and calibration.npy store it).
func (m *mlp) predict(row []float64) ([classes]float64, int) {
	x := make([]float64, len(row))
	for i, v := range row {
		x[i] = float64(float32(v))
	}
	_, z := m.forward(x)
	best := 0
	for c := 1; c < classes; c++ {
		if z[c] > z[best] {
			best = c
		}
	}
	return z, best
}

func (m *mlp) accuracy(x [][]float64, y []int) accuracy {
	a := accuracy{total: len(x)}
	for s, row := range x {
		if _, c := m.predict(row); c == y[s] {
			a.correct++
		}
	}
	return a
}

func float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// onnx writes the model: Gemm(transB=1) -> Relu -> Gemm(transB=1), opset 13,
// float32 weights, symbolic batch dimension.
func (m *mlp) onnx(trainAcc, testAcc accuracy, nTrain, nTest int) ([]byte, error) {
	b := onnxbuild.New("breast_cancer_mlp", opset)
	b.SetDocString(fmt.Sprintf(
		"Breast cancer diagnosis classifier: %d -> %d (ReLU) -> %d logits (class 0 = malignant, 1 = benign). "+
			"Trained by fhec's internal/gen (go generate) on the Wisconsin Diagnostic Breast Cancer data set "+
			"(UCI Machine Learning Repository; W.H. Wolberg, W.N. Street, O.L. Mangasarian), as shipped with scikit-learn 1.2.1 (BSD-3-Clause). "+
			"Inputs are the 30 features standardized with the training split's mean and standard deviation. "+
			"Stratified 80/20 split (%d train, %d test rows): test accuracy %s, train accuracy %s.",
		inputs, hidden, classes, nTrain, nTest, testAcc, trainAcc))
	b.SetMetadata("dataset", "Wisconsin Diagnostic Breast Cancer (UCI), via scikit-learn 1.2.1")
	b.SetMetadata("classes", "malignant,benign")
	b.SetMetadata("test_accuracy", testAcc.String())
	b.SetMetadata("train_accuracy", trainAcc.String())
	x := b.Input(inputName, []int64{-1, inputs})
	w1 := b.Initializer("fc1.weight", []int64{hidden, inputs}, float32s(m.p[offW1:offB1]))
	b1 := b.Initializer("fc1.bias", []int64{hidden}, float32s(m.p[offB1:offW2]))
	w2 := b.Initializer("fc2.weight", []int64{classes, hidden}, float32s(m.p[offW2:offB2]))
	b2 := b.Initializer("fc2.bias", []int64{classes}, float32s(m.p[offB2:]))
	h := b.Node("Gemm", []string{x, w1, b1}, map[string]any{"transB": int64(1)})
	h = b.Node("Relu", []string{h}, nil)
	y := b.NodeOutputs("Gemm", []string{h, w2, b2}, []string{outputName}, map[string]any{"transB": int64(1)})[0]
	b.Output(y, []int64{-1, classes})
	return b.Marshal()
}
