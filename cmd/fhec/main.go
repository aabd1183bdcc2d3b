// Command fhec compiles ONNX models to CKKS plans and runs them on encrypted
// data. It is a thin shell over the github.com/fhec/fhec Go API.
//
//	fhec demo                                         encrypted diagnosis, end to end
//	fhec compile model.onnx -o model.plan [--calibration x.npy]
//	fhec keygen  model.plan -o keys/                  keys/secret.key (client), keys/eval.key (server)
//	fhec encrypt model.plan --key keys/secret.key x.npy -o x.ct
//	fhec run     model.plan --eval-key keys/eval.key x.ct -o y.ct
//	fhec decrypt model.plan --key keys/secret.key y.ct -o y.npy
//	fhec inspect model.plan
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fhec: error:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "fhec",
		Short: "Compile ONNX models to run on CKKS-encrypted data (Lattigo v5)",
		Long: `fhec compiles a trained ONNX model into a plan that a server runs on
CKKS-encrypted inputs: the server never sees the data nor any key that
decrypts it; the client decrypts the prediction.

Client:  keygen, encrypt, decrypt  (hold keys/secret.key)
Server:  run                       (needs only keys/eval.key)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemo(), newCompile(), newKeygen(), newEncrypt(), newRun(), newDecrypt(), newInspect(), newServe(), newQuery(), newBench(), newSimulate())
	addBackendFlags(root)
	return root
}
