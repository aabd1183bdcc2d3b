// Command breast-cancer: encrypted tumour diagnosis through the fhec server.
// A clinic encrypts held-out patients' 30 tumour features, the server
// evaluates the embedded demo classifier (Wisconsin Diagnostic Breast
// Cancer data) on ciphertexts, the clinic decrypts the diagnosis.
//
//	go run ./examples/breast-cancer
package main

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"os"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/examples/internal/exutil"
	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/ir"
)

func main() {
	d, err := fhec.LoadDemo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	ref, err := frontend.Load(d.Model, frontend.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	exutil.Main(exutil.App{
		Title: "breast-cancer: encrypted tumour diagnosis",
		Model: "30 features -> 16 (ReLU) -> 2 logits [malignant, benign], the embedded demo model (made by `go generate`, internal/gen)",
		Data:  "Wisconsin Diagnostic Breast Cancer (UCI; via scikit-learn, BSD-3-Clause): held-out patients, standardized",
		ONNX:  d.Model, Calibration: d.Calibration, Inputs: d.Samples,
		Reference: func(row []float64) []float64 {
			res, err := ir.Interpret(ref, []ir.Array{{Shape: ref.Params[0].Type.Shape, Data: row}})
			if err != nil {
				panic(err)
			}
			return res[0].Data
		},
		Decide: func(out []float64) string { return d.ClassNames[vec.Argmax(out)] },
		Truth:  func(i int) string { return d.ClassNames[int(d.Labels.Data[i])] },
		Tol:    0.5,
	})
}
