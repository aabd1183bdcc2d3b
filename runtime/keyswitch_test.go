package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// TestParallelKeySwitch: ROTATE and RELINEARIZE with the key switch split
// over 2 and 3 goroutines give exactly Lattigo's ciphertexts, with one and
// two special primes, at every level.
func TestParallelKeySwitch(t *testing.T) {
	for _, logP := range [][]int{{61}, {50, 50}} {
		params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
			LogN: 11, LogQ: []int{50, 40, 40, 40, 40}, LogP: logP, LogDefaultScale: 40,
		})
		if err != nil {
			t.Fatal(err)
		}
		kgen := rlwe.NewKeyGenerator(params)
		sk := kgen.GenSecretKeyNew()
		rots := []int{1, 5, -3, 100}
		var gals []uint64
		for _, k := range rots {
			gals = append(gals, params.GaloisElement(k))
		}
		evk := rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(sk), kgen.GenGaloisKeysNew(gals, sk)...)
		base := hefloat.NewEvaluator(params, evk)
		rng := rand.New(rand.NewPCG(uint64(len(logP)), 3))
		for level := 0; level <= params.MaxLevel(); level++ {
			ct := hefloat.NewCiphertext(params, 2, level)
			for _, p := range ct.Value {
				for j, row := range p.Coeffs {
					for i := range row {
						row[i] = rng.Uint64N(params.Q()[j])
					}
				}
			}
			ct1 := hefloat.NewCiphertext(params, 1, level)
			ct1.Value[0].Copy(ct.Value[0])
			ct1.Value[1].Copy(ct.Value[1])
			for _, par := range []int{2, 3} {
				w := &worker{c: &Context{params: params}, par: par}
				w.eval = &countingEvaluator{Evaluator: base.ShallowCopy(), n: &w.ops}
				where := fmt.Sprintf("P %v level %d par %d", logP, level, par)
				for _, k := range rots {
					want := hefloat.NewCiphertext(params, 1, level)
					if err := base.Rotate(ct1, k, want); err != nil {
						t.Fatal(err)
					}
					got, err := w.rotateParallel(ct1, k)
					if err != nil {
						t.Fatal(err)
					}
					if !got.Equal(want) {
						t.Fatalf("%s: rotation by %d differs from Lattigo's", where, k)
					}
				}
				want := hefloat.NewCiphertext(params, 1, level)
				if err := base.Relinearize(ct, want); err != nil {
					t.Fatal(err)
				}
				got, err := w.relinearizeParallel(ct)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("%s: relinearization differs from Lattigo's", where)
				}
				if w.ops.Rotations != int64(len(rots)) || w.ops.Relinearizations != 1 || w.ops.KeySwitches != int64(len(rots)+1) {
					t.Fatalf("%s: counts %+v", where, w.ops)
				}
			}
		}
	}
}
