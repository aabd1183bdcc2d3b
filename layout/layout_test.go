package layout

import (
	"strings"
	"testing"
)

// TestPlacedRoundTrip: a placed layout puts element f at Positions[f] of
// every period, sample b in slot pos*Batch + b, and Unpack reads it back.
func TestPlacedRoundTrip(t *testing.T) {
	l := Tiled{Len: 3, Period: 4, Batch: 2, Positions: []int{3, 0, 2}}
	samples := [][]float64{{1, 2, 3}, {4, 5, 6}}
	slots, err := l.Pack(samples, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2, 5, 0, 0, 3, 6, 1, 4}
	for s, v := range slots {
		if v != want[s%8] {
			t.Fatalf("slot %d = %v, want %v (slots %v)", s, v, want[s%8], slots)
		}
	}
	back, err := l.Unpack(slots, 2)
	if err != nil {
		t.Fatal(err)
	}
	for b := range samples {
		for f := range samples[b] {
			if back[b][f] != samples[b][f] {
				t.Fatalf("sample %d element %d: %v, want %v", b, f, back[b][f], samples[b][f])
			}
		}
	}
}

func TestPlacedValidate(t *testing.T) {
	for _, c := range []struct {
		l   Tiled
		msg string
	}{
		{Tiled{Len: 3, Period: 4, Batch: 1, Positions: []int{0, 1}}, "2 positions for 3 values"},
		{Tiled{Len: 3, Period: 4, Batch: 1, Positions: []int{0, 1, 4}}, "outside the period"},
		{Tiled{Len: 3, Period: 4, Batch: 1, Positions: []int{0, -1, 2}}, "outside the period"},
		{Tiled{Len: 3, Period: 4, Batch: 1, Positions: []int{0, 2, 2}}, "which another element holds"},
		{Tiled{Len: 3, Period: 8, Batch: 1, Block: 2, Stride: 4, Positions: []int{0, 1, 2}}, "positions and blocks"},
	} {
		err := c.l.Validate(8)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: error %v, want %q", c.l, err, c.msg)
		}
		if _, err := c.l.Pack(nil, 8); err == nil {
			t.Errorf("%+v: Pack accepted it", c.l)
		}
	}
}
