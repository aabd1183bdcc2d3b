// Package layout maps tensors to CKKS slots and back. It is the one place
// both sides of the wire agree on: the compiler's simulator, the client's
// encryption and decryption, and every runtime use it.
//
// A Tiled layout puts a vector of Len values in a period of Period slots
// (Period a power of two >= Len), repeats that period cyclically over all the
// slots, and interleaves Batch samples: slot s holds element (s/Batch) mod
// Period of sample s mod Batch, or 0 when that element index is >= Len.
// Because the pattern repeats over the whole (cyclic) slot vector, a rotation
// by k*Batch slots is a cyclic shift by k of every sample's vector, which is
// what the diagonal method for matrix-vector products needs, with no masks.
package layout

import "fmt"

// Tiled describes the packing above.
//
// With Block > 0 the layout is blocked: element f sits at position
// (f/Block)*Stride + f%Block of the period (see Pos). With Positions set
// (Block 0), element f sits at position Positions[f]: the client scatters
// its input so that the first layer needs fewer diagonals (a strided
// convolution reads a space-to-depth arrangement at few fixed offsets).
type Tiled struct {
	Len       int
	Period    int
	Batch     int
	Block     int // 0: contiguous
	Stride    int
	Positions []int
}

// Pos is the position of element f within the period.
func (t Tiled) Pos(f int) int {
	if t.Positions != nil {
		return t.Positions[f]
	}
	if t.Block == 0 {
		return f
	}
	return (f/t.Block)*t.Stride + f%t.Block
}

// Validate checks the layout against a slot count.
func (t Tiled) Validate(slots int) error {
	switch {
	case t.Len < 1:
		return fmt.Errorf("layout: length %d < 1", t.Len)
	case t.Period < t.Len || t.Period < 1 || t.Period&(t.Period-1) != 0:
		return fmt.Errorf("layout: period %d is not a power of two >= length %d", t.Period, t.Len)
	case t.Batch < 1 || t.Batch&(t.Batch-1) != 0:
		return fmt.Errorf("layout: batch %d is not a power of two", t.Batch)
	case slots%(t.Period*t.Batch) != 0:
		return fmt.Errorf("layout: period %d x batch %d does not divide %d slots", t.Period, t.Batch, slots)
	case t.Block < 0 || t.Block > 0 && (t.Stride < t.Block || t.Pos(t.Len-1) >= t.Period):
		return fmt.Errorf("layout: blocks of %d every %d do not fit %d values in a period of %d", t.Block, t.Stride, t.Len, t.Period)
	case t.Block == 0 && t.Stride != 0:
		return fmt.Errorf("layout: stride %d without a block size", t.Stride)
	case t.Positions != nil:
		return t.validatePositions()
	}
	return nil
}

// validatePositions checks an explicit placement: one distinct position in
// the period per element, and no blocks besides.
func (t Tiled) validatePositions() error {
	if t.Block != 0 {
		return fmt.Errorf("layout: positions and blocks of %d both given", t.Block)
	}
	if len(t.Positions) != t.Len {
		return fmt.Errorf("layout: %d positions for %d values", len(t.Positions), t.Len)
	}
	used := make([]bool, t.Period)
	for f, p := range t.Positions {
		if p < 0 || p >= t.Period {
			return fmt.Errorf("layout: element %d at position %d, outside the period of %d", f, p, t.Period)
		}
		if used[p] {
			return fmt.Errorf("layout: element %d at position %d, which another element holds", f, p)
		}
		used[p] = true
	}
	return nil
}

// Pack places up to Batch sample vectors (each of Len values) into a slot
// vector of the given size. Missing samples are zeros.
func (t Tiled) Pack(samples [][]float64, slots int) ([]float64, error) {
	if err := t.Validate(slots); err != nil {
		return nil, err
	}
	if len(samples) > t.Batch {
		return nil, fmt.Errorf("layout: %d samples for a batch of %d", len(samples), t.Batch)
	}
	out := make([]float64, slots)
	for b, v := range samples {
		if len(v) != t.Len {
			return nil, fmt.Errorf("layout: sample %d has %d values, want %d", b, len(v), t.Len)
		}
		for f, x := range v {
			for base := t.Pos(f) * t.Batch; base < slots; base += t.Period * t.Batch {
				out[base+b] = x
			}
		}
	}
	return out, nil
}

// Unpack reads n samples (n <= Batch) back from a slot vector, from the first period.
func (t Tiled) Unpack(slotValues []float64, n int) ([][]float64, error) {
	if err := t.Validate(len(slotValues)); err != nil {
		return nil, err
	}
	if n > t.Batch {
		return nil, fmt.Errorf("layout: %d samples asked from a batch of %d", n, t.Batch)
	}
	out := make([][]float64, n)
	for b := range out {
		out[b] = make([]float64, t.Len)
		for f := 0; f < t.Len; f++ {
			out[b][f] = slotValues[t.Pos(f)*t.Batch+b]
		}
	}
	return out, nil
}

// Broadcast expands a constant vector whose length is its own period (a
// power of two; 1 for a scalar) to all slots, shared by every sample.
func Broadcast(v []float64, batch, slots int) ([]float64, error) {
	t := Tiled{Len: len(v), Period: len(v), Batch: batch}
	if err := t.Validate(slots); err != nil {
		return nil, err
	}
	out := make([]float64, slots)
	for s := range out {
		out[s] = v[(s/batch)%len(v)]
	}
	return out, nil
}
