package runtime

import (
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/plan/planpb"
)

// dotBench is a DOT of n random degree-2 ciphertexts at level 3, N = 2^13
// (the dense layer of feature-major CryptoNets), run by a bare worker.
type dotBench struct {
	w    *worker
	ins  *planpb.Instruction
	vals []*rlwe.Ciphertext
}

func newDotBench(b testing.TB, n int) *dotBench {
	return newDotBenchPrimes(b, n, []int{50, 40, 40, 40, 40})
}

// newDotBenchPrimes is newDotBench over primes of the given sizes.
func newDotBenchPrimes(b testing.TB, n int, logQ []int) *dotBench {
	pb := newBuilder(b, testParams(b, 13, logQ))
	x := pb.input("x", &planpb.Layout{Len: 1, Period: 1, Batch: 1 << 12}, 4)
	pb.output("y", x, &planpb.Layout{Len: 1, Period: 1, Batch: 1 << 12})
	c := pb.context()
	w := &worker{c: c}
	w.eval = &countingEvaluator{n: &w.ops}
	rng := rand.New(rand.NewPCG(41, 42))
	const level = 3
	q := c.params.Q()
	ins := &planpb.Instruction{Op: planpb.Op_DOT, Scale: float64(q[level]), Bias: 0.25}
	vals := make([]*rlwe.Ciphertext, n)
	for k := range vals {
		ct := rlwe.NewCiphertext(c.params, 2, level)
		ct.Scale = rlwe.NewScale(scale40)
		for _, p := range ct.Value {
			for j, row := range p.Coeffs {
				for i := range row {
					row[i] = rng.Uint64N(q[j])
				}
			}
		}
		vals[k] = ct
		ins.Args = append(ins.Args, uint32(k))
		ins.Coeffs = append(ins.Coeffs, (2*rng.Float64()-1)/16)
	}
	return &dotBench{w: w, ins: ins, vals: vals}
}

// BenchmarkDot times the DOT kernel on ~800 degree-2 arguments at level 3,
// N = 2^13 (feature-major CryptoNets' dense layer), per argument and per
// coefficient product:
//   - row/q40: one DOT, 40-bit primes (the 128-bit accumulation path);
//   - row/q28: one DOT, 28-bit primes but q0 (the 64-bit path on 3 of 4 limbs);
//   - layer100/q28: 100 DOTs sharing their arguments, run as one group
//     (blocked over coefficients: the arguments are streamed once);
//   - montgomery/q40: Lattigo's MulScalarMontgomeryThenAdd per term, for
//     reference.
func BenchmarkDot(b *testing.B) {
	const n = 800
	products := func(d *dotBench) float64 { // per argument
		return float64(len(d.vals[0].Value) * (d.vals[0].Level() + 1) * d.w.c.params.N())
	}
	for _, tc := range []struct {
		name string
		logQ []int
		rows int
	}{
		{"row/q40", []int{50, 40, 40, 40, 40}, 1},
		{"row/q28", []int{37, 28, 28, 28, 28}, 1},
		{"layer100/q28", []int{37, 28, 28, 28, 28}, 100},
	} {
		d := newDotBenchPrimes(b, n, tc.logQ)
		group := make([]int, tc.rows)
		prog := make([]*planpb.Instruction, tc.rows)
		for r := range group {
			group[r] = r
			prog[r] = d.ins
		}
		d.w.c.plan.Program = prog
		b.Run(tc.name, func(b *testing.B) {
			out := map[int]*rlwe.Ciphertext{}
			for b.Loop() {
				if err := d.w.dotGroup(group, d.vals, out); err != nil {
					b.Fatal(err)
				}
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n*tc.rows)
			b.ReportMetric(per, "ns/arg")
			b.ReportMetric(per/products(d), "ns/product")
		})
	}
	d := newDotBench(b, n)
	b.Run("montgomery/q40", func(b *testing.B) {
		params := d.w.c.params
		weights, err := dotWeights(d.ins)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			res := rlwe.NewCiphertext(params, 2, 3)
			for j, s := range params.RingQ().AtLevel(3).SubRings[:4] {
				wm := make([]uint64, n)
				for k, w := range weights {
					wm[k] = ring.MForm(reduceInt64(w, s.Modulus), s.Modulus, s.BRedConstant)
				}
				for i := range res.Value {
					out := res.Value[i].Coeffs[j]
					for k, ct := range d.vals {
						s.MulScalarMontgomeryThenAdd(ct.Value[i].Coeffs[j], wm[k], out)
					}
				}
			}
		}
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / n
		b.ReportMetric(per, "ns/arg")
		b.ReportMetric(per/products(d), "ns/product")
	})
}
