package baseline

import (
	"testing"
	"time"

	"github.com/fhec/fhec"
)

// BenchmarkMLP784 times one single-sample encrypted evaluation (server side
// only: key generation, encryption and the baseline's one-time model
// encoding are outside the timer) of the same 784 -> 128 -> 10 model, by
// the hand-written Lattigo baseline and by fhec's compiled plan, and
// reports the homomorphic operation counts of one evaluation.
//
// fhec packs Batch samples per ciphertext; here its ciphertext holds one
// sample (latency mode, CompileOptions.Batch 1). fhec/ runs with
// EvalOptions{Workers: 1}, single-threaded like the baseline; fhec-2cores/
// with the default (every core: a group's independent instructions run in
// parallel). Plaintexts are encoded before timing (once per plan, as a
// server does at start-up; the baseline encodes its diagonals when it
// builds its linear transformations). time-vs-baseline and
// rotations-vs-baseline on the fhec lines are fhec / baseline.
//
//	go test -run '^$' -bench MLP784 -benchtime 5x ./bench/baseline
func BenchmarkMLP784(b *testing.B) {
	x := TestInputs(1, 1)[0]
	perOp := map[string]time.Duration{}
	rots := map[string]int64{}
	for _, act := range []Activation{Square, ReLU7} {
		b.Run("baseline/"+string(act), func(b *testing.B) {
			_, _, bl := setup(b, act)
			sk, evk := bl.KeyGen()
			srv := bl.NewServer(evk)
			ct, err := bl.Encrypt(sk, x)
			if err != nil {
				b.Fatal(err)
			}
			var ops OpCounts
			start := time.Now()
			n := 0
			for b.Loop() {
				if _, ops, err = srv.Evaluate(ct); err != nil {
					b.Fatal(err)
				}
				n++
			}
			perOp["baseline/"+string(act)] = time.Since(start) / time.Duration(n)
			rots["baseline/"+string(act)] = ops.Rotations
			b.ReportMetric(float64(ops.Rotations), "rotations/op")
			b.ReportMetric(float64(ops.HoistedRotations), "hoisted-rotations/op")
			b.ReportMetric(float64(ops.CtCtMults), "ct-ct-mults/op")
			b.ReportMetric(float64(ops.CtPtMults), "ct-pt-mults/op")
			b.ReportMetric(float64(ops.Rescales), "rescales/op")
			b.ReportMetric(float64(ops.KeySwitches), "key-switches/op")
			b.ReportMetric(0, "encode-ms/op")
			b.ReportMetric(float64(bl.Params.MaxLevel()), "levels")
			b.ReportMetric(float64(bl.Params.LogN()), "logN")
		})
		for _, workers := range []int{1, 0} {
			name := "fhec/" + string(act)
			if workers == 0 {
				name = "fhec-2cores/" + string(act)
			}
			b.Run(name, func(b *testing.B) {
				_, onnx, _ := setup(b, act)
				c := compileFhec(b, onnx, act)
				r, err := fhec.NewRuntime(c.Plan)
				if err != nil {
					b.Fatal(err)
				}
				sk, evk, err := r.KeyGen()
				if err != nil {
					b.Fatal(err)
				}
				ct, err := r.EncryptTensor(sk, fhec.Tensor{Shape: []int{1, In}, Data: x})
				if err != nil {
					b.Fatal(err)
				}
				// plaintexts are encoded once per plan (a server does it at start-up)
				if err := r.Prepare(0); err != nil {
					b.Fatal(err)
				}
				var st *fhec.Stats
				start := time.Now()
				n := 0
				for b.Loop() {
					if _, st, err = r.Evaluate(evk, ct, fhec.EvalOptions{Workers: workers}); err != nil {
						b.Fatal(err)
					}
					n++
				}
				perOp[name] = time.Since(start) / time.Duration(n)
				o := st.Ops
				b.ReportMetric(float64(o.Rotations), "rotations/op")
				b.ReportMetric(float64(o.HoistedRotations), "hoisted-rotations/op")
				b.ReportMetric(float64(o.CtCtMults), "ct-ct-mults/op")
				b.ReportMetric(float64(o.CtPtMults), "ct-pt-mults/op")
				b.ReportMetric(float64(o.Rescales), "rescales/op")
				b.ReportMetric(float64(o.KeySwitches), "key-switches/op")
				b.ReportMetric(float64(c.Params.Depth), "levels")
				b.ReportMetric(float64(c.Params.LogN), "logN")
				// fhec / baseline (the baseline sub-benchmark runs first).
				if bt := perOp["baseline/"+string(act)]; bt > 0 {
					b.ReportMetric(float64(perOp[name])/float64(bt), "time-vs-baseline")
					b.ReportMetric(float64(o.Rotations)/float64(rots["baseline/"+string(act)]), "rotations-vs-baseline")
				}
			})
		}
	}
}

