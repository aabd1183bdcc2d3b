package fhec_test

import (
	"fmt"
	"log"

	"github.com/fhec/fhec"
)

// Compile the embedded demo model (a 30 -> 16 -> 2 ReLU classifier) with
// calibration data, and look at what fhec chose.
func ExampleCompile() {
	demo, err := fhec.LoadDemo()
	if err != nil {
		log.Fatal(err)
	}
	c, err := fhec.Compile(demo.Model, fhec.CompileOptions{Calibration: &demo.Calibration})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ring degree 2^%d, %d-bit security, depth %d, %d samples per ciphertext\n",
		c.Params.LogN, c.Params.Security, c.Params.Depth, c.Params.Batch)
	for _, a := range c.Activations {
		fmt.Printf("%s: degree-%d polynomial\n", a.Function, a.Degree)
	}
	// Output:
	// ring degree 2^14, 128-bit security, depth 8, 256 samples per ciphertext
	// relu: degree-63 polynomial
}

// The whole client/server round trip: the client generates keys and
// encrypts, the server evaluates with the evaluation keys only, the client
// decrypts.
func ExampleRuntime() {
	demo, err := fhec.LoadDemo()
	if err != nil {
		log.Fatal(err)
	}
	c, err := fhec.Compile(demo.Model, fhec.CompileOptions{Calibration: &demo.Calibration})
	if err != nil {
		log.Fatal(err)
	}
	rt, err := fhec.NewRuntime(c.Plan)
	if err != nil {
		log.Fatal(err)
	}
	sk, evk, err := rt.KeyGen() // client: sk never leaves it
	if err != nil {
		log.Fatal(err)
	}
	ct, err := rt.EncryptTensor(sk, demo.Samples) // client
	if err != nil {
		log.Fatal(err)
	}
	out, _, err := rt.Evaluate(evk, ct, fhec.EvalOptions{}) // server
	if err != nil {
		log.Fatal(err)
	}
	y, err := rt.DecryptTensor(sk, out) // client
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < y.Shape[0]; i++ {
		logits := y.Data[2*i : 2*i+2]
		class := 0
		if logits[1] > logits[0] {
			class = 1
		}
		fmt.Print(demo.ClassNames[class], " ")
	}
	fmt.Println()
	// Output:
	// malignant benign malignant benign malignant benign malignant benign
}
