// The IR text form.
//
// Print writes a function, Parse reads it back; Print(Parse(Print(f))) is
// Print(f) byte for byte and the parsed function equals f (constants and
// scales bit for bit, attributes with their Go types). Example:
//
//	func @main(%x: tensor<1x30, secret>) -> (%y) attributes {logN = 14, q = [1152921504606584833, 1099511480321]} {
//	  %w0 = const {const = "w0"} : tensor<16x30>
//	  %h = gemm %x, %w0 {alpha = 1.0, transB = 1} : tensor<1x16, secret>
//	  %y = relu %h : tensor<1x16, secret>
//	  return %y
//	}
//
//	const @w0 : 16x30 = [
//	  0.1, -0.25, 1.0, 2.5e-07, 0.0, 0.0, 0.0, 0.0,
//	  ...
//	]
//
// Grammar (whitespace, including newlines, is free between tokens; "//"
// starts a comment running to the end of the line):
//
//	file      = func const*
//	func      = "func" @name "(" [param {"," param}] ")" "->" "(" [values] ")"
//	            ["attributes" attrs] "{" op* "return" [values] "}"
//	param     = %name ":" type
//	op        = [values "="] opcode [values] [attrs] [":" type {"," type}]
//	values    = %name {"," %name}
//	attrs     = "{" [key "=" value {"," key "=" value}] "}"
//	value     = int | float | string | "[" num {"," num} "]" | "[]int64" | "[]float64"
//	const     = "const" @name ":" shape "=" "[" [num {"," num}] "]"
//	type      = tensor<SHAPE[, secret]>
//	          | ct<SHAPE, level=L, scale=S[, degree=D], layout=LEN/PERIODxBATCH[:BLOCK@STRIDE]>
//	          | pt<SHAPE, level=L, scale=S[, degree=D], layout=LEN/PERIODxBATCH[:BLOCK@STRIDE]>
//	shape     = "scalar" | dim {"x" dim}
//
// Names (%value, @function, @constant), opcodes and attribute keys are
// [A-Za-z0-9_.]+, or a Go-quoted string for anything else (%"a b"). The
// header's result list and the return statement name the same values.
//
// Numbers: an int is an optional sign and decimal digits (int64). A float
// always shows a '.', an exponent, Inf or NaN (1.0, 2.5e-07, -Inf, NaN), so
// the printer writes float64 attributes as the shortest decimal that reads
// back to the same bits, plus ".0" when that looks like an int. A list of
// ints is an []int64; a list with any float in it is an []float64; empty
// lists carry their type: []int64, []float64. Strings are Go-quoted.
// Constant data is always float64 (ints are accepted).
//
// Scales in ct/pt types are 2^N for exact powers of two, otherwise
// 2^<log2, six decimals> (<exact hex float>), e.g. 2^39.999998 (0x1.ffffe8p+39);
// the hex value is the one that counts.
//
// Attribute keys, function attributes and constants are printed sorted.
// Parse resolves operands (errors name the line of an unknown or
// used-before-defined value), checks every written result type against the
// op table's type rule, and runs Verify.

package ir

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// PrintOptions tunes PrintWith.
type PrintOptions struct {
	// ElideConsts replaces constant data by a summary such as <7840 values>.
	// Such text is for human reading only: Parse rejects it.
	ElideConsts bool
}

// Print returns the text form of f (see the grammar above); Parse reads it back.
func Print(f *Func) string { return PrintWith(f, PrintOptions{}) }

// constValuesPerLine is how many constant values a printed line holds.
const constValuesPerLine = 8

