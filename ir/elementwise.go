package ir

import "math"

// ElementwiseFunc returns the scalar function of a unary element-wise
// tensor op (relu, sigmoid, tanh, gelu, ...), with its attributes applied:
// the single definition the interpreter and the polynomial fitting share.
func ElementwiseFunc(o *Op) (func(float64) float64, error) {
	if o.Code == "relu" {
		return func(x float64) float64 { return math.Max(x, 0) }, nil
	}
	return nnUnary(o)
}
