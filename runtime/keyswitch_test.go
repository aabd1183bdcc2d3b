package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/plan/planpb"
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

// TestParallelPoly: a POLY evaluated with its relinearizations split over
// the cores gives exactly the ciphertext of Lattigo's fused products.
func TestParallelPoly(t *testing.T) {
	params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN: 11, LogQ: []int{55, 40, 40, 40, 40, 40}, LogP: []int{61}, LogDefaultScale: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	kgen := rlwe.NewKeyGenerator(params)
	sk := kgen.GenSecretKeyNew()
	base := hefloat.NewEvaluator(params, rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(sk)))
	pt := hefloat.NewPlaintext(params, params.MaxLevel())
	vals := make([]float64, params.MaxSlots())
	for i := range vals {
		vals[i] = float64(i%13)/6.5 - 1
	}
	if err := hefloat.NewEncoder(params).Encode(vals, pt); err != nil {
		t.Fatal(err)
	}
	ct, err := rlwe.NewEncryptor(params, sk).EncryptNew(pt)
	if err != nil {
		t.Fatal(err)
	}
	ins := &planpb.Instruction{Op: planpb.Op_POLY, Args: []uint32{0}, Coeffs: []float64{0.1, 0.5, 0.3, -0.2, 0.05, 0.01, -0.02, 0.004}, Depth: 3, Scale: params.DefaultScale().Float64()}
	var outs []*rlwe.Ciphertext
	for _, par := range []int{1, 2} {
		w := &worker{c: &Context{params: params}, par: par, alone: true}
		w.eval = &countingEvaluator{Evaluator: base.ShallowCopy(), n: &w.ops}
		w.poly = hefloat.NewPolynomialEvaluator(params, w.eval)
		res, err := w.exec(ins, []*rlwe.Ciphertext{ct})
		if err != nil {
			t.Fatal(err)
		}
		if w.ops.Relinearizations == 0 || w.ops.Relinearizations != w.ops.CtCtMults {
			t.Fatalf("par %d: counts %+v", par, w.ops)
		}
		outs = append(outs, res)
	}
	if !outs[0].Equal(outs[1]) {
		t.Fatal("POLY with parallel relinearizations differs from Lattigo's")
	}
}

// TestDecomposeParallel: the digits decomposed over several evaluators are
// Lattigo's DecomposeNTT, value for value.
func TestDecomposeParallel(t *testing.T) {
	for _, logP := range [][]int{{61}, {50, 50}} {
		params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
			LogN: 10, LogQ: []int{50, 40, 40, 40, 40}, LogP: logP, LogDefaultScale: 40,
		})
		if err != nil {
			t.Fatal(err)
		}
		base := hefloat.NewEvaluator(params, nil)
		rng := rand.New(rand.NewPCG(5, 6))
		for level := 0; level <= params.MaxLevel(); level++ {
			ct := hefloat.NewCiphertext(params, 1, level)
			for j, row := range ct.Value[1].Coeffs {
				for i := range row {
					row[i] = rng.Uint64N(params.Q()[j])
				}
			}
			want := base.ShallowCopy()
			wbuf := want.GetBuffDecompQP()
			want.DecomposeNTT(level, params.MaxLevelP(), params.PCount(), ct.Value[1], ct.IsNTT, wbuf)
			evs := []*hefloat.Evaluator{base.ShallowCopy(), base.ShallowCopy(), base.ShallowCopy()}
			got := evs[0].GetBuffDecompQP()
			decomposeParallel(params, evs, level, ct, got)
			for i := 0; i < params.BaseRNSDecompositionVectorSize(level, params.MaxLevelP()); i++ {
				if !got[i].Q.Equal(&wbuf[i].Q) || !got[i].P.Equal(&wbuf[i].P) {
					t.Fatalf("P %v level %d: digit %d differs", logP, level, i)
				}
			}
		}
	}
}
