package tensorio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// npyDType is a parsed .npy dtype descriptor such as '<f4'.
type npyDType struct {
	order byte // '<' or '>'
	kind  byte // 'f' or 'i'
	size  int  // bytes per element
}

func (d npyDType) descr() string { return fmt.Sprintf("%c%c%d", d.order, d.kind, d.size) }

func (d npyDType) name() string { return npyKindName(d.kind, d.size) }

// npyKindName names a NumPy dtype kind and size for messages.
func npyKindName(kind byte, size int) string {
	switch kind {
	case 'b':
		return "bool"
	case 'i':
		return fmt.Sprintf("int%d", 8*size)
	case 'u':
		return fmt.Sprintf("uint%d", 8*size)
	case 'f':
		return fmt.Sprintf("float%d", 8*size)
	case 'c':
		return fmt.Sprintf("complex%d", 8*size)
	case 'U':
		return "unicode string"
	case 'S', 'a':
		return "byte string"
	case 'O':
		return "object"
	case 'M':
		return "datetime64"
	case 'm':
		return "timedelta64"
	case 'V':
		return "void"
	}
	return "unknown"
}

// parseNPYDescr parses a simple dtype string and checks that tensorio
// supports it.
func parseNPYDescr(s string) (npyDType, error) {
	orig := s
	order := byte('=')
	if s != "" && strings.IndexByte("<>=|", s[0]) >= 0 {
		order, s = s[0], s[1:]
	}
	if s == "" {
		return npyDType{}, fmt.Errorf("invalid dtype descriptor %q", orig)
	}
	kind := s[0]
	size := 0
	if len(s) > 1 {
		// Units like M8[ns] only matter for the message.
		digits := s[1:]
		if i := strings.IndexByte(digits, '['); i >= 0 {
			digits = digits[:i]
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n <= 0 {
			return npyDType{}, fmt.Errorf("invalid dtype descriptor %q", orig)
		}
		size = n
	}
	supported := (kind == 'f' || kind == 'i') && (size == 4 || size == 8)
	if !supported {
		return npyDType{}, fmt.Errorf("unsupported dtype %q (%s); supported: float32, float64, int32, int64", orig, npyKindName(kind, size))
	}
	switch order {
	case '<', '=':
		// '=' is the writer's native order; NumPy itself always writes '<' or
		// '>', and little-endian is the only native order in practice.
		order = '<'
	case '>':
	case '|':
		return npyDType{}, fmt.Errorf("invalid dtype descriptor %q: byte order '|' for a %d-byte type", orig, size)
	}
	return npyDType{order: order, kind: kind, size: size}, nil
}

// npyHeader is the parsed header dictionary of an .npy file.
type npyHeader struct {
	dtype   npyDType
	fortran bool
	shape   []int
}

// decodeNPY decodes a whole .npy file.
func decodeNPY(b []byte) (Tensor, error) {
	if len(b) < 10 || string(b[:6]) != npyMagic {
		if len(b) < 6 && npyMagic[:len(b)] == string(b) {
			return Tensor{}, fmt.Errorf("truncated file (%d bytes)", len(b))
		}
		if len(b) >= 6 && string(b[:6]) == npyMagic {
			return Tensor{}, fmt.Errorf("truncated header (%d bytes)", len(b))
		}
		return Tensor{}, fmt.Errorf("not a NumPy .npy file (bad magic)")
	}
	major, minor := b[6], b[7]
	var hlen, off int
	switch major {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return Tensor{}, fmt.Errorf("truncated header (%d bytes)", len(b))
		}
		h := binary.LittleEndian.Uint32(b[8:12])
		if uint64(h) > uint64(len(b)) {
			return Tensor{}, fmt.Errorf("truncated header: header length %d, file has %d bytes", h, len(b))
		}
		hlen, off = int(h), 12
	default:
		return Tensor{}, fmt.Errorf("unsupported .npy format version %d.%d", major, minor)
	}
	if minor != 0 {
		return Tensor{}, fmt.Errorf("unsupported .npy format version %d.%d", major, minor)
	}
	if off+hlen > len(b) {
		return Tensor{}, fmt.Errorf("truncated header: header length %d, file has %d bytes after the prefix", hlen, len(b)-off)
	}
	hdr, err := parseNPYHeader(string(b[off : off+hlen]))
	if err != nil {
		return Tensor{}, err
	}
	payload := b[off+hlen:]
	n, err := Size(hdr.shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("invalid header: %w", err)
	}
	if hdr.fortran && !sameLayoutBothOrders(hdr.shape) {
		return Tensor{}, fmt.Errorf("Fortran-order (column-major) arrays are not supported (shape %v); save a C-order copy, e.g. np.save(path, np.ascontiguousarray(a))", hdr.shape)
	}
	if n > math.MaxInt/hdr.dtype.size {
		return Tensor{}, fmt.Errorf("shape %v has too many elements", hdr.shape)
	}
	want := n * hdr.dtype.size
	if len(payload) < want {
		return Tensor{}, fmt.Errorf("truncated data: shape %v of %s needs %d bytes, file has %d", hdr.shape, hdr.dtype.name(), want, len(payload))
	}
	if len(payload) > want {
		return Tensor{}, fmt.Errorf("corrupt file: %d bytes after the data of shape %v of %s", len(payload)-want, hdr.shape, hdr.dtype.name())
	}
	data, err := npyioDecode(hdr, payload, n)
	if err != nil {
		return Tensor{}, err
	}
	shape := hdr.shape
	if shape == nil {
		shape = []int{}
	}
	return Tensor{Shape: shape, Data: data}, nil
}

