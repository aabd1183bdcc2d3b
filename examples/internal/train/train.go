// Package train fits small classifiers for the examples, deterministically:
// a softmax classifier with at most one ReLU hidden layer, full-batch Adam
// on cross-entropy, weights drawn from a seeded PCG generator. The result
// is an onnxbuild.MLP (its ONNX bytes and float64 reference come with it).
package train

import (
	"github.com/fhec/fhec/internal/vec"
	"math"

	"github.com/fhec/fhec/internal/onnxbuild"
)

// Options of Fit.
type Options struct {
	Hidden int    // hidden units; 0: a linear (logistic) classifier
	Act    string // hidden activation: relu (default), sigmoid, tanh, gelu
	Epochs int
	LR     float64
	L2     float64
	Seed   uint64
	Name   string
}

// Fit trains on rows x (each of the same length) with labels y in
// [0, classes) and returns the MLP with float32 weights.
func Fit(x [][]float64, y []int, classes int, o Options) (*onnxbuild.MLP, error) {
	d := len(x[0])
	sizes := []int{d, classes}
	if o.Hidden > 0 {
		sizes = []int{d, o.Hidden, classes}
	}
	act := o.Act
	if act == "" {
		act = "relu"
	}
	var mlpOpts []onnxbuild.MLPOption
	mlpOpts = append(mlpOpts, onnxbuild.WithName(o.Name))
	if act == "gelu" {
		mlpOpts = append(mlpOpts, onnxbuild.WithOpset(20)) // Gelu is an ONNX op from opset 20
	}
	init, err := onnxbuild.NewRandomMLP(o.Seed, sizes, act, mlpOpts...)
	if err != nil {
		return nil, err
	}
	// float64 parameters: per layer W [out*in], b [out].
	L := len(sizes) - 1
	W, B := make([][]float64, L), make([][]float64, L)
	for l := range L {
		for _, v := range init.Weights[l] {
			W[l] = append(W[l], float64(v))
		}
		B[l] = make([]float64, sizes[l+1])
	}
	type moments struct{ m, v []float64 }
	mw, mb := make([]moments, L), make([]moments, L)
	for l := range L {
		mw[l] = moments{make([]float64, len(W[l])), make([]float64, len(W[l]))}
		mb[l] = moments{make([]float64, len(B[l])), make([]float64, len(B[l]))}
	}
	n := float64(len(x))
	for ep := 1; ep <= o.Epochs; ep++ {
		gW, gB := make([][]float64, L), make([][]float64, L)
		for l := range L {
			gW[l], gB[l] = make([]float64, len(W[l])), make([]float64, len(B[l]))
		}
		for s, row := range x {
			acts := [][]float64{row}
			var pre [][]float64 // pre-activations of hidden layers
			h := row
			for l := range L {
				out := make([]float64, sizes[l+1])
				for o2 := range out {
					a := B[l][o2]
					for i, v := range h {
						a += W[l][o2*sizes[l]+i] * v
					}
					out[o2] = a
				}
				if l+1 < L {
					pre = append(pre, append([]float64(nil), out...))
					for k := range out {
						out[k] = onnxbuild.Activate(act, out[k])
					}
				}
				acts = append(acts, out)
				h = out
			}
			// softmax gradient
			mx := h[0]
			for _, v := range h {
				mx = math.Max(mx, v)
			}
			sum := 0.0
			delta := make([]float64, len(h))
			for k, v := range h {
				delta[k] = math.Exp(v - mx)
				sum += delta[k]
			}
			for k := range delta {
				delta[k] /= sum
			}
			delta[y[s]]--
			for l := L - 1; l >= 0; l-- {
				in := acts[l]
				var prev []float64
				if l > 0 {
					prev = make([]float64, len(in))
				}
				for o2, dv := range delta {
					gB[l][o2] += dv
					for i, v := range in {
						gW[l][o2*sizes[l]+i] += dv * v
						if prev != nil {
							prev[i] += dv * W[l][o2*sizes[l]+i]
						}
					}
				}
				if prev != nil {
					for i := range prev {
						prev[i] *= onnxbuild.ActivateGrad(act, pre[l-1][i])
					}
				}
				delta = prev
			}
		}
		step := func(p, g []float64, m *moments, decay float64) {
			const b1, b2 = 0.9, 0.999
			for i := range p {
				gi := g[i]/n + decay*p[i]
				m.m[i] = b1*m.m[i] + (1-b1)*gi
				m.v[i] = b2*m.v[i] + (1-b2)*gi*gi
				mh := m.m[i] / (1 - math.Pow(b1, float64(ep)))
				vh := m.v[i] / (1 - math.Pow(b2, float64(ep)))
				p[i] -= o.LR * mh / (math.Sqrt(vh) + 1e-8)
			}
		}
		for l := range L {
			step(W[l], gW[l], &mw[l], o.L2)
			step(B[l], gB[l], &mb[l], 0)
		}
	}
	m := init
	for l := range L {
		for i, v := range W[l] {
			m.Weights[l][i] = float32(v)
		}
		for i, v := range B[l] {
			m.Biases[l][i] = float32(v)
		}
	}
	return m, nil
}

// Accuracy is the fraction of rows whose argmax of m.Forward is the label.
func Accuracy(m *onnxbuild.MLP, x [][]float64, y []int) float64 {
	ok := 0
	for i, row := range x {
		out, err := m.Forward(row)
		if err == nil && vec.Argmax(out) == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(x))
}
