package plan

import (
	"encoding/json"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
)

// TestKeyAndCiphertextSizes checks the size formulas against what Lattigo
// actually serializes, with one and with several RNS decomposition digits.
func TestKeyAndCiphertextSizes(t *testing.T) {
	for _, lit := range []hefloat.ParametersLiteral{
		{LogN: 10, LogQ: []int{50, 30, 30}, LogP: []int{55}, LogDefaultScale: 30},
		{LogN: 11, LogQ: []int{50, 30, 30, 30, 30}, LogP: []int{55, 55}, LogDefaultScale: 30},
		{LogN: 10, LogQ: []int{40}, LogDefaultScale: 30},
	} {
		params, err := hefloat.NewParametersFromLiteral(lit)
		if err != nil {
			t.Fatal(err)
		}
		kgen := rlwe.NewKeyGenerator(params)
		sk := kgen.GenSecretKeyNew()
		if b, _ := sk.MarshalBinary(); int64(len(b)) != polyBytes(params.N(), params.QCount())+polyBytes(params.N(), params.PCount()) {
			t.Errorf("logN %d: secret key %d bytes", lit.LogN, len(b))
		}
		for level := 0; level <= params.MaxLevel(); level++ {
			for degree := 1; degree <= 2; degree++ {
				ct := hefloat.NewCiphertext(params, degree, level)
				b, err := ct.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if got := CiphertextBytes(params, degree, level); got != int64(len(b)) {
					t.Errorf("logN %d: ciphertext degree %d level %d: formula %d, Lattigo %d", lit.LogN, degree, level, got, len(b))
				}
			}
		}
		if params.PCount() == 0 {
			if EvaluationKeyBytes(params) != 0 {
				t.Error("evaluation key size without P")
			}
			continue
		}
		rlk, _ := kgen.GenRelinearizationKeyNew(sk).MarshalBinary()
		gk, _ := kgen.GenGaloisKeyNew(params.GaloisElement(1), sk).MarshalBinary()
		if got := EvaluationKeyBytes(params); got != int64(len(rlk)) || got+16 != int64(len(gk)) {
			t.Errorf("logN %d, %d q, %d p: formula %d (+16), Lattigo relin %d, galois %d", lit.LogN, len(lit.LogQ), len(lit.LogP), got, len(rlk), len(gk))
		}
	}
}

func TestSummarize(t *testing.T) {
	b, err := Marshal(smallPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FileSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.FormatVersion != "1.4" || len(s.PlanSHA256) != 64 || s.LogN != 12 || !s.Insecure || s.GaloisKeys != 1 || !s.Relinearization {
		t.Fatalf("summary %+v", s)
	}
	if s.EvalKeyBytes != s.RelinKeyBytes+s.GaloisKeyBytes || s.Keys[1].Rotations[0] != 2 {
		t.Fatalf("keys %+v", s.Keys)
	}
	if s.InstructionCounts["ENCODE"] != 2 || s.InstructionCounts["POLY"] != 1 || s.Instructions != 11 {
		t.Fatalf("counts %v", s.InstructionCounts)
	}
	if s.ServerPeakBytes <= s.EvalKeyBytes || s.ClientPeakBytes < s.EvalKeyBytes || s.EstimatedModMults <= 0 {
		t.Fatalf("estimates %+v", s)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		logN  int
		logQP float64
		want  int
	}{{15, 881, 128}, {15, 882, 0}, {15, 600, 192}, {13, 100, 256}, {14, 438, 128}} {
		if got := SecurityEstimate(c.logN, c.logQP); got != c.want {
			t.Errorf("SecurityEstimate(%d, %v) = %d, want %d", c.logN, c.logQP, got, c.want)
		}
	}
}
