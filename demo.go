package fhec

import (
	"bytes"
	_ "embed"

	"github.com/fhec/fhec/internal/tensorio"
)

// The demo's model and data, made by `go generate` (see testdata/demo/README.md).
var (
	//go:embed testdata/demo/model.onnx
	demoModel []byte
	//go:embed testdata/demo/samples.npy
	demoSamples []byte
	//go:embed testdata/demo/samples_labels.npy
	demoLabels []byte
	//go:embed testdata/demo/calibration.npy
	demoCalibration []byte
)

// Demo is the embedded demo: a 30 -> 16 -> 2 ReLU classifier of breast
// tumours (Wisconsin Diagnostic Breast Cancer data), held-out patients'
// standardized features, their labels, and calibration rows.
type Demo struct {
	Model                        []byte
	Samples, Labels, Calibration Tensor
	ClassNames                   []string
}

// LoadDemo decodes the embedded demo files.
func LoadDemo() (*Demo, error) {
	d := &Demo{Model: demoModel, ClassNames: []string{"malignant", "benign"}}
	for _, x := range []struct {
		b   []byte
		dst *Tensor
	}{{demoSamples, &d.Samples}, {demoLabels, &d.Labels}, {demoCalibration, &d.Calibration}} {
		t, err := tensorio.Read(bytes.NewReader(x.b), "npy")
		if err != nil {
			return nil, err
		}
		*x.dst = t
	}
	return d, nil
}
