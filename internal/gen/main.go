// Command gen trains the demo's breast cancer classifier and writes
// testdata/demo: the ONNX model, held-out samples and their labels, the
// calibration rows, a README and the data license. It is run by go generate
// from the repository root:
//
//	go run ./internal/gen -csv ../shared/testdata/datasets/sklearn/breast_cancer.csv -out testdata/demo
//
// The output is byte-for-byte reproducible: the split, initialization and
// training use fixed seeds, no maps or goroutines, and arithmetic written so
// that no platform may fuse multiply-adds (see arith.go).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

func main() {
	csvPath := flag.String("csv", "../shared/testdata/datasets/sklearn/breast_cancer.csv", "Wisconsin Diagnostic Breast Cancer CSV from scikit-learn")
	outDir := flag.String("out", "testdata/demo", "output directory")
	flag.Parse()
	res, err := generate(*csvPath, *outDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("gen: wrote %s: train accuracy %s, test accuracy %s\n", *outDir, res.trainAcc, res.testAcc)
}

// generate builds every file and writes them into outDir.
func generate(csvPath, outDir string) (*result, error) {
	res, err := build(csvPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	for _, name := range res.names() {
		if err := os.WriteFile(filepath.Join(outDir, name), res.files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// result is the generated files and the accuracies.
type result struct {
	files             map[string][]byte
	trainAcc, testAcc accuracy
}

func (r *result) names() []string {
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// accuracy is a count of correct predictions.
type accuracy struct{ correct, total int }

func (a accuracy) String() string {
	return fmt.Sprintf("%.2f%% (%d/%d)", 100*float64(a.correct)/float64(a.total), a.correct, a.total)
}

// build runs the whole pipeline in memory.
func build(csvPath string) (*result, error) {
	ds, err := loadCSV(csvPath)
	if err != nil {
		return nil, err
	}
	train, test := split(ds)
	mean, std := standardizer(ds, train)
	xTrain := standardize(ds, train, mean, std)
	xTest := standardize(ds, test, mean, std)
	yTrain := labels(ds, train)
	yTest := labels(ds, test)

	net := newMLP(initSeed)
	net.train(xTrain, yTrain)
	q := net.float32Copy()
	res := &result{
		files:    map[string][]byte{},
		trainAcc: q.accuracy(xTrain, yTrain),
		testAcc:  q.accuracy(xTest, yTest),
	}

	samples := pickSamples(test, ds, func(i int) bool {
		j := slices.Index(test, i)
		_, c := q.predict(xTest[j])
		return c == yTest[j]
	})
	sampleX := make([][]float64, len(samples))
	sampleY := make([]int, len(samples))
	for i, s := range samples {
		j := slices.Index(test, s)
		sampleX[i] = xTest[j]
		sampleY[i] = yTest[j]
	}

	model, err := q.onnx(res.trainAcc, res.testAcc, len(train), len(test))
	if err != nil {
		return nil, err
	}
	res.files["model.onnx"] = model
	if res.files["samples.npy"], err = npyFloat32(sampleX); err != nil {
		return nil, err
	}
	if res.files["samples_labels.npy"], err = npyInt64(sampleY); err != nil {
		return nil, err
	}
	if res.files["calibration.npy"], err = npyFloat32(xTrain); err != nil {
		return nil, err
	}
	var readme bytes.Buffer
	writeReadme(&readme, readmeData{
		ds: ds, train: train, test: test, trainAcc: res.trainAcc, testAcc: res.testAcc,
		samples: samples, sampleX: sampleX, sampleY: sampleY, net: q,
	})
	res.files["README.md"] = readme.Bytes()
	res.files["LICENSE-data"] = []byte(licenseData)
	return res, nil
}
