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
//	ct<1x10, level=5, scale=2^40.000012, layout=10/16x8>
//	pt<16, level=5, scale=2^40, layout=16/16x8>
//
// Scales are printed as exact log2 values (shortest float64 that round-trips).
func (t Type) String() string {
	var b strings.Builder
	switch t.Kind {
	case TensorType:
		b.WriteString("tensor<")
	case CipherType:
		b.WriteString("ct<")
	case PlainType:
		b.WriteString("pt<")
	}
	b.WriteString(ShapeString(t.Shape))
	if t.Kind == TensorType {
		if t.Secret {
			b.WriteString(", secret")
		}
	} else {
		fmt.Fprintf(&b, ", level=%d, scale=2^%s", t.Level, strconv.FormatFloat(math.Log2(t.Scale), 'g', -1, 64))
		if t.Degree > 1 {
			fmt.Fprintf(&b, ", degree=%d", t.Degree)
		}
		fmt.Fprintf(&b, ", layout=%d/%dx%d", t.Layout.Len, t.Layout.Period, t.Layout.Batch)
	}
	b.WriteString(">")
	return b.String()
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
