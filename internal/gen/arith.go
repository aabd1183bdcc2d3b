package main

import "math"

// Reproducibility across machines: the Go spec lets a compiler fuse x*y + z
// into one multiply-add (it does on arm64, ppc64le, s390x and riscv64), and
// math.Exp's amd64 assembly takes a different path on CPUs with FMA. So the
// trainer wraps every product that feeds an addition in an explicit float64
// conversion, which forbids fusion, and uses exp below instead of math.Exp.
// Addition, multiplication, division and square root are correctly rounded
// everywhere, so the results are the same bits on every platform.
//
// gonum is not used for the arithmetic for the same reason: its kernels are
// assembly on amd64 and fusible Go elsewhere.

// sqrt is math.Sqrt, which is correctly rounded on every platform.
func sqrt(x float64) float64 { return math.Sqrt(x) }

// exp returns e**x to about 1 ulp with only correctly rounded operations.
func exp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709:
		return math.Inf(1)
	case x < -745:
		return 0
	}
	// ln2 split in two (Cody and Waite) so that k*ln2Hi is exact.
	const (
		ln2   = 0.6931471805599453
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
	)
	k := math.Floor(x/ln2 + 0.5)
	r := (x - float64(k*ln2Hi)) - float64(k*ln2Lo) // |r| <= ln2/2 (about)
	// Taylor series of e**r in Horner form; 18 terms are well below 1 ulp
	// for |r| < 0.35.
	p := 1.0
	for i := 18; i >= 1; i-- {
		p = 1 + float64(float64(r/float64(i))*p)
	}
	return math.Ldexp(p, int(k))
}
