package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestSmoothActivations: sigmoid, tanh and GELU classifiers keep their
// plaintext accuracy within 0.5 points in simulation (CKKS noise model) and
// every encrypted prediction equals the plaintext model's.
func TestSmoothActivations(t *testing.T) {
	csv := filepath.Join("..", "..", "..", "shared", "testdata", "datasets", "sklearn", "wine_data.csv")
	if _, err := os.Stat(csv); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data missing (CI=true): %v", err)
		}
		t.Skip(err)
	}
	results, err := Run(io.Discard, csv)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Logf("%s: degree %d, plaintext %.3f, simulated %.3f, encrypted agreement %.3f, max logit err %.2e", r.Act, r.Degree, r.Plain, r.Simulated, r.Agreed, r.MaxErr)
		if !r.OK() {
			t.Errorf("%s: plaintext %.3f, simulated %.3f, encrypted agreement %.3f", r.Act, r.Plain, r.Simulated, r.Agreed)
		}
	}
}
