package runtime

import (
	"math"
	"strings"
	"testing"

	"github.com/fhec/fhec/costmodel"
)

// TestFitLinearCosts: times made from known costs give those costs back;
// times where more giant steps take less time are refused, not fitted to a
// negative cost.
func TestFitLinearCosts(t *testing.T) {
	const fixed, baby, giant, diag = 0.5, 0.9, 2.8, 0.12
	times := make([]float64, len(calibrationShapes))
	for k, s := range calibrationShapes {
		times[k] = fixed + baby*float64(s[0]-1) + giant*float64(s[1]-1) + diag*float64(s[0]*s[1])
	}
	b, g, err := fitLinearCosts(calibrationShapes, times, diag)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]float64{{b, baby}, {g, giant}} {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Errorf("fitted %v, want %v", c[0], c[1])
		}
	}
	noisy := make([]float64, len(calibrationShapes))
	for k, s := range calibrationShapes {
		noisy[k] = 10 + float64(s[0]) - 2*float64(s[1])
	}
	if _, _, err := fitLinearCosts(calibrationShapes, noisy, diag); err == nil || !strings.Contains(err.Error(), "too busy") {
		t.Errorf("noisy times: error %v, want one saying the machine was too busy", err)
	}
}

// TestCalibrate measures a small ring (insecure: logN 11 holds no 128-bit
// chain) and checks what the measurements must satisfy on any machine: the
// entry is a valid cost table entry, and a hoisted baby step costs less than
// a rotation. A busy machine can spoil a fit; Calibrate then says so, and
// the test measures again, as a user would.
func TestCalibrate(t *testing.T) {
	if _, err := Calibrate(CalibrateOptions{LogN: 11}); err == nil || !strings.Contains(err.Error(), "needs --insecure") {
		t.Fatalf("logN 11 without Insecure: error %v, want one that names --insecure", err)
	}
	for try := 1; ; try++ {
		e, err := Calibrate(CalibrateOptions{LogN: 11, Reps: 3, Insecure: true})
		if err != nil && strings.Contains(err.Error(), "too busy") && try < 3 {
			t.Logf("try %d: %v", try, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", e)
		if err := (&costmodel.Table{Version: costmodel.Version, Entries: []costmodel.Entry{e}}).Validate(); err != nil {
			t.Error(err)
		}
		if e.LogN != 11 || e.Levels != 2 {
			t.Errorf("logN %d, %d levels; want 11, 2", e.LogN, e.Levels)
		}
		for name, v := range map[string]float64{"rotation": e.Rotation, "ct*ct": e.CtMult, "rescale": e.Rescale, "add": e.Add} {
			if !(v > 0) {
				t.Errorf("%s: %v ms", name, v)
			}
		}
		if e.BabyStep >= e.Rotation {
			t.Errorf("a hoisted baby step (%v ms) costs as much as a rotation (%v ms)", e.BabyStep, e.Rotation)
		}
		return
	}
}
