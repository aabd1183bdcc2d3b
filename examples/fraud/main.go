// Command fraud: encrypted fraud scoring of card transactions through the
// fhec server. A bank encrypts transaction features; the scoring service
// runs a small ReLU network on ciphertexts; the bank decrypts the scores.
//
//	go run ./examples/fraud
//
// Data: SYNTHETIC transactions drawn from a fixed generator (below), labels
// from a hidden noisy risk rule; no real card data.
package main

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	"math/rand/v2"
	"os"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/examples/internal/exutil"
	"github.com/fhec/fhec/examples/internal/train"
)

var features = []string{"log_amount", "night", "merchant_risk", "log_distance_km", "txns_24h", "foreign", "card_present", "account_years"}

// transaction draws one synthetic transaction and its label (1 = fraud).
func transaction(rng *rand.Rand) ([]float64, int) {
	logAmt := 3.5 + rng.NormFloat64()
	hour := 24 * rng.Float64()
	night := math.Cos(2 * math.Pi * hour / 24) // 1 at midnight
	risk := rng.Float64() * rng.Float64() * 1.5
	dist := math.Log1p(rng.ExpFloat64() * 20)
	txns := float64(rng.IntN(6))
	foreign := 0.0
	if rng.Float64() < 0.12 {
		foreign = 1
	}
	present := 0.0
	if rng.Float64() < 0.65 {
		present = 1
	}
	years := 10 * rng.Float64()
	z := -2.2 + 0.9*(logAmt-3.5) + 1.0*night + 2.2*risk + 0.5*(dist-2.5) + 0.35*(txns-2.5) +
		1.6*foreign - 1.8*present - 0.15*(years-5) + 0.5*rng.NormFloat64()
	y := 0
	if z > 0 {
		y = 1
	}
	return []float64{logAmt, night, risk, dist, txns, foreign, present, years}, y
}

func main() {
	rng := rand.New(rand.NewPCG(2024, 11))
	var raw [][]float64
	var labels []int
	for range 1200 {
		x, y := transaction(rng)
		raw = append(raw, x)
		labels = append(labels, y)
	}
	nTrain := 1000
	// Standardize with training statistics (the client does the same before encrypting).
	d := len(features)
	mean, std := make([]float64, d), make([]float64, d)
	for _, r := range raw[:nTrain] {
		for j, v := range r {
			mean[j] += v / float64(nTrain)
		}
	}
	for _, r := range raw[:nTrain] {
		for j, v := range r {
			std[j] += (v - mean[j]) * (v - mean[j]) / float64(nTrain)
		}
	}
	x := make([][]float64, len(raw))
	for i, r := range raw {
		x[i] = make([]float64, d)
		for j, v := range r {
			x[i][j] = (v - mean[j]) / math.Sqrt(std[j])
		}
	}
	m, err := train.Fit(x[:nTrain], labels[:nTrain], 2, train.Options{Hidden: 8, Epochs: 300, LR: 0.03, L2: 1e-4, Seed: 7, Name: "fraud_scorer"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	onnx, err := m.Marshal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	// Queries: 24 held-out transactions, fraudulent and not in turn.
	var byLabel [2][]int
	for i := nTrain; i < len(x); i++ {
		byLabel[labels[i]] = append(byLabel[labels[i]], i)
	}
	var rows []int
	for k := 0; len(rows) < 24 && k < len(byLabel[0]); k++ {
		rows = append(rows, byLabel[0][k])
		if k < len(byLabel[1]) {
			rows = append(rows, byLabel[1][k])
		}
	}
	q := fhec.Tensor{Shape: []int{len(rows), d}}
	for _, r := range rows {
		q.Data = append(q.Data, x[r]...)
	}
	cal := fhec.Tensor{Shape: []int{nTrain, d}}
	for _, r := range x[:nTrain] {
		cal.Data = append(cal.Data, r...)
	}
	names := []string{"ok", "FRAUD"}
	exutil.Main(exutil.App{
		Title: "fraud: encrypted transaction scoring",
		Model: fmt.Sprintf("8 features %v -> 8 (ReLU) -> 2 logits [ok, fraud], trained here (train accuracy %.1f%%, held-out %.1f%%)",
			features, 100*train.Accuracy(m, x[:nTrain], labels[:nTrain]), 100*train.Accuracy(m, x[nTrain:], labels[nTrain:])),
		Data: "SYNTHETIC card transactions (seeded generator in this file; labels from a hidden noisy rule), standardized",
		ONNX: onnx, Calibration: cal, Inputs: q,
		Reference: func(row []float64) []float64 { out, _ := m.Forward(row); return out },
		Decide:    func(out []float64) string { return names[vec.Argmax(out)] },
		Truth:     func(i int) string { return names[labels[rows[i]]] },
		Note: func(i int) string {
			out, _ := m.Forward(x[rows[i]])
			return fmt.Sprintf("plaintext p(fraud) %.2f", 1/(1+math.Exp(out[0]-out[1])))
		},
		Tol:  0.5,
		Show: 10,
	})
}
