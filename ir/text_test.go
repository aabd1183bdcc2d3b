package ir

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// textPrimes are NTT-friendly-looking 50-60 bit primes (q[0] first).
var textPrimes = []int64{
	1152921504606584833, // ~2^60
	1099511480321,       // ~2^40
	1099510824961,
	1099510760449,
	1099510630401,
	1099509975041,
}

func textAppend(t testing.TB, f *Func, code, hint string, attrs map[string]Attr, args ...*Value) *Value {
	t.Helper()
	v, err := f.Append(code, hint, attrs, args...)
	if err != nil {
		t.Fatalf("%s: %v", code, err)
	}
	return v
}

func textSeq(n int, scale float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = scale * float64(i-n/2)
	}
	return out
}

// textTensorFunc is a small tensor-level model with attributes of every type.
func textTensorFunc(t testing.TB) *Func {
	f := NewFunc("main")
	x := f.AddParam("x", Tensor([]int{1, 30}, true))
	w := f.AddConst("w0", []int{16, 30}, textSeq(480, 0.01))
	b := f.AddConst("b0", []int{16}, []float64{0.1, -0.25, 1, 2.5e-07, 0, math.Copysign(0, -1), 1e21, 5e-324,
		math.MaxFloat64, -1e-300, 3, 4, 5, 6, 7, 1.0 / 3})
	s := f.AddConst("s", []int{1, 16}, textSeq(16, 0.5))
	wv := textAppend(t, f, "const", "w0", map[string]Attr{"const": w.Name})
	bv := textAppend(t, f, "const", "b0", map[string]Attr{"const": b.Name})
	sv := textAppend(t, f, "const", "s", map[string]Attr{"const": s.Name})
	h := textAppend(t, f, "gemm", "h", map[string]Attr{"alpha": 1.0, "beta": 2.5e-07, "transB": int64(1)}, x, wv, bv)
	r := textAppend(t, f, "relu", "r", nil, h)
	a := textAppend(t, f, "add", "a", nil, r, sv)
	m := textAppend(t, f, "mul", "m", nil, a, sv)
	fl := textAppend(t, f, "flatten", "fl", map[string]Attr{"axis": int64(1)}, m)
	rs := textAppend(t, f, "reshape", "rs", map[string]Attr{"shape": []int64{4, 4}}, fl)
	y := textAppend(t, f, "poly", "y", map[string]Attr{
		"coeffs": []float64{0.5, 0.25, -0.125, 1, 0}, "lo": -3.0, "hi": 3.0,
		"fn": "relu \"approx\"\n\u00e9", "max_err": 0.01, "empty_i": []int64{}, "empty_f": []float64{},
		"neg": int64(-7), "huge": 1e300, "negzero": math.Copysign(0, -1), "inf": math.Inf(-1),
	}, rs)
	f.Results = []*Value{y, m}
	f.Attrs["source"] = "test.onnx"
	f.Attrs["opset"] = int64(13)
	return f
}

// textCKKSFunc is a small ckks-level function with rescales (so non-power-of-two scales).
func textCKKSFunc(t testing.TB) *Func {
	f := NewFunc("enc")
	f.Attrs["q"] = append([]int64(nil), textPrimes...)
	f.Attrs["logN"] = int64(14)
	lay := Layout{Len: 10, Period: 16, Batch: 8}
	x := f.AddParam("x", Type{Kind: CipherType, Shape: []int{1, 10}, Level: 5, Scale: math.Ldexp(1, 40), Degree: 1, Layout: lay})
	w := f.AddConst("w", []int{16}, textSeq(16, 0.125))
	wp := textAppend(t, f, "ckks.encode", "wp", map[string]Attr{"const": w.Name, "batch": int64(8), "level": int64(5), "scale": math.Ldexp(1, 40)})
	r := textAppend(t, f, "ckks.rotate", "r", map[string]Attr{"offset": int64(-8)}, x)
	m1 := textAppend(t, f, "ckks.mul_plain", "m", nil, r, wp)
	m2 := textAppend(t, f, "ckks.mul_plain", "m", nil, x, wp)
	a := textAppend(t, f, "ckks.add", "a", nil, m1, m2)
	rs := textAppend(t, f, "ckks.rescale", "rs", nil, a)
	bc := f.AddConst("b", []int{1}, []float64{0.75})
	bp := textAppend(t, f, "ckks.encode", "bp", map[string]Attr{"const": bc.Name, "batch": int64(8), "level": int64(4), "scale": rs.Type.Scale})
	ap := textAppend(t, f, "ckks.add_plain", "ap", nil, rs, bp)
	sq := textAppend(t, f, "ckks.mul", "sq", nil, ap, ap)
	rl := textAppend(t, f, "ckks.relin", "rl", nil, sq)
	rs2 := textAppend(t, f, "ckks.rescale", "rs", nil, rl)
	y := textAppend(t, f, "ckks.poly", "y", map[string]Attr{"coeffs": []float64{0.5, 0.25, 0.125, 0.1}, "depth": int64(2), "scale": 1099511480321.0}, rs2)
	f.Results = []*Value{y}
	return f
}

