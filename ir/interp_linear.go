package ir

import "fmt"

// linear computes y[1,m] = W[m,n] * flatten(x) + b[m].
func linear(x, w, b Array) (Array, error) {
	if len(w.Shape) != 2 || w.Shape[1] != len(x.Data) || len(b.Data) != w.Shape[0] {
		return Array{}, fmt.Errorf("linear: weight %v, bias %v and an input of %d elements do not fit", w.Shape, b.Shape, len(x.Data))
	}
	m, n := w.Shape[0], w.Shape[1]
	out := Array{Shape: []int{1, m}, Data: make([]float64, m)}
	for i := 0; i < m; i++ {
		s := b.Data[i]
		row := w.Data[i*n : (i+1)*n]
		for j, v := range row {
			s += v * x.Data[j]
		}
		out.Data[i] = s
	}
	return out, nil
}