// PrintWith is Print with options.
func PrintWith(f *Func, o PrintOptions) string {
	var b strings.Builder
	if f == nil {
		return "<nil func>\n"
	}
	b.WriteString("func ")
	b.WriteString(sigilName('@', f.Name))
	b.WriteByte('(')
	for i, p := range f.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(&b, p)
		if p != nil {
			b.WriteString(": ")
			b.WriteString(p.Type.String())
		}
	}
	b.WriteString(") -> (")
	writeValues(&b, f.Results)
	b.WriteByte(')')
	if len(f.Attrs) > 0 {
		b.WriteString(" attributes ")
		writeAttrs(&b, f.Attrs)
	}
	b.WriteString(" {\n")
	for _, op := range f.Ops {
		b.WriteString("  ")
		if op == nil {
			b.WriteString("<nil op>\n")
			continue
		}
		if len(op.Results) > 0 {
			writeValues(&b, op.Results)
			b.WriteString(" = ")
		}
		b.WriteString(plainOrQuoted(op.Code))
		if len(op.Args) > 0 {
			b.WriteByte(' ')
			writeValues(&b, op.Args)
		}
		if len(op.Attrs) > 0 {
			b.WriteByte(' ')
			writeAttrs(&b, op.Attrs)
		}
		if len(op.Results) > 0 {
			b.WriteString(" :")
			for i, r := range op.Results {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteByte(' ')
				if r == nil {
					b.WriteString("<nil>")
				} else {
					b.WriteString(r.Type.String())
				}
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("  return")
	if len(f.Results) > 0 {
		b.WriteByte(' ')
		writeValues(&b, f.Results)
	}
	b.WriteString("\n}\n")
	for _, name := range f.ConstNames() {
		c := f.Consts[name]
		b.WriteString("\nconst ")
		b.WriteString(sigilName('@', name))
		if c == nil {
			b.WriteString(" : <nil>\n")
			continue
		}
		b.WriteString(" : ")
		b.WriteString(ShapeString(c.Shape))
		b.WriteString(" = ")
		switch {
		case o.ElideConsts:
			fmt.Fprintf(&b, "<%d values>", len(c.Data))
		case len(c.Data) <= constValuesPerLine:
			b.WriteByte('[')
			for i, x := range c.Data {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(formatFloat(x))
			}
			b.WriteByte(']')
		default:
			b.WriteString("[\n")
			for i, x := range c.Data {
				if i%constValuesPerLine == 0 {
					b.WriteString("  ")
				}
				b.WriteString(formatFloat(x))
				switch {
				case i == len(c.Data)-1:
					b.WriteByte('\n')
				case i%constValuesPerLine == constValuesPerLine-1:
					b.WriteString(",\n")
				default:
					b.WriteString(", ")
				}
			}
			b.WriteByte(']')
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

func plainOrQuoted(s string) string {
	if isIdent(s) {
		return s
	}
	return strconv.Quote(s)
}

func sigilName(sigil byte, name string) string {
	return string(sigil) + plainOrQuoted(name)
}

func writeValue(b *strings.Builder, v *Value) {
	if v == nil {
		b.WriteString("%<nil>")
		return
	}
	b.WriteString(sigilName('%', v.Name))
}

func writeValues(b *strings.Builder, vs []*Value) {
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, v)
	}
}

func writeAttrs(b *strings.Builder, attrs map[string]Attr) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(plainOrQuoted(k))
		b.WriteString(" = ")
		writeAttr(b, attrs[k])
	}
	b.WriteByte('}')
}

// writeAttr prints an attribute value. Values of types outside the Attr
// contract print in a form Parse rejects.
func writeAttr(b *strings.Builder, v Attr) {
	switch v := v.(type) {
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(formatFloat(v))
	case string:
		b.WriteString(strconv.Quote(v))
	case []int64:
		if len(v) == 0 {
			b.WriteString("[]int64")
			return
		}
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatInt(x, 10))
		}
		b.WriteByte(']')
	case []float64:
		if len(v) == 0 {
			b.WriteString("[]float64")
			return
		}
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(formatFloat(x))
		}
		b.WriteByte(']')
	default:
		fmt.Fprintf(b, "<unsupported %T %v>", v, v)
	}
}

// formatFloat prints x as the shortest decimal that reads back to the same
// float64, always distinguishable from an int (1.0, 2.5e-07, +Inf, NaN).
func formatFloat(x float64) string {
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if strings.ContainsAny(s, ".eIN") {
		return s
	}
	return s + ".0"
}

// ParseType reads a type in the form Type.String prints.
func ParseType(s string) (Type, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '<')
	if open < 0 || !strings.HasSuffix(s, ">") {
		return Type{}, fmt.Errorf("type %q: want kind<...>", s)
	}
	t, err := parseTypeBody(s[:open], s[open+1:len(s)-1])
	if err != nil {
		return Type{}, fmt.Errorf("type %q: %v", s, err)
	}
	return t, nil
}