var textCmpOpts = []cmp.Option{
	cmpopts.IgnoreUnexported(Func{}),
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }),
}

func textRoundTrip(t *testing.T, f *Func) string {
	t.Helper()
	if err := Verify(f); err != nil {
		t.Fatalf("input does not verify: %v", err)
	}
	s1 := Print(f)
	g, err := Parse(s1)
	if err != nil {
		t.Fatalf("Parse(Print(f)): %v\n%s", err, s1)
	}
	if s2 := Print(g); s2 != s1 {
		t.Fatalf("Print(Parse(Print(f))) differs:\n%s", cmp.Diff(s1, s2))
	}
	if d := cmp.Diff(f, g, textCmpOpts...); d != "" {
		t.Fatalf("parsed function differs (-want +got):\n%s", d)
	}
	return s1
}

func TestTextRoundTripTensor(t *testing.T) {
	s := textRoundTrip(t, textTensorFunc(t))
	for _, want := range []string{
		"func @main(%x: tensor<1x30, secret>) -> (%y, %m) attributes {opset = 13, source = \"test.onnx\"} {\n",
		"  %w0 = const {const = \"w0\"} : tensor<16x30>\n",
		"  %h = gemm %x, %w0, %b0 {alpha = 1.0, beta = 2.5e-07, transB = 1} : tensor<1x16, secret>\n",
		"empty_f = []float64, empty_i = []int64,",
		"shape = [4, 4]",
		"coeffs = [0.5, 0.25, -0.125, 1.0, 0.0]",
		"inf = -Inf", "negzero = -0.0", "huge = 1e+300", "neg = -7",
		"  return %y, %m\n}\n",
		"const @b0 : 16 = [\n  0.1, -0.25, 1.0, 2.5e-07, 0.0, -0.0, 1e+21, 5e-324,\n",
		"const @s : 1x16 = [",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("printed text lacks %q:\n%s", want, s)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("\n%s", PrintWith(textTensorFunc(t), PrintOptions{ElideConsts: true}))
	}
}

func TestTextRoundTripCKKS(t *testing.T) {
	f := textCKKSFunc(t)
	s := textRoundTrip(t, f)
	for _, want := range []string{
		"attributes {logN = 14, q = [1152921504606584833, 1099511480321,",
		"%x: ct<1x10, level=5, scale=2^40, layout=10/16x8>",
		"%wp = ckks.encode {batch = 8, const = \"w\", level = 5, scale = 1.099511627776e+12} : pt<16, level=5, scale=2^40, layout=16/16x8>",
		"%r = ckks.rotate %x {offset = -8} : ct<1x10, level=5, scale=2^40, layout=10/16x8>",
		"%m = ckks.mul_plain %r, %wp : ct<1x10, level=5, scale=2^80, layout=10/16x8>",
		"%sq = ckks.mul %ap, %ap : ct<1x10, level=4, scale=2^80.000004 (0x1.000032700574p+80), degree=2, layout=10/16x8>",
		"%rs = ckks.rescale %a : ct<1x10, level=4, scale=2^40.000002 (0x1.00001938017cp+40), layout=10/16x8>",
		"%rl = ckks.relin %sq : ct<1x10, level=4, scale=2^80.000004 (0x1.000032700574p+80), layout=10/16x8>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("printed text lacks %q:\n%s", want, s)
		}
	}
	if testing.Verbose() {
		t.Logf("\n%s", s)
	}
}

func TestTextElideConsts(t *testing.T) {
	s := PrintWith(textTensorFunc(t), PrintOptions{ElideConsts: true})
	if !strings.Contains(s, "const @w0 : 16x30 = <480 values>\n") {
		t.Fatalf("elided text:\n%s", s)
	}
	if _, err := Parse(s); err == nil || !strings.Contains(err.Error(), "elided") {
		t.Fatalf("Parse of elided text: err = %v, want an error about elided data", err)
	}
}

func TestTextScaleRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	scales := []float64{1, 0.5, math.Ldexp(1, 40), math.Ldexp(1, -1074), 0, math.Copysign(0, -1), -3, math.Inf(1),
		math.Ldexp(1, 80) / 1099511480321, math.Nextafter(math.Ldexp(1, 40), 0), math.MaxFloat64, 5e-324 * 3}
	for i := 0; i < 10000; i++ {
		scales = append(scales, math.Ldexp(1+rng.Float64(), 20+rng.Intn(100)))
	}
	for _, s := range scales {
		text := FormatScale(s)
		got, err := ParseScale(text)
		if err != nil || math.Float64bits(got) != math.Float64bits(s) {
			t.Fatalf("scale %v (%x): printed %q, parsed %v (%x), err %v", s, s, text, got, got, err)
		}
		ty := Type{Kind: PlainType, Shape: []int{4}, Level: 2, Scale: s, Layout: Layout{Len: 4, Period: 4, Batch: 1}}
		back, err := ParseType(ty.String())
		if err != nil || !back.Equal(ty) && !math.IsNaN(s) {
			t.Fatalf("type %s: parsed %s, err %v", ty, back, err)
		}
	}
	// Hand-written forms.
	for text, want := range map[string]float64{
		"2^40": math.Ldexp(1, 40), "2^-3": 0.125, "2^0.5": math.Sqrt2, "2^40 (0x1p+40)": math.Ldexp(1, 40),
		"2^40.000000 (1099511627777.0)": 1099511627777,
	} {
		got, err := ParseScale(text)
		if err != nil || got != want {
			t.Errorf("ParseScale(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
	for _, text := range []string{"40", "2^", "2^x", "2^41 (0x1p+40)", "2^40 (0x1p+40", "2^40 (zz)"} {
		if _, err := ParseScale(text); err == nil {
			t.Errorf("ParseScale(%q) succeeded", text)
		}
	}
}

func TestTextParseType(t *testing.T) {
	for _, s := range []string{
		"tensor<scalar>", "tensor<1x784, secret>", "ct<1x10, level=5, scale=2^40, layout=10/16x8>",
		"ct<1x10, level=5, scale=2^40, degree=2, layout=10/16x8>", "pt<16, level=0, scale=2^-2, layout=16/16x1>",
		"pt<16, level=0, scale=2^1, degree=1, layout=16/16x1>",
	} {
		ty, err := ParseType(s)
		if err != nil {
			t.Fatalf("ParseType(%q): %v", s, err)
		}
		if ty.String() != s {
			t.Errorf("ParseType(%q).String() = %q", s, ty.String())
		}
	}
	for s, want := range map[string]string{
		"tensor<1x2, public>":                     "unexpected",
		"ct<1x10, level=5, layout=10/16x8>":       "missing scale",
		"ct<1x10, level=5, scale=2^40, level=4>":  "twice",
		"vec<3>":                                  "unknown type kind",
		"tensor<1xx2>":                            "bad shape",
		"ct<2, level=1, scale=2^1, layout=2/2>":   "LEN/PERIODxBATCH",
		"ct<2, level=a, scale=2^1, layout=2/2x1>": "level",
		"tensor<3":                                "want kind<...>",
	} {
		if _, err := ParseType(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseType(%q): err = %v, want it to mention %q", s, err, want)
		}
	}
}

const textHandWritten = `// a hand-written function
func @tiny(%x: tensor<2x3, secret>) -> (%y) attributes {note = "hi"} {
  %c = const {const = "c"} : tensor<3x2>   // weights
  %h = matmul %x, %c : tensor<2x2, secret>
  %y = poly %h {coeffs = [0, 1, 0.5], hi = 1.0, lo = -1.0} : tensor<2x2, secret>
  return %y
}

const @c : 3x2 = [1, 2, 3, 4.5, -5, 6e-3] // ints are fine in constant data
`

func TestTextParseHandWritten(t *testing.T) {
	f, err := Parse(textHandWritten)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Ops[2].Floats("coeffs"); !cmp.Equal(got, []float64{0, 1, 0.5}) {
		t.Errorf("coeffs = %v", got)
	}
	if got := f.Consts["c"].Data; !cmp.Equal(got, []float64{1, 2, 3, 4.5, -5, 6e-3}) {
		t.Errorf("const data = %v", got)
	}
	if f.Attrs["note"] != "hi" || f.Name != "tiny" || len(f.Params) != 1 || f.Results[0] != f.Ops[2].Result() {
		t.Errorf("bad function: %s", Print(f))
	}
	textRoundTrip(t, f)

	// quoted names round-trip
	f.Name = "torch-jit export"
	f.Params[0].Name = "input:0"
	textRoundTrip(t, f)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown op", "matmul", "matmull", `line 4:8: unknown op "matmull"`},
		{"undefined value", "matmul %x, %c", "matmul %x, %z", "line 4:19: undefined value %z"},
		{"used before def", "matmul %x, %c", "matmul %x, %y", "line 4:19: %y used before its definition on line 5"},
		{"type mismatch", "tensor<2x2, secret>\n  %y", "tensor<2x2>\n  %y", "line 4:24: type mismatch for %h: written tensor<2x2>, but matmul gives tensor<2x2, secret>"},
		{"bad rule", "%x, %c :", "%c, %c :", "line 4:8: matmul: matmul inner dimensions differ"},
		{"arity", "matmul %x, %c", "matmul %x", "line 4:8: matmul takes 2 operands, got 1"},
		{"missing =", "%h = matmul", "%h matmul", `line 4:6: expected "=", found "matmul"`},
		{"missing type", ": tensor<2x2, secret>\n  %y", "\n  %y", "line 4:3: matmul: 1 results but 0 types written"},
		{"bad type", "tensor<3x2>", "tensor<3x2, secret, public>", "line 3:30: type tensor<3x2, secret, public>: unexpected \"public\""},
		{"duplicate", "%h = matmul", "%c = matmul", "line 4:3: %c defined twice (first on line 3)"},
		{"unknown const", `{const = "c"}`, `{const = "d"}`, "line 3:8: const: unknown constant @d"},
		{"return mismatch", "return %y", "return %h", "return value 0 is %h, the signature says %y"},
		{"empty list", "[0, 1, 0.5]", "[]", "an empty list needs its type"},
		{"int range", "[0, 1, 0.5]", "[99999999999999999999]", "out of int64 range"},
		{"bad number", "[0, 1, 0.5]", "[0, 1x, 0.5]", `bad number "1x"`},
		{"unterminated string", `"hi"`, `"hi`, "unterminated string"},
		{"trailing garbage", "6e-3]", "6e-3] junk", `expected "const" or end of input`},
		{"missing brace", "  return %y\n}", "  return %y\n", `line 9:1: expected "}", found "const"`},
		{"dup attr", "hi = 1.0,", "hi = 1.0, hi = 2.0,", "attribute hi given twice"},
		{"verify", "%c = const", "%x = const", "%x defined twice"},
	} {
		src := strings.Replace(textHandWritten, tc.old, tc.new, 1)
		if src == textHandWritten {
			t.Fatalf("%s: replacement %q not found", tc.name, tc.old)
		}
		_, err := Parse(src)
		if err == nil {
			t.Errorf("%s: Parse succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.name, err, tc.want)
		}
	}
	for _, src := range []string{"", "func", "func @f(", "func @f() -> () {", "func @f() -> () { return }", "}", "\x00", "func @f(%x: tensor<1>) -> (%x) { return %x } const @c : 1 = <1 values>"} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Print(textTensorFunc(f)))
	f.Add(Print(textCKKSFunc(f)))
	placed := textCKKSFunc(f)
	placed.Params[0].Type.Layout.Positions = FormatPositions([]int{15, 0, 1, 2, 3, 4, 5, 6, 7, 9})
	f.Add(Print(placed))
	f.Add(textHandWritten)
	f.Add("func @f(%x: tensor<1>) -> (%x) {\n  return %x\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		g, err := Parse(src)
		if err != nil {
			return
		}
		s1 := Print(g)
		h, err := Parse(s1)
		if err != nil {
			t.Fatalf("Parse(Print(Parse(src))): %v\n%s", err, s1)
		}
		if s2 := Print(h); s2 != s1 {
			t.Fatalf("round trip differs:\n%s", cmp.Diff(s1, s2))
		}
	})
}

