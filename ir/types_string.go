package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// String prints a type in the IR text form:
//
//	tensor<1x784, secret>
//	ct<1x10, level=5, scale=2^40.000012 (0x1.0000083p+40), layout=10/16x8>
//	pt<16, level=5, scale=2^40, layout=16/16x8>
//
// A scale that is an exact power of two prints as 2^N. Any other scale prints
// as its log2 rounded to six decimals (for the reader) followed by its exact
// value as a hexadecimal float in parentheses (for the parser), so scales
// round-trip bit for bit on every platform. The degree of a ciphertext is
// printed only when it is not 1 (the degree of a plaintext only when not 0).
// ParseType reads this form back.
func (t Type) String() string {
	var b strings.Builder
	switch t.Kind {
	case TensorType:
		b.WriteString("tensor<")
	case CipherType:
		b.WriteString("ct<")
	case PlainType:
		b.WriteString("pt<")
	default:
		fmt.Fprintf(&b, "kind%d<", int(t.Kind))
	}
	b.WriteString(ShapeString(t.Shape))
	if t.Kind == TensorType {
		if t.Secret {
			b.WriteString(", secret")
		}
	} else {
		fmt.Fprintf(&b, ", level=%d, scale=%s", t.Level, FormatScale(t.Scale))
		if t.Degree != defaultDegree(t.Kind) {
			fmt.Fprintf(&b, ", degree=%d", t.Degree)
		}
		fmt.Fprintf(&b, ", layout=%d/%dx%d", t.Layout.Len, t.Layout.Period, t.Layout.Batch)
		if t.Layout.Block > 0 {
			fmt.Fprintf(&b, ":%d@%d", t.Layout.Block, t.Layout.Stride)
		}
		if t.Layout.Positions != "" {
			fmt.Fprintf(&b, ", positions=%s", t.Layout.Positions)
		}
	}
	b.WriteString(">")
	return b.String()
}

// defaultDegree is the degree a type of the kind has unless it says otherwise.
func defaultDegree(k TypeKind) int {
	if k == CipherType {
		return 1
	}
	return 0
}

// FormatScale prints a CKKS scale as in Type.String: "2^40" for an exact
// power of two, else "2^40.000012 (0x1.0000083p+40)" (approximate log2, then
// the exact value).
func FormatScale(s float64) string {
	if frac, exp := math.Frexp(s); frac == 0.5 {
		return "2^" + strconv.Itoa(exp-1)
	}
	return "2^" + strconv.FormatFloat(math.Log2(s), 'f', 6, 64) + " (" + strconv.FormatFloat(s, 'x', -1, 64) + ")"
}

// ShapeString prints dims as 1x784 (a scalar prints as "scalar").
func ShapeString(s []int) string {
	if len(s) == 0 {
		return "scalar"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}
