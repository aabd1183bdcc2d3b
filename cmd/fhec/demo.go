package main

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/ir"
)

func newDemo() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Encrypted breast-cancer diagnosis, end to end, on the embedded model",
		Long: `Runs the whole path on a model fhec trains itself (go generate): a 30 -> 16 -> 2
ReLU classifier of breast tumours, Wisconsin Diagnostic Breast Cancer data (UCI;
via scikit-learn, BSD-3-Clause). A clinic (client) encrypts held-out patients'
30 tumour features; a server evaluates the model on the ciphertexts with
evaluation keys only; the clinic decrypts the diagnosis. Each prediction is
compared with the plaintext model. Exits 1 if any prediction differs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDemo(cmd.OutOrStdout()) },
	}
}

func runDemo(w io.Writer) error {
	d, err := fhec.LoadDemo()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "fhec demo: encrypted breast-cancer diagnosis")
	fmt.Fprintln(w, "  model: 30 tumour features -> 16 (ReLU) -> 2 logits [malignant, benign], trained by `go generate`")
	fmt.Fprintln(w, "  data:  Wisconsin Diagnostic Breast Cancer (UCI; via scikit-learn, BSD-3-Clause), held-out patients")

	t0 := time.Now()
	c, err := fhec.Compile(d.Model, fhec.CompileOptions{Calibration: &d.Calibration})
	if err != nil {
		return err
	}
	tCompile := time.Since(t0)
	for _, wmsg := range c.Warnings {
		fmt.Fprintln(w, "  warning:", wmsg)
	}
	p := c.Params
	fmt.Fprintf(w, "  compiled in %s: CKKS logN %d, %d-bit security, depth %d, %d patients per ciphertext\n",
		tCompile.Round(time.Millisecond), p.LogN, p.Security, p.Depth, p.Batch)
	for _, a := range c.Activations {
		fmt.Fprintf(w, "  ReLU -> degree-%d polynomial on [%.3g, %.3g] (calibrated on %d training rows), max fit error %.3g\n",
			a.Degree, a.Lo, a.Hi, d.Calibration.Shape[0], a.MaxError)
	}

	r, err := fhec.NewRuntime(c.Plan)
	if err != nil {
		return err
	}
	t0 = time.Now()
	sk, evk, err := r.KeyGen()
	if err != nil {
		return err
	}
	tKeygen := time.Since(t0)
	t0 = time.Now()
	ct, err := r.EncryptTensor(sk, d.Samples)
	if err != nil {
		return err
	}
	tEncrypt := time.Since(t0)
	// The server: evaluation keys and ciphertexts only.
	t0 = time.Now()
	out, st, err := r.Evaluate(evk, ct, fhec.EvalOptions{})
	if err != nil {
		return err
	}
	tEval := time.Since(t0)
	t0 = time.Now()
	y, err := r.DecryptTensor(sk, out)
	if err != nil {
		return err
	}
	tDecrypt := time.Since(t0)

	// The plaintext model, by the reference interpreter.
	ref, err := frontend.Load(d.Model, frontend.Options{})
	if err != nil {
		return err
	}
	n := d.Samples.Shape[0]
	k := y.Shape[1]
	fmt.Fprintf(w, "  keygen %s | encrypt %s | evaluate %s (server) | decrypt %s\n",
		tKeygen.Round(time.Millisecond), tEncrypt.Round(time.Millisecond), tEval.Round(time.Millisecond), tDecrypt.Round(time.Millisecond))
	fmt.Fprintf(w, "  server ops: %d rotations, %d ct-ct mults, %d ct-pt mults, %d rescales over %d ciphertext(s)\n\n",
		st.Ops.Rotations, st.Ops.CtCtMults, st.Ops.CtPtMults, st.Ops.Rescales, st.Groups)
	fmt.Fprintf(w, "  %-7s %-9s %-22s %-22s %-10s %-10s %s\n", "patient", "label", "plaintext logits", "decrypted logits", "plaintext", "encrypted", "max |err|")
	agree, worst := 0, 0.0
	per := d.Samples.Data
	dim := len(per) / n
	for i := 0; i < n; i++ {
		res, err := ir.Interpret(ref, []ir.Array{{Shape: ref.Params[0].Type.Shape, Data: per[i*dim : (i+1)*dim]}})
		if err != nil {
			return err
		}
		want := res[0].Data
		got := y.Data[i*k : (i+1)*k]
		e := 0.0
		for j := range want {
			e = math.Max(e, math.Abs(want[j]-got[j]))
		}
		worst = math.Max(worst, e)
		pw, pg := vec.Argmax(want), vec.Argmax(got)
		if pw == pg {
			agree++
		}
		fmt.Fprintf(w, "  %-7d %-9s %-22s %-22s %-10s %-10s %.2e\n", i, d.ClassNames[int(d.Labels.Data[i])], formatVec(want), formatVec(got),
			d.ClassNames[pw], d.ClassNames[pg], e)
	}
	fmt.Fprintf(w, "\n  max abs error %.3e; predictions agree with plaintext: %d/%d\n", worst, agree, n)
	if agree != n {
		return fmt.Errorf("%d of %d encrypted predictions differ from plaintext", n-agree, n)
	}
	return nil
}

func formatVec(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.4f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