// sameLayoutBothOrders reports whether C and Fortran order lay out an array
// of this shape identically (at most one dimension larger than 1).
func sameLayoutBothOrders(shape []int) bool {
	big := 0
	for _, d := range shape {
		if d > 1 {
			big++
		}
	}
	return big <= 1
}

// npyioDecode converts the validated payload to float64 with npyio. npyio's
// own header parser expects NumPy's canonical header layout and trusts the
// shape it reads, so it is handed a canonical header for the already
// validated dtype and shape.
func npyioDecode(hdr npyHeader, payload []byte, n int) (data []float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("decoding data: %v", r)
		}
	}()
	canon := npyHeaderBytes(hdr.dtype.descr(), hdr.shape)
	rd, err := npy.NewReader(io.MultiReader(bytes.NewReader(canon), bytes.NewReader(payload)))
	if err != nil {
		return nil, fmt.Errorf("decoding data: %w", err)
	}
	out := make([]float64, n)
	if n == 0 {
		return out, nil
	}
	switch hdr.dtype.descr()[1:] {
	case "f4":
		v := make([]float32, n)
		err = rd.Read(&v)
		for i, x := range v {
			out[i] = float64(x)
		}
	case "f8":
		err = rd.Read(&out)
	case "i4":
		v := make([]int32, n)
		err = rd.Read(&v)
		for i, x := range v {
			out[i] = float64(x)
		}
	case "i8":
		v := make([]int64, n)
		err = rd.Read(&v)
		for i, x := range v {
			out[i] = float64(x)
		}
	default:
		return nil, fmt.Errorf("unsupported dtype %s", hdr.dtype.name())
	}
	if err != nil {
		return nil, fmt.Errorf("decoding data: %w", err)
	}
	return out, nil
}

// parseNPYHeader parses the Python dict literal of an .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (8, 30), }.
func parseNPYHeader(s string) (npyHeader, error) {
	p := &pyParser{s: s}
	var hdr npyHeader
	seen := map[string]bool{}
	p.skipSpace()
	if !p.eat('{') {
		return hdr, fmt.Errorf("invalid header: want a dict, got %q", clip(s))
	}
	for {
		p.skipSpace()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return hdr, fmt.Errorf("invalid header: %w", err)
		}
		p.skipSpace()
		if !p.eat(':') {
			return hdr, fmt.Errorf("invalid header: want ':' after key %q", key)
		}
		p.skipSpace()
		if seen[key] {
			return hdr, fmt.Errorf("invalid header: duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if p.peek() == '[' || p.peek() == '{' {
				return hdr, fmt.Errorf("unsupported dtype: structured arrays are not supported")
			}
			d, err := p.str()
			if err != nil {
				return hdr, fmt.Errorf("invalid header: descr: %w", err)
			}
			if hdr.dtype, err = parseNPYDescr(d); err != nil {
				return hdr, err
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				hdr.fortran = true
			case p.word("False"):
				hdr.fortran = false
			default:
				return hdr, fmt.Errorf("invalid header: fortran_order must be True or False")
			}
		case "shape":
			if hdr.shape, err = p.intTuple(); err != nil {
				return hdr, fmt.Errorf("invalid header: shape: %w", err)
			}
		default:
			return hdr, fmt.Errorf("invalid header: unexpected key %q", key)
		}
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		p.skipSpace()
		if !p.eat('}') {
			return hdr, fmt.Errorf("invalid header: want ',' or '}' at offset %d", p.i)
		}
		break
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return hdr, fmt.Errorf("invalid header: trailing bytes after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return hdr, fmt.Errorf("invalid header: missing key %q", k)
		}
	}
	return hdr, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// pyParser scans the small Python literal subset .npy headers use.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyParser) eat(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *pyParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("want a string at offset %d", p.i)
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string at offset %d", p.i)
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", fmt.Errorf("escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