func parseTypeBody(kind, body string) (Type, error) {
	var t Type
	switch kind {
	case "tensor":
		t.Kind = TensorType
	case "ct":
		t.Kind = CipherType
	case "pt":
		t.Kind = PlainType
	default:
		return t, fmt.Errorf("unknown type kind %q (want tensor, ct or pt)", kind)
	}
	fields := strings.Split(body, ",")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	shape, err := parseShape(fields[0])
	if err != nil {
		return t, err
	}
	t.Shape = shape
	if t.Kind == TensorType {
		for _, fl := range fields[1:] {
			if fl != "secret" || t.Secret {
				return t, fmt.Errorf("unexpected %q in a tensor type (only \"secret\" may follow the shape, once)", fl)
			}
			t.Secret = true
		}
		return t, nil
	}
	t.Degree = defaultDegree(t.Kind)
	seen := map[string]bool{}
	for _, fl := range fields[1:] {
		key, val, ok := strings.Cut(fl, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return t, fmt.Errorf("want key=value, got %q", fl)
		}
		if seen[key] {
			return t, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "level":
			t.Level, err = strconv.Atoi(val)
		case "degree":
			t.Degree, err = strconv.Atoi(val)
		case "scale":
			t.Scale, err = ParseScale(val)
		case "layout":
			pos := t.Layout.Positions
			t.Layout, err = parseLayout(val)
			t.Layout.Positions = pos
		case "positions":
			t.Layout.Positions, err = parsePositions(val)
		default:
			err = fmt.Errorf("unknown field %q (want level, scale, degree, layout or positions)", key)
		}
		if err != nil {
			return t, fmt.Errorf("%s: %v", key, err)
		}
	}
	for _, k := range []string{"level", "scale", "layout"} {
		if !seen[k] {
			return t, fmt.Errorf("missing %s", k)
		}
	}
	if l := t.Layout; l.Positions != "" && l.Period > 0 && l.Batch > 0 {
		if err := l.Tiled().Validate(l.Period * l.Batch); err != nil {
			return t, fmt.Errorf("positions: %v", err)
		}
	}
	return t, nil
}

// ParseScale reads a scale printed by FormatScale: "2^N", "2^X" (any float
// X, computed as 2**X) or "2^X (exact)" where exact is a float64 (usually a
// hex float) that is the scale and X must agree with its log2 to 1e-6.
func ParseScale(s string) (float64, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "2^")
	if !ok {
		return 0, fmt.Errorf("scale %q: want 2^X", s)
	}
	logText, exactText, hasExact := strings.Cut(rest, "(")
	logText = strings.TrimSpace(logText)
	if hasExact {
		var closed bool
		exactText, closed = strings.CutSuffix(strings.TrimSpace(exactText), ")")
		if !closed {
			return 0, fmt.Errorf("scale %q: missing )", s)
		}
		exact, err := strconv.ParseFloat(strings.TrimSpace(exactText), 64)
		if err != nil {
			return 0, fmt.Errorf("scale %q: bad exact value: %v", s, err)
		}
		l, err := strconv.ParseFloat(logText, 64)
		if err != nil {
			return 0, fmt.Errorf("scale %q: bad log2: %v", s, err)
		}
		if el := math.Log2(exact); !math.IsInf(el, 0) && !math.IsNaN(el) && !(math.Abs(el-l) <= 1e-6) {
			return 0, fmt.Errorf("scale %q: 2^%s does not match the exact value (log2 %.9f)", s, logText, el)
		}
		return exact, nil
	}
	if n, err := strconv.ParseInt(logText, 10, 32); err == nil {
		return math.Ldexp(1, int(n)), nil
	}
	l, err := strconv.ParseFloat(logText, 64)
	if err != nil {
		return 0, fmt.Errorf("scale %q: bad log2: %v", s, err)
	}
	return math.Pow(2, l), nil
}

func parseShape(s string) ([]int, error) {
	if s == "scalar" {
		return nil, nil
	}
	if s == "" {
		return nil, fmt.Errorf("empty shape")
	}
	parts := strings.Split(s, "x")
	out := make([]int, len(parts))
	for i, p := range parts {
		d, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("bad shape %q (want dims like 1x784, or scalar)", s)
		}
		out[i] = d
	}
	return out, nil
}

// parsePositions reads a placed layout's positions (space-separated) into
// their canonical text.
func parsePositions(s string) (string, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", fmt.Errorf("want space-separated positions")
	}
	pos := make([]int, len(fields))
	for i, f := range fields {
		p, err := strconv.Atoi(f)
		if err != nil || p < 0 {
			return "", fmt.Errorf("position %q is not a non-negative integer", f)
		}
		pos[i] = p
	}
	return FormatPositions(pos), nil
}

