package passes

import (
	"math/rand/v2"
	"testing"
)

// TestChooseFloor: per-element ranges when the calibration samples agree on
// each element's scale (leave-one-out overshoot small), layer-wide ranges
// when a sample lights up elements the others barely touch.
func TestChooseFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m = 8
	stable := make([]float64, 256*m)
	for s := 0; s < 256; s++ {
		for j := 0; j < m; j++ {
			stable[s*m+j] = float64(j+1) * (2*rng.Float64() - 1) // element j in [-(j+1), j+1]
		}
	}
	if fl := chooseFloor(stable, m); fl > 0.2 {
		t.Errorf("stable per-element scales: floor %g, want per-element ranges (<= 0.2)", fl)
	}
	const ms = 16
	sparse := make([]float64, 16*ms)
	for s := 0; s < 16; s++ {
		for j := 0; j < ms; j++ {
			sparse[s*ms+j] = 0.01 * rng.NormFloat64()
		}
		sparse[s*ms+s] = 5 + rng.Float64() // each sample alone inks one element
	}
	if fl := chooseFloor(sparse, ms); fl != 1 {
		t.Errorf("sparse activations: floor %g, want layer-wide ranges (1)", fl)
	}
	if got := looOvershoot(sparse, ms, 1); got > 1.25 {
		t.Errorf("layer-wide leave-one-out overshoot %g", got)
	}
	if fl := chooseFloor(stable[:m], m); fl != DefaultRangeFloor {
		t.Errorf("one sample: floor %g, want the default %g", fl, DefaultRangeFloor)
	}
}
