// Command face-match: an encrypted face embedding scored against enrolled
// templates through the fhec server. The client encrypts a probe embedding;
// the server, which holds the enrolled templates as the model's weights,
// computes every cosine similarity on the ciphertext; only the client
// learns the scores and decides match / no match.
//
//	go run ./examples/face-match
//
// Data: SYNTHETIC 32-dimensional unit embeddings (seeded generator below):
// 16 enrolled identities; genuine probes are an identity's template plus
// noise, impostor probes are fresh random identities. No real faces.
package main

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	"math/rand/v2"
	"os"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/examples/internal/exutil"
	"github.com/fhec/fhec/internal/onnxbuild"
)

const (
	dim       = 32
	enrolled  = 16
	threshold = 0.6 // cosine similarity for a match
)

func unit(v []float64) []float64 {
	n := 0.0
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] /= n
	}
	return v
}

func randomUnit(rng *rand.Rand) []float64 {
	v := make([]float64, dim)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return unit(v)
}

func main() {
	rng := rand.New(rand.NewPCG(7, 1))
	templates := make([][]float64, enrolled)
	for i := range templates {
		templates[i] = randomUnit(rng)
	}
	// The model: one Gemm whose weight rows are the enrolled templates.
	m := &onnxbuild.MLP{Name: "face_templates", Opset: 13, Sizes: []int{dim, enrolled}, Act: "relu",
		InputDims: []int64{dim}, Batch: -1, Biases: [][]float32{make([]float32, enrolled)}}
	w := make([]float32, 0, enrolled*dim)
	for _, t := range templates {
		for _, x := range t {
			w = append(w, float32(x))
		}
	}
	m.Weights = [][]float32{w}
	onnx, err := m.Marshal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	// Probes: 8 genuine (template + noise), 4 impostors, interleaved.
	var probes [][]float64
	var truth []string
	for k := range 12 {
		if k%3 == 2 {
			probes = append(probes, randomUnit(rng))
			truth = append(truth, "no match")
			continue
		}
		id := rng.IntN(enrolled)
		p := make([]float64, dim)
		for i := range p {
			p[i] = templates[id][i] + 0.12*rng.NormFloat64()
		}
		probes = append(probes, unit(p))
		truth = append(truth, fmt.Sprintf("id %02d", id))
	}
	q := fhec.Tensor{Shape: []int{len(probes), dim}}
	for _, p := range probes {
		q.Data = append(q.Data, p...)
	}
	cal := fhec.Tensor{Shape: []int{64, dim}}
	for range 64 {
		cal.Data = append(cal.Data, randomUnit(rng)...)
	}
	exutil.Main(exutil.App{
		Title: "face-match: encrypted embedding vs enrolled templates",
		Model: fmt.Sprintf("%d-d embedding -> %d cosine similarities (one Gemm; weight rows = enrolled unit templates); match if best >= %.2f", dim, enrolled, threshold),
		Data:  "SYNTHETIC unit embeddings (seeded): genuine probes = template + noise, impostors = random identities",
		ONNX:  onnx, Calibration: cal, Inputs: q,
		Reference: func(row []float64) []float64 { out, _ := m.Forward(row); return out },
		Decide: func(out []float64) string {
			b := vec.Argmax(out)
			if out[b] < threshold {
				return "no match"
			}
			return fmt.Sprintf("id %02d", b)
		},
		Truth: func(i int) string { return truth[i] },
		Note: func(i int) string {
			out, _ := m.Forward(probes[i])
			return fmt.Sprintf("best plaintext score %.3f", out[vec.Argmax(out)])
		},
		Tol:  0.01,
		Show: 12,
	})
}
