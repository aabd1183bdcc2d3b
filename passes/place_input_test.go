package passes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fhec/fhec/ir"
)

// stridedConvIR is CryptoNets' first layer at a given size: conv k x k,
// stride 2, c channels, pads [1, 1, 2, 2], a transpose to channels last,
// a square and a dense layer to 10.
func stridedConvIR(h, c, k int, rng *rand.Rand) string {
	o := h / 2
	vals := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprintf("%.3f", rng.Float64()-0.5)
		}
		return strings.Join(v, ", ")
	}
	return fmt.Sprintf(`func @cn(%%x: tensor<1x1x%[1]dx%[1]d, secret>) -> (%%y) {
  %%k = const {const = "k"} : tensor<%[2]dx1x%[3]dx%[3]d>
  %%kb = const {const = "kb"} : tensor<%[2]d>
  %%c = conv %%x, %%k, %%kb {pads = [1, 1, 2, 2], strides = [2, 2]} : tensor<1x%[2]dx%[4]dx%[4]d, secret>
  %%t = transpose %%c {perm = [0, 2, 3, 1]} : tensor<1x%[4]dx%[4]dx%[2]d, secret>
  %%s = mul %%t, %%t : tensor<1x%[4]dx%[4]dx%[2]d, secret>
  %%f = reshape %%s {shape = [1, %[5]d]} : tensor<1x%[5]d, secret>
  %%w = const {const = "w"} : tensor<10x%[5]d>
  %%b = const {const = "b"} : tensor<10>
  %%y = gemm %%f, %%w, %%b {transB = 1} : tensor<1x10, secret>
  return %%y
}

const @k : %[2]dx1x%[3]dx%[3]d = [%[6]s]
const @kb : %[2]d = [%[7]s]
const @w : 10x%[5]d = [%[8]s]
const @b : 10 = [%[9]s]
`, h, c, k, o, o*o*c, vals(c*k*k), vals(c), vals(10*o*o*c), vals(10))
}

// TestPlacedStridedConv: the input of a strided convolution is placed
// (space to depth) and the convolution then needs at most (4 phases + c - 1)
// x 9 taps = 72 diagonals; the contiguous layout needs 256 (measured before
// placement existed). The lowered program equals the tensor program.
func TestPlacedStridedConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := stridedConvIR(28, 5, 5, rng)
	orig, err := ir.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ir.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Pipeline{Passes: Standard()}).Run(f, &Context{Insecure: true, Batch: 1, DefaultRange: 4}); err != nil {
		t.Fatal(err)
	}
	in := f.Params[0].Type.Layout
	if in.Positions == "" {
		t.Fatalf("input not placed: layout %+v", in)
	}
	var first *ir.Op
	for _, op := range f.Ops {
		if op.Code == "ckks.linear" {
			first = op
			break
		}
	}
	if n := len(first.Ints("offsets")); n > 72 {
		t.Fatalf("convolution on a placed input: %d diagonals, want <= 72", n)
	} else {
		t.Logf("convolution: %d diagonals (period %d)", n, in.Period)
	}
	var samples [][]float64
	for i := 0; i < 4; i++ {
		x := make([]float64, 28*28)
		for j := range x {
			x[j] = rng.Float64()*2 - 1
		}
		samples = append(samples, x)
	}
	want := interpretAll(t, orig, samples)
	got := simulateAll(t, f, samples)
	for s := range want {
		for k := range want[s] {
			if math.Abs(got[s][k]-want[s][k]) > 1e-9*(1+math.Abs(want[s][k])) {
				t.Fatalf("sample %d output %d: %v, want %v", s, k, got[s][k], want[s][k])
			}
		}
	}
}

// TestPlacementOnlyForSoleDenseReader: an input that a slot-wise op reads
// (here squared before the convolution) keeps the contiguous layout, which
// that op's other operands share.
func TestPlacementOnlyForSoleDenseReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	src := strings.Replace(stridedConvIR(28, 5, 5, rng), "%c = conv %x,", "%x2 = mul %x, %x : tensor<1x1x28x28, secret>\n  %c = conv %x2,", 1)
	f, err := ir.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Pipeline{Passes: Standard()}).Run(f, &Context{Insecure: true, Batch: 1, DefaultRange: 4}); err != nil {
		t.Fatal(err)
	}
	if l := f.Params[0].Type.Layout; l.Positions != "" {
		t.Error("an input read by a product was placed")
	}
}