func (p *pyParser) intTuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("want a tuple")
	}
	shape := []int{}
	for {
		p.skipSpace()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i {
			return nil, fmt.Errorf("want a non-negative integer at offset %d", p.i)
		}
		d, err := strconv.Atoi(p.s[start:p.i])
		if err != nil {
			return nil, fmt.Errorf("dimension %q out of range", p.s[start:p.i])
		}
		p.eat('L') // Python 2 long literal
		shape = append(shape, d)
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		p.skipSpace()
		if !p.eat(')') {
			return nil, fmt.Errorf("want ',' or ')' at offset %d", p.i)
		}
		if len(shape) == 1 {
			// (8) is the integer 8 in Python, not a tuple.
			return nil, fmt.Errorf("one-element tuple without a trailing comma")
		}
		return shape, nil
	}
}

// npyShapeRepr formats a shape as Python's repr of a tuple.
func npyShapeRepr(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return "(" + strconv.Itoa(shape[0]) + ",)"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// npyHeaderBytes renders the magic, version, length and header dict exactly
// as numpy.save (NumPy >= 1.24) does: keys sorted, spare room for the first
// axis to grow, padded with spaces to a multiple of 64 bytes and ended with a
// newline.
func npyHeaderBytes(descr string, shape []int) []byte {
	const arrayAlign, growthAxisMaxDigits = 64, 21
	h := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + npyShapeRepr(shape) + ", }"
	if len(shape) > 0 {
		h += strings.Repeat(" ", max(0, growthAxisMaxDigits-len(strconv.Itoa(shape[0]))))
	}
	hlen := len(h) + 1
	major, lenSize := byte(1), 2
	pad := arrayAlign - (8+lenSize+hlen)%arrayAlign
	if hlen+pad >= 1<<16 {
		major, lenSize = 2, 4
		pad = arrayAlign - (8+lenSize+hlen)%arrayAlign
	}
	out := make([]byte, 0, 8+lenSize+hlen+pad)
	out = append(out, npyMagic...)
	out = append(out, major, 0)
	if major == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, h...)
	out = append(out, bytes.Repeat([]byte{' '}, pad)...)
	return append(out, '\n')
}

// encodeNPY writes t as a little-endian C-order .npy file of the given type.
func encodeNPY(t Tensor, dtype DType) ([]byte, error) {
	if err := checkConvert(t.Data, dtype); err != nil {
		return nil, err
	}
	var descr string
	var size int
	switch dtype {
	case Float64:
		descr, size = "<f8", 8
	case Float32:
		descr, size = "<f4", 4
	case Int32:
		descr, size = "<i4", 4
	case Int64:
		descr, size = "<i8", 8
	default:
		return nil, fmt.Errorf("unsupported dtype %v", dtype)
	}
	out := npyHeaderBytes(descr, t.Shape)
	out = slices.Grow(out, size*len(t.Data))
	return appendLE(out, t.Data, dtype), nil
}

// appendLE appends data little-endian as dtype (already range-checked).
func appendLE(out []byte, data []float64, dtype DType) []byte {
	le := binary.LittleEndian
	for _, v := range data {
		switch dtype {
		case Float64:
			out = le.AppendUint64(out, math.Float64bits(v))
		case Float32:
			out = le.AppendUint32(out, math.Float32bits(float32(v)))
		case Int32:
			out = le.AppendUint32(out, uint32(int32(v)))
		case Int64:
			out = le.AppendUint64(out, uint64(int64(v)))
		}
	}
	return out
}
