// Command activations trains small classifiers with smooth activations
// (sigmoid, tanh, GELU) on the Wine data set (UCI; via scikit-learn 1.2.1,
// BSD-3-Clause, in ../shared/testdata/datasets/sklearn), compiles each with
// fhec (the activation becomes a polynomial fitted on the calibrated range),
// and compares plaintext accuracy, simulated accuracy (CKKS noise model) and
// really encrypted predictions on the held-out rows.
//
//	go run ./examples/activations [-csv path/to/wine_data.csv]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/examples/internal/train"
	"github.com/fhec/fhec/sim"
)

func main() {
	csv := flag.String("csv", "../shared/testdata/datasets/sklearn/wine_data.csv", "wine data (scikit-learn's wine_data.csv)")
	flag.Parse()
	results, err := Run(os.Stdout, *csv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "activations:", err)
		os.Exit(1)
	}
	for _, r := range results {
		if !r.OK() {
			os.Exit(1)
		}
	}
}

// Result is one activation's figures.
type Result struct {
	Act                      string
	Plain, Simulated, Agreed float64 // accuracies on the test rows; Agreed: encrypted argmax = plaintext argmax
	Degree                   int
	MaxErr                   float64 // max |encrypted - plaintext| logit
}

// OK is the acceptance: simulated accuracy within 0.5 points of plaintext,
// every encrypted prediction equal to the plaintext one.
func (r Result) OK() bool { return math.Abs(r.Simulated-r.Plain) <= 0.005 && r.Agreed == 1 }

// Run trains, compiles and evaluates the three models.
func Run(w io.Writer, csvPath string) ([]Result, error) {
	xTr, yTr, xTe, yTe, err := loadWine(csvPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "wine: %d training rows, %d test rows, 13 features, 3 classes\n", len(xTr), len(xTe))
	var out []Result
	for i, act := range []string{"sigmoid", "tanh", "gelu"} {
		m, err := train.Fit(xTr, yTr, 3, train.Options{Hidden: 16, Act: act, Epochs: 300, LR: 0.01, L2: 1e-4, Seed: uint64(7 + i), Name: "wine_" + act})
		if err != nil {
			return nil, err
		}
		model, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		calib := fhec.Tensor{Shape: []int{len(xTr), 13}}
		for _, r := range xTr {
			calib.Data = append(calib.Data, r...)
		}
		c, err := fhec.Compile(model, fhec.CompileOptions{Calibration: &calib})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", act, err)
		}
		res := Result{Act: act, Plain: train.Accuracy(m, xTe, yTe)}
		for _, a := range c.Activations {
			res.Degree = max(res.Degree, a.Degree)
		}
		// simulated, with the CKKS noise model
		s, err := sim.New(c.Plan, sim.Options{Noise: true, Seed: 1})
		if err != nil {
			return nil, err
		}
		var samples [][][]float64
		for _, r := range xTe {
			samples = append(samples, [][]float64{r})
		}
		run, err := s.Simulate(samples)
		if err != nil {
			return nil, err
		}
		correct := 0
		for k, y := range yTe {
			if vec.Argmax(run.Noisy[0][k]) == y {
				correct++
			}
		}
		res.Simulated = float64(correct) / float64(len(yTe))
		// really encrypted
		rt, err := fhec.NewRuntime(c.Plan)
		if err != nil {
			return nil, err
		}
		sk, evk, err := rt.KeyGen()
		if err != nil {
			return nil, err
		}
		x := fhec.Tensor{Shape: []int{len(xTe), 13}}
		for _, r := range xTe {
			x.Data = append(x.Data, r...)
		}
		ct, err := rt.EncryptTensor(sk, x)
		if err != nil {
			return nil, err
		}
		yct, _, err := rt.Evaluate(evk, ct, fhec.EvalOptions{})
		if err != nil {
			return nil, err
		}
		y, err := rt.DecryptTensor(sk, yct)
		if err != nil {
			return nil, err
		}
		agree := 0
		for k, r := range xTe {
			want, err := m.Forward(r)
			if err != nil {
				return nil, err
			}
			got := y.Data[3*k : 3*k+3]
			if vec.Argmax(got) == vec.Argmax(want) {
				agree++
			}
			for j := range want {
				res.MaxErr = math.Max(res.MaxErr, math.Abs(got[j]-want[j]))
			}
		}
		res.Agreed = float64(agree) / float64(len(xTe))
		fmt.Fprintf(w, "%-8s degree %2d: plaintext %.1f%%, simulated %.1f%%, encrypted = plaintext on %d/%d rows, max |logit err| %.2e (logN %d)\n",
			act, res.Degree, 100*res.Plain, 100*res.Simulated, agree, len(xTe), res.MaxErr, c.Params.LogN)
		out = append(out, res)
	}
	return out, nil
}

// loadWine reads scikit-learn's wine_data.csv (first line: rows, features,
// class names), splits every fifth row into the test set, and standardizes
// with the training rows' mean and standard deviation.
func loadWine(path string) (xTr [][]float64, yTr []int, xTe [][]float64, yTe []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	i := 0
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(parts) != 14 {
			continue
		}
		row := make([]float64, 13)
		for j := range row {
			if row[j], err = strconv.ParseFloat(parts[j], 64); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		label, err := strconv.Atoi(parts[13])
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if i%5 == 4 {
			xTe, yTe = append(xTe, row), append(yTe, label)
		} else {
			xTr, yTr = append(xTr, row), append(yTr, label)
		}
		i++
	}
	if len(xTr) == 0 || len(xTe) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("%s: no rows", path)
	}
	mean, sd := make([]float64, 13), make([]float64, 13)
	for _, r := range xTr {
		for j, v := range r {
			mean[j] += v / float64(len(xTr))
		}
	}
	for _, r := range xTr {
		for j, v := range r {
			sd[j] += (v - mean[j]) * (v - mean[j]) / float64(len(xTr))
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j])
	}
	for _, set := range [][][]float64{xTr, xTe} {
		for _, r := range set {
			for j := range r {
				r[j] = (r[j] - mean[j]) / sd[j]
			}
		}
	}
	return xTr, yTr, xTe, yTe, nil
}