func parseLayout(s string) (Layout, error) {
	s, blocked, isBlocked := strings.Cut(s, ":")
	var block, stride int
	if isBlocked {
		bs, ss, ok := strings.Cut(blocked, "@")
		var e1, e2 error
		block, e1 = strconv.Atoi(bs)
		stride, e2 = strconv.Atoi(ss)
		if !ok || e1 != nil || e2 != nil || block < 1 {
			return Layout{}, fmt.Errorf("want LEN/PERIODxBATCH[:BLOCK@STRIDE], got %q", s+":"+blocked)
		}
	}
	l, rest, ok1 := strings.Cut(s, "/")
	p, b, ok2 := strings.Cut(rest, "x")
	if !ok1 || !ok2 {
		return Layout{}, fmt.Errorf("want LEN/PERIODxBATCH, got %q", s)
	}
	var out Layout
	var err error
	if out.Len, err = strconv.Atoi(l); err == nil {
		if out.Period, err = strconv.Atoi(p); err == nil {
			out.Batch, err = strconv.Atoi(b)
		}
	}
	if err != nil {
		return Layout{}, fmt.Errorf("want LEN/PERIODxBATCH, got %q", s)
	}
	out.Block, out.Stride = block, stride
	return out, nil
}

// ---- parser ----

// Parse reads a function in the text form Print writes, checks it (operands
// defined before use, result types as the op table infers them, Verify) and
// returns it. Errors give line:column.
func Parse(src string) (f *Func, err error) {
	p := &parser{src: src}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			f, err = nil, e.err
		}
	}()
	syn := p.file()
	return p.build(syn), nil
}

type parseError struct{ err error }

type parser struct {
	src string
	pos int
}

// Syntax tree, before name resolution.
type synName struct {
	name string
	pos  int
}

type synOp struct {
	pos     int
	results []synName
	code    string
	codePos int
	args    []synName
	attrs   map[string]Attr
	types   []Type
	typePos []int
}

type synFunc struct {
	name       string
	params     []synName
	paramTypes []Type
	results    []synName
	attrs      map[string]Attr
	ops        []synOp
	retPos     int
	returns    []synName
	consts     map[string]*Const
}

func (p *parser) lineCol(pos int) (int, int) {
	if pos > len(p.src) {
		pos = len(p.src)
	}
	line := 1 + strings.Count(p.src[:pos], "\n")
	col := pos - strings.LastIndexByte(p.src[:pos], '\n')
	return line, col
}

func (p *parser) line(pos int) int {
	l, _ := p.lineCol(pos)
	return l
}

func (p *parser) failAt(pos int, format string, args ...any) {
	line, col := p.lineCol(pos)
	panic(parseError{fmt.Errorf("ir.Parse: line %d:%d: %s", line, col, fmt.Sprintf(format, args...))})
}

func (p *parser) fail(format string, args ...any) {
	p.skip()
	p.failAt(p.pos, format, args...)
}

// skip moves past white space and comments.
func (p *parser) skip() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/':
			if i := strings.IndexByte(p.src[p.pos:], '\n'); i >= 0 {
				p.pos += i + 1
			} else {
				p.pos = len(p.src)
			}
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	p.skip()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// found describes what is at the current position, for error messages.
func (p *parser) found() string {
	p.skip()
	if p.pos >= len(p.src) {
		return "end of input"
	}
	rest := p.src[p.pos:]
	end := len(rest)
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			end = i
			break
		}
	}
	if end == 0 {
		end = 1
	}
	if end > 24 {
		end = 24
	}
	return strconv.Quote(rest[:end])
}