// BenchmarkMLP784Paired measures the same three evaluations as
// BenchmarkMLP784 (the expert's, fhec on one core, fhec on all cores)
// interleaved: each iteration runs the three once, in turn, so a machine
// whose speed drifts (a shared VM) slows all three alike, and the ratios
// compare like with like. time-vs-baseline is the ratio of the summed times.
//
//	go test -run '^$' -bench MLP784Paired -benchtime 20x ./bench/baseline
func BenchmarkMLP784Paired(b *testing.B) {
	x := TestInputs(1, 1)[0]
	for _, act := range []Activation{Square, ReLU7} {
		b.Run(string(act), func(b *testing.B) {
			_, onnx, bl := setup(b, act)
			sk, evk := bl.KeyGen()
			srv := bl.NewServer(evk)
			bct, err := bl.Encrypt(sk, x)
			if err != nil {
				b.Fatal(err)
			}
			c := compileFhec(b, onnx, act)
			r, err := fhec.NewRuntime(c.Plan)
			if err != nil {
				b.Fatal(err)
			}
			fsk, fevk, err := r.KeyGen()
			if err != nil {
				b.Fatal(err)
			}
			fct, err := r.EncryptTensor(fsk, fhec.Tensor{Shape: []int{1, In}, Data: x})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Prepare(0); err != nil {
				b.Fatal(err)
			}
			var tb, t1, t2 time.Duration
			var ops OpCounts
			var st *fhec.Stats
			for b.Loop() {
				t0 := time.Now()
				if _, ops, err = srv.Evaluate(bct); err != nil {
					b.Fatal(err)
				}
				tb += time.Since(t0)
				t0 = time.Now()
				if _, _, err = r.Evaluate(fevk, fct, fhec.EvalOptions{Workers: 1}); err != nil {
					b.Fatal(err)
				}
				t1 += time.Since(t0)
				t0 = time.Now()
				if _, st, err = r.Evaluate(fevk, fct, fhec.EvalOptions{}); err != nil {
					b.Fatal(err)
				}
				t2 += time.Since(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tb.Milliseconds())/n, "baseline-ms/op")
			b.ReportMetric(float64(t1.Milliseconds())/n, "fhec-1core-ms/op")
			b.ReportMetric(float64(t2.Milliseconds())/n, "fhec-allcores-ms/op")
			b.ReportMetric(float64(t1)/float64(tb), "1core-vs-baseline")
			b.ReportMetric(float64(t2)/float64(tb), "allcores-vs-baseline")
			b.ReportMetric(float64(ops.Rotations), "baseline-rotations/op")
			b.ReportMetric(float64(st.Ops.Rotations), "fhec-rotations/op")
			b.ReportMetric(float64(ops.KeySwitches), "baseline-key-switches/op")
			b.ReportMetric(float64(st.Ops.KeySwitches), "fhec-key-switches/op")
		})
	}
}
