package client

import (
	"context"
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	goruntime "runtime"
	"testing"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/server"
)

// TestLoadTest128 is the acceptance load test at 128-bit security: the
// embedded breast-cancer demo model, 8 concurrent clients (each with its
// own keys) x 5 requests of 1-4 patients on loopback; every decrypted
// result must give the plaintext model's diagnosis within 0.5 per logit.
// Slow (keygen for 8 clients): skipped with -short.
func TestLoadTest128(t *testing.T) {
	if testing.Short() {
		t.Skip("128-bit load test: slow")
	}
	d, err := fhec.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	c, err := fhec.Compile(d.Model, fhec.CompileOptions{Calibration: &d.Calibration})
	if err != nil {
		t.Fatal(err)
	}
	if c.Plan.Params.Insecure || c.Params.Security < 128 {
		t.Fatalf("not 128-bit: %+v", c.Params)
	}
	pf, err := plan.Marshal(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := frontend.Load(d.Model, frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, url := startServer(t, pf, server.Config{QueueDepth: 8})
	n, dim := d.Samples.Shape[0], d.Samples.Shape[1]
	input := func(cl, r int) fhec.Tensor {
		k := 1 + (cl+r)%4
		x := fhec.Tensor{Shape: []int{k, dim}}
		for i := range k {
			row := (cl*5 + r + i) % n
			x.Data = append(x.Data, d.Samples.Data[row*dim:(row+1)*dim]...)
		}
		return x
	}
	check := func(x, y fhec.Tensor) error {
		k := x.Shape[0]
		out := len(y.Data) / k
		for i := range k {
			res, err := ir.Interpret(ref, []ir.Array{{Shape: ref.Params[0].Type.Shape, Data: x.Data[i*dim : (i+1)*dim]}})
			if err != nil {
				return err
			}
			want, got := res[0].Data, y.Data[i*out:(i+1)*out]
			if vec.Argmax(want) != vec.Argmax(got) {
				return fmt.Errorf("sample %d: decrypted %v, plaintext %v: other diagnosis", i, got, want)
			}
			for j := range want {
				if math.Abs(want[j]-got[j]) > 0.5 {
					return fmt.Errorf("sample %d: decrypted %v, plaintext %v", i, got, want)
				}
			}
		}
		return nil
	}
	rep, err := LoadTest(context.Background(), LoadConfig{Server: url, Clients: 8, Requests: 5, Input: input, Check: check})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("128-bit demo model (logN %d), 8 clients x 5 requests on loopback, server workers %d: %v", c.Params.LogN, goruntime.GOMAXPROCS(0), rep)
	if rep.Correct != 40 {
		t.Fatalf("%d/40 correct: %v", rep.Correct, rep.Errors)
	}
}
