// Package vec holds small helpers on float64 vectors shared by the
// commands, examples and tests.
package vec

import "math"

// Argmax returns the index of the largest value (the first on ties; NaNs
// lose to any number; 0 for an empty vector).
func Argmax(v []float64) int {
	b := 0
	for i := range v {
		if v[i] > v[b] || math.IsNaN(v[b]) && !math.IsNaN(v[i]) {
			b = i
		}
	}
	return b
}
