package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fhec/fhec/internal/tensorio"
)

const (
	// splitSeed and initSeed fix the train/test split and the initial
	// weights. Changing them changes every generated file.
	splitSeed = 20240229
	initSeed  = 1995 // the data set's year
	// testPercent of each class is held out.
	testPercent = 20
	// samplesPerClass held-out rows of each class go to samples.npy.
	samplesPerClass = 4
)

// dataset is the parsed CSV: rows of features and integer labels.
type dataset struct {
	x       [][]float64
	y       []int
	classes []string
}

// loadCSV reads scikit-learn's breast_cancer.csv: a first line
// "569,30,malignant,benign" (rows, features, class names), then one row per
// sample of the features and the label.
func loadCSV(path string) (*dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	head := strings.Split(strings.TrimSpace(sc.Text()), ",")
	if len(head) < 3 {
		return nil, fmt.Errorf("%s: bad first line %q", path, sc.Text())
	}
	rows, err1 := strconv.Atoi(head[0])
	cols, err2 := strconv.Atoi(head[1])
	if err1 != nil || err2 != nil || rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("%s: bad first line %q", path, sc.Text())
	}
	ds := &dataset{classes: head[2:]}
	for line := 2; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != cols+1 {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fields), cols+1)
		}
		row := make([]float64, cols)
		for i := range row {
			if row[i], err = strconv.ParseFloat(fields[i], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
		}
		label, err := strconv.Atoi(fields[cols])
		if err != nil || label < 0 || label >= len(ds.classes) {
			return nil, fmt.Errorf("%s:%d: bad label %q", path, line, fields[cols])
		}
		ds.x = append(ds.x, row)
		ds.y = append(ds.y, label)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ds.x) != rows {
		return nil, fmt.Errorf("%s: %d rows, first line says %d", path, len(ds.x), rows)
	}
	if len(ds.classes) != 2 {
		return nil, fmt.Errorf("%s: %d classes, want 2", path, len(ds.classes))
	}
	return ds, nil
}

// split returns stratified train and test row indices, each in CSV order:
// each class's rows are shuffled with a fixed seed and the first
// testPercent (rounded) of them are held out.
func split(ds *dataset) (train, test []int) {
	rng := rand.NewPCG(splitSeed, 1)
	for c := range ds.classes {
		var idx []int
		for i, y := range ds.y {
			if y == c {
				idx = append(idx, i)
			}
		}
		// Fisher-Yates on the raw PCG stream (not rand.Rand's helpers,
		// whose algorithms are not promised to stay the same).
		for i := len(idx) - 1; i > 0; i-- {
			j := int(rng.Uint64() % uint64(i+1))
			idx[i], idx[j] = idx[j], idx[i]
		}
		nTest := (len(idx)*testPercent*2 + 100) / 200
		test = append(test, idx[:nTest]...)
		train = append(train, idx[nTest:]...)
	}
	slices.Sort(train)
	slices.Sort(test)
	return train, test
}

// standardizer returns the per-feature mean and population standard
// deviation of the training rows (as scikit-learn's StandardScaler).
func standardizer(ds *dataset, train []int) (mean, std []float64) {
	cols := len(ds.x[0])
	mean = make([]float64, cols)
	std = make([]float64, cols)
	n := float64(len(train))
	for c := range cols {
		s := 0.0
		for _, i := range train {
			s += ds.x[i][c]
		}
		mean[c] = s / n
		v := 0.0
		for _, i := range train {
			d := ds.x[i][c] - mean[c]
			v += float64(d * d)
		}
		std[c] = sqrt(v / n)
		if std[c] == 0 {
			std[c] = 1
		}
	}
	return mean, std
}

// standardize returns (x - mean) / std for the given rows.
func standardize(ds *dataset, rows []int, mean, std []float64) [][]float64 {
	out := make([][]float64, len(rows))
	for k, i := range rows {
		out[k] = make([]float64, len(mean))
		for c := range mean {
			out[k][c] = (ds.x[i][c] - mean[c]) / std[c]
		}
	}
	return out
}

func labels(ds *dataset, rows []int) []int {
	out := make([]int, len(rows))
	for k, i := range rows {
		out[k] = ds.y[i]
	}
	return out
}

// pickSamples returns the CSV indices of the first samplesPerClass test rows
// of each class that the model classifies correctly (the demo tells a
// diagnosis story; a row the plaintext model gets wrong by a hair would make
// the encrypted-vs-plaintext comparison hinge on approximation noise),
// interleaved (class 0, class 1, class 0, ...).
func pickSamples(test []int, ds *dataset, correct func(csvRow int) bool) []int {
	byClass := make([][]int, len(ds.classes))
	for _, i := range test {
		c := ds.y[i]
		if len(byClass[c]) < samplesPerClass && correct(i) {
			byClass[c] = append(byClass[c], i)
		}
	}
	var out []int
	for k := range samplesPerClass {
		for c := range byClass {
			if k < len(byClass[c]) {
				out = append(out, byClass[c][k])
			}
		}
	}
	return out
}

func npyFloat32(rows [][]float64) ([]byte, error) {
	t := tensorio.Tensor{Shape: []int{len(rows), len(rows[0])}}
	for _, r := range rows {
		t.Data = append(t.Data, r...)
	}
	return encode(t, tensorio.Float32)
}

func npyInt64(v []int) ([]byte, error) {
	t := tensorio.Tensor{Shape: []int{len(v)}}
	for _, x := range v {
		t.Data = append(t.Data, float64(x))
	}
	return encode(t, tensorio.Int64)
}

func encode(t tensorio.Tensor, dt tensorio.DType) ([]byte, error) {
	var buf strings.Builder
	if err := tensorio.WriteAs(&buf, tensorio.FormatNPY, t, dt); err != nil {
		return nil, err
	}
	return []byte(buf.String()), nil
}
