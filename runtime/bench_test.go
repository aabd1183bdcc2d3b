package runtime

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fhec/fhec/plan/planpb"
)

// mlpPlan: one dense layer d x d (diagonal method), bias, and a degree-7
// Chebyshev activation, Batch samples per ciphertext.
func mlpPlan(t testing.TB, d, batch int) *builder {
	b := newBuilder(t, stdParams(t))
	rng := rand.New(rand.NewPCG(31, 32))
	l := &planpb.Layout{Len: uint32(d), Period: uint32(d), Batch: uint32(batch)}
	x := b.input("x", l, 5)
	var acc uint32
	for k := range d {
		diag := make([]float64, d)
		for i := range diag {
			diag[i] = (2*rng.Float64() - 1) / float64(d)
		}
		r := x
		if k > 0 {
			r = b.rotate(x, k*batch)
		}
		m := b.op(planpb.Op_MUL_PLAIN, r, b.encode(diag, batch, 5, b.prime(5)))
		if k == 0 {
			acc = m
		} else {
			acc = b.op(planpb.Op_ADD, acc, m)
		}
	}
	y := b.op(planpb.Op_RESCALE, acc)
	y = b.op(planpb.Op_ADD_PLAIN, y, b.encode([]float64{0.01}, batch, 4, b.scales[y]))
	y = b.poly(y, polyCoeffs)
	b.output("y", y, l)
	return b
}

func BenchmarkEvaluate(b *testing.B) {
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("d16/groups4/workers%d", workers), func(b *testing.B) {
			pb := mlpPlan(b, 16, 8)
			c := pb.context()
			sk, evk, err := c.KeyGen()
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(33, 34))
			cts, err := c.Encrypt(sk, [][][]float64{samples(rng, 4*c.Batch(), 16)})
			if err != nil {
				b.Fatal(err)
			}
			var last *Stats
			var total OpCounts
			opTime := map[planpb.Op]time.Duration{}
			n := 0
			for b.Loop() {
				_, st, err := c.Evaluate(evk, cts, EvalOptions{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				total.add(&st.Ops)
				for op, d := range st.Time {
					opTime[op] += d
				}
				last = st
				n++
			}
			per := func(v int64) float64 { return float64(v) / float64(n) }
			b.ReportMetric(per(total.Rotations), "rotations/op")
			b.ReportMetric(per(total.CtPtMults), "ct-pt-mults/op")
			b.ReportMetric(per(total.CtCtMults), "ct-ct-mults/op")
			b.ReportMetric(per(total.Rescales), "rescales/op")
			b.ReportMetric(per(total.Relinearizations), "relins/op")
			b.ReportMetric(per(total.KeySwitches), "keyswitches/op")
			b.ReportMetric(float64(last.Groups), "groups")
			ops := make([]planpb.Op, 0, len(opTime))
			for op := range opTime {
				ops = append(ops, op)
			}
			sort.Slice(ops, func(i, j int) bool { return opTime[ops[i]] > opTime[ops[j]] })
			var sb strings.Builder
			for _, op := range ops {
				fmt.Fprintf(&sb, " %v=%v(x%d)", op, (opTime[op] / time.Duration(n)).Round(time.Microsecond), last.Instructions[op])
			}
			b.Logf("workers=%d per Evaluate:%s", last.Workers, sb.String())
		})
	}
}
