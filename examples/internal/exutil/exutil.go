// Package exutil runs an example application end to end through the fhec
// HTTP server on loopback: compile (128-bit), serve, client keygen,
// encrypt, upload, evaluate, decrypt; then compares every decrypted result
// with the plaintext model.
package exutil

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/client"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/server"
)

// App describes one example.
type App struct {
	Title, Model, Data string
	ONNX               []byte
	Calibration        fhec.Tensor // representative inputs [n, d]
	Inputs             fhec.Tensor // the queries [n, d]
	// Reference is the plaintext model on one input row.
	Reference func(row []float64) []float64
	// Decide turns a model output into the application's answer.
	Decide func(out []float64) string
	// Truth, if set, is the ground-truth answer for query i.
	Truth func(i int) string
	// Note, if set, is printed after query i's row (e.g. the input text).
	Note func(i int) string
	// Tol bounds |plaintext - decrypted| per output value.
	Tol float64
	// Show is how many rows to print (default 8).
	Show int
}

// Main runs a and exits 1 on disagreement or error.
func Main(a App) {
	if err := Run(os.Stdout, a); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// Run runs a, writing its report to w.
func Run(w io.Writer, a App) error {
	if a.Show == 0 {
		a.Show = 8
	}
	fmt.Fprintf(w, "%s\n  model: %s\n  data:  %s\n", a.Title, a.Model, a.Data)
	t0 := time.Now()
	c, err := fhec.Compile(a.ONNX, fhec.CompileOptions{Calibration: &a.Calibration})
	if err != nil {
		return err
	}
	pf, err := plan.Marshal(c.Plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  compiled in %s: CKKS logN %d, %d-bit security, depth %d, %d queries per ciphertext\n",
		time.Since(t0).Round(time.Millisecond), c.Params.LogN, c.Params.Security, c.Params.Depth, c.Params.Batch)

	// The server: the plan and, later, evaluation keys; never a secret key.
	srv, err := server.New(pf, server.Config{})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	defer func() {
		stop()
		<-served
	}()
	url := "http://" + l.Addr().String()

	// The client: keys in memory, encrypts, uploads, queries, decrypts.
	cl, err := client.New(url, client.Options{})
	if err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := cl.UploadKeys(ctx); err != nil {
		return err
	}
	tKeys := time.Since(t0)
	t0 = time.Now()
	y, st, err := cl.Infer(ctx, a.Inputs)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  server %s: keygen+upload %s | encrypt+evaluate+decrypt %s (server evaluate %s)\n\n",
		url, tKeys.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), st.Eval.Round(time.Millisecond))

	n, d := a.Inputs.Shape[0], a.Inputs.Shape[1]
	k := len(y.Data) / n
	agree, truthOK, worst := 0, 0, 0.0
	fmt.Fprintf(w, "  %-5s %-28s %-28s %-14s %-14s %s\n", "query", "plaintext", "decrypted", "plaintext ans", "decrypted ans", "truth")
	for i := range n {
		want := a.Reference(a.Inputs.Data[i*d : (i+1)*d])
		got := y.Data[i*k : (i+1)*k]
		for j := range want {
			worst = math.Max(worst, math.Abs(want[j]-got[j]))
		}
		dw, dg := a.Decide(want), a.Decide(got)
		same := dw == dg
		for j := range want {
			if !(math.Abs(want[j]-got[j]) <= a.Tol) {
				same = false
			}
		}
		if same {
			agree++
		}
		truth := ""
		if a.Truth != nil {
			truth = a.Truth(i)
			if truth == dg {
				truthOK++
			}
		}
		if i < a.Show {
			note := ""
			if a.Note != nil {
				note = "  " + a.Note(i)
			}
			fmt.Fprintf(w, "  %-5d %-28s %-28s %-14s %-14s %-10s%s\n", i, vec(want), vec(got), dw, dg, truth, note)
		}
	}
	if n > a.Show {
		fmt.Fprintf(w, "  … %d more\n", n-a.Show)
	}
	fmt.Fprintf(w, "\n  plaintext vs decrypted: %d/%d agree (same answer, every value within %g), max |err| %.2e\n", agree, n, a.Tol, worst)
	if a.Truth != nil {
		fmt.Fprintf(w, "  decrypted answers matching ground truth: %d/%d\n", truthOK, n)
	}
	if agree != n {
		return fmt.Errorf("%d of %d decrypted results disagree with the plaintext model", n-agree, n)
	}
	return nil
}

func vec(v []float64) string {
	s := "["
	for i, x := range v {
		if i == 4 {
			s += " …"
			break
		}
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.3f", x)
	}
	return s + "]"
}