func (p *parser) lit(s string) bool {
	p.skip()
	if strings.HasPrefix(p.src[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *parser) expect(s string) {
	if !p.lit(s) {
		p.fail("expected %q, found %s", s, p.found())
	}
}

// identHere reads [A-Za-z0-9_.]* at the current position (no skipping).
func (p *parser) identHere() string {
	start := p.pos
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// keyword consumes the word kw if it comes next.
func (p *parser) keyword(kw string) bool {
	p.skip()
	save := p.pos
	if p.identHere() == kw {
		return true
	}
	p.pos = save
	return false
}

func (p *parser) expectKeyword(kw string) {
	if !p.keyword(kw) {
		p.fail("expected %q, found %s", kw, p.found())
	}
}

// quoted reads a Go double-quoted string at the current position.
func (p *parser) quoted() string {
	start := p.pos
	i := p.pos + 1
	for ; i < len(p.src); i++ {
		c := p.src[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '"' {
			break
		}
		if c == '\n' {
			p.failAt(start, "unterminated string")
		}
	}
	if i >= len(p.src) {
		p.failAt(start, "unterminated string")
	}
	s, err := strconv.Unquote(p.src[start : i+1])
	if err != nil {
		p.failAt(start, "bad string literal %s", p.src[start:i+1])
	}
	p.pos = i + 1
	return s
}

// word reads an identifier or a quoted string (names, opcodes, keys).
func (p *parser) word(what string) string {
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		return p.quoted()
	}
	w := p.identHere()
	if w == "" {
		p.fail("expected %s, found %s", what, p.found())
	}
	return w
}

// sigil reads %name or @name; the name follows the sigil with no space.
func (p *parser) sigil(c byte, what string) synName {
	p.skip()
	pos := p.pos
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		p.fail("expected %s (%c...), found %s", what, c, p.found())
	}
	p.pos++
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		return synName{p.quoted(), pos}
	}
	n := p.identHere()
	if n == "" {
		p.failAt(pos, "expected a name after %c", c)
	}
	return synName{n, pos}
}

func (p *parser) values() []synName {
	out := []synName{p.sigil('%', "a value")}
	for p.lit(",") {
		out = append(out, p.sigil('%', "a value"))
	}
	return out
}

func (p *parser) typ() (Type, int) {
	p.skip()
	pos := p.pos
	kind := p.identHere()
	if kind == "" {
		p.fail("expected a type, found %s", p.found())
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '<' {
		p.failAt(pos, "expected a type like tensor<...>, ct<...> or pt<...>, found %q", kind)
	}
	end := strings.IndexByte(p.src[p.pos:], '>')
	if end < 0 {
		p.failAt(pos, "unterminated type (missing >)")
	}
	body := p.src[p.pos+1 : p.pos+end]
	t, err := parseTypeBody(kind, body)
	if err != nil {
		p.failAt(pos, "type %s<%s>: %v", kind, body, err)
	}
	p.pos += end + 1
	return t, pos
}

// numberToken reads a number at the current position: an optional sign and
// a run of [A-Za-z0-9_.], with a sign allowed after an exponent letter.
func (p *parser) numberToken() (string, int) {
	p.skip()
	start := p.pos
	i := p.pos
	if i < len(p.src) && (p.src[i] == '+' || p.src[i] == '-') {
		i++
	}
	for i < len(p.src) {
		c := p.src[i]
		if isIdentChar(c) {
			i++
			continue
		}
		if (c == '+' || c == '-') && i > start {
			if e := p.src[i-1]; e == 'e' || e == 'E' || e == 'p' || e == 'P' {
				i++
				continue
			}
		}
		break
	}
	tok := p.src[start:i]
	if tok == "" || tok == "+" || tok == "-" {
		p.fail("expected a number, found %s", p.found())
	}
	p.pos = i
	return tok, start
}

func isIntToken(tok string) bool {
	if tok != "" && (tok[0] == '+' || tok[0] == '-') {
		tok = tok[1:]
	}
	return isDigits(tok)
}

func (p *parser) parseFloatToken(tok string, pos int) float64 {
	x, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		p.failAt(pos, "bad number %q", tok)
	}
	return x
}

// attrValue reads one attribute value.
func (p *parser) attrValue() Attr {
	switch c := p.peek(); {
	case c == '"':
		return p.quoted()
	case c == '[':
		return p.list()
	case c == '+' || c == '-' || c == '.' || isIdentChar(c):
		tok, pos := p.numberToken()
		if isIntToken(tok) {
			n, err := strconv.ParseInt(tok, 10, 64)
			if err != nil {
				p.failAt(pos, "integer %s out of int64 range", tok)
			}
			return n
		}
		return p.parseFloatToken(tok, pos)
	}
	p.fail("expected an attribute value, found %s", p.found())
	return nil
}

// list reads [n, ...] (an []int64 when every element is an int, else an
// []float64) or a typed empty list []int64 / []float64.
func (p *parser) list() Attr {
	p.expect("[")
	if p.lit("]") {
		p.skip()
		pos := p.pos
		switch p.identHere() {
		case "int64":
			return []int64{}
		case "float64":
			return []float64{}
		}
		p.failAt(pos, "an empty list needs its type: []int64 or []float64")
	}
	var toks []string
	var poss []int
	allInts := true
	for {
		tok, pos := p.numberToken()
		toks, poss = append(toks, tok), append(poss, pos)
		allInts = allInts && isIntToken(tok)
		if p.lit("]") {
			break
		}
		if !p.lit(",") {
			p.fail("expected \",\" or \"]\" in a list, found %s", p.found())
		}
	}
	if allInts {
		out := make([]int64, len(toks))
		for i, tok := range toks {
			n, err := strconv.ParseInt(tok, 10, 64)
			if err != nil {
				p.failAt(poss[i], "integer %s out of int64 range", tok)
			}
			out[i] = n
		}
		return out
	}
	out := make([]float64, len(toks))
	for i, tok := range toks {
		out[i] = p.parseFloatToken(tok, poss[i])
	}
	return out
}

func (p *parser) attrs() map[string]Attr {
	p.expect("{")
	out := map[string]Attr{}
	if p.lit("}") {
		return out
	}
	for {
		p.skip()
		pos := p.pos
		key := p.word("an attribute name")
		if _, dup := out[key]; dup {
			p.failAt(pos, "attribute %s given twice", key)
		}
		p.expect("=")
		out[key] = p.attrValue()
		if p.lit("}") {
			return out
		}
		if !p.lit(",") {
			p.fail("expected \",\" or \"}\" after an attribute, found %s", p.found())
		}
	}
}

// file reads the whole text into a syntax tree.
func (p *parser) file() *synFunc {
	s := &synFunc{consts: map[string]*Const{}}
	p.expectKeyword("func")
	s.name = p.sigil('@', "the function name").name
	p.expect("(")
	if !p.lit(")") {
		for {
			n := p.sigil('%', "a parameter")
			p.expect(":")
			t, _ := p.typ()
			s.params = append(s.params, n)
			s.paramTypes = append(s.paramTypes, t)
			if p.lit(")") {
				break
			}
			if !p.lit(",") {
				p.fail("expected \",\" or \")\" in the parameter list, found %s", p.found())
			}
		}
	}
	p.expect("->")
	p.expect("(")
	if !p.lit(")") {
		s.results = p.values()
		p.expect(")")
	}
	s.attrs = map[string]Attr{}
	if p.keyword("attributes") {
		s.attrs = p.attrs()
	}
	p.expect("{")
	for {
		p.skip()
		pos := p.pos
		if p.keyword("return") {
			s.retPos = pos
			if p.peek() == '%' {
				s.returns = p.values()
			}
			p.expect("}")
			break
		}
		if p.pos >= len(p.src) {
			p.fail("expected an op or \"return\", found end of input")
		}
		s.ops = append(s.ops, p.op())
	}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			break
		}
		if !p.keyword("const") {
			p.fail("expected \"const\" or end of input after the function, found %s", p.found())
		}
		n := p.sigil('@', "a constant name")
		if prev := s.consts[n.name]; prev != nil {
			p.failAt(n.pos, "constant @%s declared twice", n.name)
		}
		p.expect(":")
		p.skip()
		shapePos := p.pos
		shapeText := p.identHere()
		if shapeText != "scalar" {
			// dims may be negative in a malformed but printable shape
			for p.pos < len(p.src) && (isIdentChar(p.src[p.pos]) || p.src[p.pos] == '-') {
				p.pos++
			}
			shapeText = p.src[shapePos:p.pos]
		}
		shape, err := parseShape(shapeText)
		if err != nil {
			p.failAt(shapePos, "constant @%s: %v", n.name, err)
		}
		p.expect("=")
		if p.peek() == '<' {
			p.fail("constant @%s: data elided (text printed with ElideConsts does not parse)", n.name)
		}
		p.expect("[")
		data := []float64{}
		if !p.lit("]") {
			for {
				tok, tpos := p.numberToken()
				data = append(data, p.parseFloatToken(tok, tpos))
				if p.lit("]") {
					break
				}
				if !p.lit(",") {
					p.fail("expected \",\" or \"]\" in constant data, found %s", p.found())
				}
			}
		}
		s.consts[n.name] = &Const{Name: n.name, Shape: shape, Data: data}
	}
	return s
}