// TestTextPlacedLayout: a placed layout prints its positions after the
// layout, parses back to the same positions, and a bad position is an error.
func TestTextPlacedLayout(t *testing.T) {
	f := textCKKSFunc(t)
	pos := []int{15, 0, 1, 2, 3, 4, 5, 6, 7, 9}
	f.Params[0].Type.Layout.Positions = FormatPositions(pos)
	s := Print(f)
	want := "%x: ct<1x10, level=5, scale=2^40, layout=10/16x8, positions=15 0 1 2 3 4 5 6 7 9>"
	if !strings.Contains(s, want) {
		t.Fatalf("printed text lacks %q:\n%s", want, s)
	}
	back, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Params[0].Type.Layout; got.Pos(0) != 15 || got.Pos(9) != 9 || got.Tiled().Positions[1] != 0 {
		t.Fatalf("parsed layout %+v", got)
	}
	for _, c := range []struct{ old, new, want string }{
		{"positions=15 0", "positions=15 x", `position "x"`},
		{"positions=15 0", "positions=15 15", "which another element holds"},
		{"positions=15 0", "positions=16 0", "outside the period"},
		{"positions=15 0 1 2 3 4 5 6 7 9", "positions=15 0 1", "3 positions for 10 values"},
	} {
		if _, err := Parse(strings.Replace(s, c.old, c.new, 1)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.new, err, c.want)
		}
	}
}
