package fhec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fhec/fhec/internal/tensorio"
)

// BenchmarkMNIST2x10 times the server side of the encrypted mnist2x10 run
// (16 images, 128-bit parameters) and reports the homomorphic op counts of
// one evaluation beside the time: counts are stable on a noisy machine.
//
//	go test -run '^$' -bench MNIST2x10 -benchtime 3x .
func BenchmarkMNIST2x10(b *testing.B) {
	dir := shared(b, "models/mnist2x10")
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	x, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := Compile(model, CompileOptions{Calibration: &x})
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRuntime(c.Plan)
	if err != nil {
		b.Fatal(err)
	}
	sk, evk, err := r.KeyGen()
	if err != nil {
		b.Fatal(err)
	}
	ct, err := r.EncryptTensor(sk, x)
	if err != nil {
		b.Fatal(err)
	}
	var st *Stats
	b.ResetTimer()
	for b.Loop() {
		if _, st, err = r.Evaluate(evk, ct, EvalOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	o := st.Ops
	b.ReportMetric(float64(x.Shape[0]), "images/op")
	b.ReportMetric(float64(st.Groups), "ciphertexts/op")
	b.ReportMetric(float64(o.Rotations), "rotations/op")
	b.ReportMetric(float64(o.CtCtMults), "ct-ct-mults/op")
	b.ReportMetric(float64(o.CtPtMults), "ct-pt-mults/op")
	b.ReportMetric(float64(o.Rescales), "rescales/op")
	b.ReportMetric(float64(o.KeySwitches), "key-switches/op")
	b.ReportMetric(0, "bootstraps/op")
	b.ReportMetric(float64(c.Params.LogN), "logN")
}
