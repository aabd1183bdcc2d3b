package vec

import (
	"math"
	"testing"
)

func TestArgmax(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want int
	}{{nil, 0}, {[]float64{3}, 0}, {[]float64{1, 5, 2}, 1}, {[]float64{-1, -3, -0.5}, 2}, {[]float64{2, 7, 7}, 1}, {[]float64{math.NaN(), -4, 2}, 2}, {[]float64{1, math.NaN(), 3}, 2}} {
		if got := Argmax(c.v); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}
