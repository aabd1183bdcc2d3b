// Command sentiment: encrypted sentiment classification of short reviews
// through the fhec server: the client turns a review into a bag-of-words
// vector and encrypts it; the server runs a small ReLU network on the
// ciphertext; the client decrypts positive / negative.
//
//	go run ./examples/sentiment
//
// Data: SYNTHETIC reviews drawn from a fixed vocabulary by a seeded
// generator (below); no real reviews.
package main

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/examples/internal/exutil"
	"github.com/fhec/fhec/examples/internal/train"
)

var (
	positive = []string{"great", "excellent", "love", "wonderful", "amazing", "best", "enjoyed", "perfect"}
	negative = []string{"terrible", "awful", "boring", "worst", "hate", "waste", "poor", "disappointing"}
	neutral  = []string{"movie", "plot", "actor", "film", "story", "the", "scene", "ending"}
	vocab    = append(append(append([]string{}, positive...), negative...), neutral...)
	index    = map[string]int{}
	classes  = []string{"negative", "positive"}
)

// review draws a synthetic review with label 1 (positive) or 0.
func review(rng *rand.Rand) ([]string, int) {
	label := rng.IntN(2)
	same, other := negative, positive
	if label == 1 {
		same, other = positive, negative
	}
	n := 6 + rng.IntN(7)
	words := make([]string, n)
	for i := range words {
		switch u := rng.Float64(); {
		case u < 0.3:
			words[i] = same[rng.IntN(len(same))]
		case u < 0.4:
			words[i] = other[rng.IntN(len(other))]
		default:
			words[i] = neutral[rng.IntN(len(neutral))]
		}
	}
	return words, label
}

// bagOfWords: word counts over the vocabulary, divided by the review length.
func bagOfWords(words []string) []float64 {
	v := make([]float64, len(vocab))
	for _, w := range words {
		if i, ok := index[w]; ok {
			v[i] += 1 / float64(len(words))
		}
	}
	return v
}

func main() {
	for i, w := range vocab {
		index[w] = i
	}
	rng := rand.New(rand.NewPCG(99, 5))
	var texts [][]string
	var x [][]float64
	var y []int
	for range 1000 {
		w, l := review(rng)
		texts, x, y = append(texts, w), append(x, bagOfWords(w)), append(y, l)
	}
	nTrain := 800
	m, err := train.Fit(x[:nTrain], y[:nTrain], 2, train.Options{Hidden: 8, Epochs: 300, LR: 0.03, Seed: 3, Name: "sentiment_bow"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	onnx, err := m.Marshal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	const nq = 16
	q := fhec.Tensor{Shape: []int{nq, len(vocab)}}
	for _, r := range x[nTrain : nTrain+nq] {
		q.Data = append(q.Data, r...)
	}
	cal := fhec.Tensor{Shape: []int{nTrain, len(vocab)}}
	for _, r := range x[:nTrain] {
		cal.Data = append(cal.Data, r...)
	}
	exutil.Main(exutil.App{
		Title: "sentiment: encrypted bag-of-words review classification",
		Model: fmt.Sprintf("%d-word bag of words -> 8 (ReLU) -> 2 logits [negative, positive], trained here (train accuracy %.1f%%, held-out %.1f%%)",
			len(vocab), 100*train.Accuracy(m, x[:nTrain], y[:nTrain]), 100*train.Accuracy(m, x[nTrain:], y[nTrain:])),
		Data: "SYNTHETIC reviews (seeded generator in this file over a 24-word vocabulary)",
		ONNX: onnx, Calibration: cal, Inputs: q,
		Reference: func(row []float64) []float64 { out, _ := m.Forward(row); return out },
		Decide:    func(out []float64) string { return classes[vec.Argmax(out)] },
		Truth:     func(i int) string { return classes[y[nTrain+i]] },
		Note:      func(i int) string { return `"` + strings.Join(texts[nTrain+i], " ") + `"` },
		Tol:       0.5,
		Show:      10,
	})
}
