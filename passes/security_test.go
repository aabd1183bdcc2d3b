package passes

import (
	"testing"

	"github.com/fhec/fhec/ir"
)

// TestSecurityTables: the HomomorphicEncryption.org bounds (ternary secret,
// classical), and SecurityLevel's reading of them.
func TestSecurityTables(t *testing.T) {
	std := map[int][6]int{ // logN 10..15
		128: {27, 54, 109, 218, 438, 881},
		192: {19, 37, 75, 152, 305, 611},
		256: {14, 29, 58, 118, 237, 476},
	}
	for bits, want := range std {
		for i, v := range want {
			if got := MaxLogQP[bits][10+i]; got != v {
				t.Errorf("%d bits, logN %d: %d, the standard says %d", bits, 10+i, got, v)
			}
		}
		if got, want := MaxLogQP[bits][16], 2*want[5]-1; got != want {
			t.Errorf("%d bits, logN 16: %d, want the extrapolation %d", bits, got, want)
		}
	}
	for logN := 10; logN <= 16; logN++ {
		if !(MaxLogQP256[logN] < MaxLogQP192[logN] && MaxLogQP192[logN] < MaxLogQP128[logN]) {
			t.Errorf("logN %d: bounds not ordered", logN)
		}
		for _, bits := range []int{128, 192, 256} {
			if got := SecurityLevel(logN, float64(MaxLogQP[bits][logN])); got != bits {
				t.Errorf("SecurityLevel(%d, %d) = %d, want %d", logN, MaxLogQP[bits][logN], got, bits)
			}
		}
		if got := SecurityLevel(logN, float64(MaxLogQP128[logN])+0.5); got != 0 {
			t.Errorf("SecurityLevel above the 128-bit bound = %d", got)
		}
	}
}

// TestDefaultParamsSecure: every parameter set selection can choose without
// --insecure is within the standard's bound for the requested level:
// plain chains over the depths and slot counts, and the bootstrapping
// circuits.
func TestDefaultParamsSecure(t *testing.T) {
	for _, bits := range []int{128, 192, 256} {
		table := MaxLogQP[bits]
		budget := func(logN int) float64 { return float64(table[logN]) }
		sec := func(logN int, q float64) int {
			if q <= float64(table[logN]) {
				return bits
			}
			return 0
		}
		for _, depth := range []int{1, 3, 7, 12, 20, 30, 45} {
			for _, period := range []int{16, 1024} {
				p, err := selectPlain(depth, period, 6+6*(depth%2), 0, budget, sec, false)
				if err != nil {
					t.Fatal(err)
				}
				if p == nil {
					continue
				}
				if p.Security != bits || p.LogQP > float64(table[p.LogN]) {
					t.Errorf("%d bits, depth %d: logN %d log2(QP) %.1f claims %d", bits, depth, p.LogN, p.LogQP, p.Security)
				}
			}
		}
	}
	f := &ir.Func{Attrs: map[string]ir.Attr{}}
	p, err := selectBootstrapped(f, 100, 64, 128, false)
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Bootstrap; b == nil || b.LogQP > float64(MaxLogQP128[16]) || p.LogQP > float64(MaxLogQP128[16]) || p.Security != 128 {
		t.Fatalf("bootstrapping parameters %+v (%+v) exceed the 128-bit bound", p, p.Bootstrap)
	}
	if _, err := selectBootstrapped(f, 100, 64, 256, false); err == nil {
		t.Fatal("256-bit bootstrapping at N = 2^16 accepted")
	}
}

// TestKeySwitchPrimes: two key-switching primes (half the digits) are
// chosen where the scale stays >= 2^30 and the key-switching cost model
// says they are cheaper (the 784-128-10 MLP with x²: depth 3 at logN 13);
// a deeper program (depth 5, CryptoNets) keeps one, since two would leave
// a scale below 2^30. Both stay within the 128-bit bound.
func TestKeySwitchPrimes(t *testing.T) {
	budget := func(logN int) float64 { return float64(MaxLogQP128[logN]) }
	sec := func(logN int, q float64) int {
		if q <= float64(MaxLogQP128[logN]) {
			return 128
		}
		return 0
	}
	if !(keySwitchCost(4, 2) < keySwitchCost(4, 1)) || !(keySwitchCostSum(3, 2) < keySwitchCostSum(3, 1)) {
		t.Fatalf("cost model: 4 levels, 1 prime %.0f, 2 primes %.0f", keySwitchCost(4, 1), keySwitchCost(4, 2))
	}
	for _, c := range []struct{ depth, headroom, wantP, minScale int }{
		{3, 6, 2, minLogScaleFewerDigits},
		{3, 12, 2, minLogScaleFewerDigits},
		{5, 8, 1, minLogScale},
	} {
		p, err := selectPlain(c.depth, 1024, c.headroom, 0, budget, sec, false)
		if err != nil || p == nil {
			t.Fatalf("depth %d: %v, %v", c.depth, p, err)
		}
		if len(p.P) != c.wantP || p.LogScale < c.minScale || p.LogN != 13 || p.LogQP > float64(MaxLogQP128[13]) {
			t.Errorf("depth %d headroom %d: logN %d, %d P primes, scale 2^%d, log2(QP) %.1f; want %d P primes, scale >= 2^%d at logN 13",
				c.depth, c.headroom, p.LogN, len(p.P), p.LogScale, p.LogQP, c.wantP, c.minScale)
		}
	}
}

// TestBootstrapScale: the scale between bootstraps is the largest that
// fits the most steps per bootstrap, within the 128-bit budget at 2^16:
// steps of 7 levels (degree-63 ReLUs) keep 2^40 and its 14 levels; steps of
// 8 (degree 127) take a smaller scale whose 16 levels hold two of them.
func TestBootstrapScale(t *testing.T) {
	circ := secureCircuit(16)
	budget := float64(MaxLogQP128[16])
	for _, c := range []struct{ need, steps, maxScale int }{{7, 2, 40}, {8, 2, 39}, {5, 3, 40}} {
		s, l, err := bootstrapScale(circ, budget, c.need)
		if err != nil {
			t.Fatal(err)
		}
		if l/c.need != c.steps || s > c.maxScale || s < minBootstrapLogScale {
			t.Errorf("steps of %d levels: scale 2^%d, %d levels (%d steps); want %d steps at a scale <= 2^%d", c.need, s, l, l/c.need, c.steps, c.maxScale)
		}
		if _, bp, err := bootstrapParams(circ, l, s); err != nil || bp.BootstrappingParameters.LogQP() > budget {
			t.Errorf("scale 2^%d, %d levels: %v, log2(QP) over the budget", s, l, err)
		}
		t.Logf("steps of %d levels: scale 2^%d, %d levels", c.need, s, l)
	}
}