func (p *parser) op() synOp {
	p.skip()
	o := synOp{pos: p.pos}
	if p.peek() == '%' {
		o.results = p.values()
		p.expect("=")
	}
	p.skip()
	o.codePos = p.pos
	o.code = p.word("an opcode")
	if p.peek() == '%' {
		o.args = p.values()
	}
	if p.peek() == '{' {
		o.attrs = p.attrs()
	} else {
		o.attrs = map[string]Attr{}
	}
	if p.lit(":") {
		for {
			t, pos := p.typ()
			o.types = append(o.types, t)
			o.typePos = append(o.typePos, pos)
			if !p.lit(",") {
				break
			}
		}
	}
	return o
}

// build resolves names and checks types.
func (p *parser) build(s *synFunc) *Func {
	f := NewFunc(s.name)
	f.Attrs = s.attrs
	f.Consts = s.consts

	// Every definition, to tell "undefined" from "used before its definition".
	defPos := map[string]int{}
	define := func(n synName) {
		if prev, dup := defPos[n.name]; dup {
			p.failAt(n.pos, "%%%s defined twice (first on line %d)", n.name, p.line(prev))
		}
		defPos[n.name] = n.pos
	}
	for _, n := range s.params {
		define(n)
	}
	for _, o := range s.ops {
		for _, n := range o.results {
			define(n)
		}
	}

	env := map[string]*Value{}
	lookup := func(n synName) *Value {
		if v := env[n.name]; v != nil {
			return v
		}
		if d, ok := defPos[n.name]; ok {
			p.failAt(n.pos, "%%%s used before its definition on line %d", n.name, p.line(d))
		}
		p.failAt(n.pos, "undefined value %%%s", n.name)
		return nil
	}
	for i, n := range s.params {
		v := &Value{Name: n.name, Type: s.paramTypes[i]}
		f.Params = append(f.Params, v)
		env[n.name] = v
	}
	for _, so := range s.ops {
		info, ok := Ops[so.code]
		if !ok {
			p.failAt(so.codePos, "unknown op %q", so.code)
		}
		if err := info.checkArity(len(so.args)); err != nil {
			p.failAt(so.codePos, "%s", strings.TrimPrefix(err.Error(), "ir: "))
		}
		op := &Op{Code: so.code, Attrs: so.attrs}
		for _, a := range so.args {
			op.Args = append(op.Args, lookup(a))
		}
		if len(so.types) != len(so.results) {
			p.failAt(so.pos, "%s: %d results but %d types written", so.code, len(so.results), len(so.types))
		}
		for i, n := range so.results {
			op.Results = append(op.Results, &Value{Name: n.name, Type: so.types[i], Def: op})
		}
		types, err := safeInfer(info, f, op)
		if err != nil {
			p.failAt(so.codePos, "%s: %v", so.code, err)
		}
		if len(types) != len(op.Results) {
			p.failAt(so.pos, "%s gives %d results, %d written", so.code, len(types), len(op.Results))
		}
		for i, r := range op.Results {
			want := types[i]
			if info.Level == CKKSLevel {
				// As in Verify: the layout and logical shape of a ckks value
				// are annotations the type rules do not derive.
				want.Layout, want.Shape = r.Type.Layout, r.Type.Shape
			}
			if !r.Type.Equal(want) {
				p.failAt(so.typePos[i], "type mismatch for %%%s: written %s, but %s gives %s", r.Name, r.Type, so.code, want)
			}
			env[r.Name] = r
		}
		f.Ops = append(f.Ops, op)
	}
	if len(s.returns) != len(s.results) {
		p.failAt(s.retPos, "return lists %d values, the signature -> (...) %d", len(s.returns), len(s.results))
	}
	for i, n := range s.returns {
		if n.name != s.results[i].name {
			p.failAt(n.pos, "return value %d is %%%s, the signature says %%%s", i, n.name, s.results[i].name)
		}
		f.Results = append(f.Results, lookup(n))
	}
	if err := Verify(f); err != nil {
		panic(parseError{fmt.Errorf("ir.Parse: %w", err)})
	}
	return f
}

// safeInfer runs a type rule, turning a panic in it into an error.
func safeInfer(info OpInfo, f *Func, op *Op) (types []Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			types, err = nil, fmt.Errorf("type rule panicked: %v", r)
		}
	}()
	return info.Infer(f, op)
}
