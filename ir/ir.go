// Package ir is fhec's SSA intermediate representation.
//
// One framework carries two levels of operations:
//
//   - tensor level: operations imported from ONNX (gemm, relu, ...) on values of
//     type tensor<...>; the float64 interpreter (Interpret) gives their meaning
//     and is the oracle for every transform;
//   - ckks level: operations on ciphertexts and plaintexts (rotate, mul_plain,
//     rescale, ...) produced by layout assignment and lowering. Their types carry
//     the level, the exact scale and the slot layout, so a pass needs nothing else.
//
// Every value has exactly one definition (a function parameter or one op result).
// Each opcode is described once in the table in ops.go (name, level, arity, type
// rule); Verify checks a function against that table and is run after every pass.
package ir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fhec/fhec/layout"
)

// TypeKind says which family a Type belongs to.
type TypeKind int

const (
	// TensorType is a tensor-level value: a float64 tensor with a static shape.
	TensorType TypeKind = iota
	// CipherType is a CKKS ciphertext holding a packed tensor.
	CipherType
	// PlainType is an encoded CKKS plaintext holding a packed constant.
	PlainType
)

// Layout says how a logical tensor of Len elements (row-major flattening of its
// shape) sits in the slots of one ciphertext: element f of sample b is in every
// slot s with (s/Batch) mod Period == f and s mod Batch == b. Period is a power
// of two >= Len; the positions f in [Len, Period) hold values no one reads
// (zeros at encryption, arbitrary after activations). Batch samples share one
// ciphertext (SIMD over the batch), interleaved so that a rotation by k*Batch
// shifts every sample's vector by k at once.
//
// A blocked layout (Block > 0) places element f at position
// (f/Block)*Stride + f%Block of the period instead of f: a dense layer that
// splits its rows over the replicas of its input writes its output this way
// (Block rows per replica, replicas Stride apart); the other positions hold
// values no one reads.
//
// A placed layout (Positions set, Block 0) puts element f at position
// PositionList()[f]: the client scatters an input so (see layout.Tiled).
// Positions holds the list as text (decimal, space-separated) so that a
// Layout stays comparable; PositionList parses it once.
type Layout struct {
	Len       int
	Period    int
	Batch     int
	Block     int // 0: contiguous
	Stride    int
	Positions string
}

// Pos is the position of element f within the period.
func (l Layout) Pos(f int) int {
	if l.Positions != "" {
		return l.PositionList()[f]
	}
	if l.Block == 0 {
		return f
	}
	return (f/l.Block)*l.Stride + f%l.Block
}

var positionLists sync.Map // Positions text -> []int

// PositionList is the parsed Positions (nil when unset or malformed; the
// text parser and Verify reject malformed ones). Callers must not modify it.
func (l Layout) PositionList() []int {
	if l.Positions == "" {
		return nil
	}
	if v, ok := positionLists.Load(l.Positions); ok {
		return v.([]int)
	}
	fields := strings.Fields(l.Positions)
	out := make([]int, len(fields))
	for i, f := range fields {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		out[i] = p
	}
	positionLists.Store(l.Positions, out)
	return out
}

// FormatPositions is the Positions text of a position list.
func FormatPositions(pos []int) string {
	var b strings.Builder
	for i, p := range pos {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// IsZero reports whether the layout is unset.
func (l Layout) IsZero() bool { return l == Layout{} }

// Type is the type of an SSA value.
type Type struct {
	Kind TypeKind
	// Shape is the logical tensor shape (all kinds).
	Shape []int
	// Secret marks tensor values that depend on the encrypted input.
	Secret bool
	// CKKS-level fields (CipherType and PlainType).
	Level  int     // remaining multiplicative levels (index of the last prime)
	Scale  float64 // exact scale, not rounded to a power of two
	Degree int     // ciphertext degree: 1 normally, 2 after mul before relinearize
	Layout Layout
}

// Tensor returns a tensor type.
func Tensor(shape []int, secret bool) Type {
	return Type{Kind: TensorType, Shape: append([]int(nil), shape...), Secret: secret}
}

// NumElements is the product of the shape's dimensions.
func (t Type) NumElements() int { return NumElements(t.Shape) }

// NumElements is the product of dims (1 for a scalar).
func NumElements(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Equal reports whether two types are identical.
func (t Type) Equal(u Type) bool {
	if t.Kind != u.Kind || t.Secret != u.Secret || t.Level != u.Level || t.Scale != u.Scale ||
		t.Degree != u.Degree || t.Layout != u.Layout || len(t.Shape) != len(u.Shape) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return true
}

// Value is one SSA value.
type Value struct {
	Name string // unique within its function, printed as %Name
	Type Type
	Def  *Op // nil for function parameters
}

// Attr is an op attribute: int64, float64, string, []int64 or []float64.
type Attr = any

// Op is one operation.
type Op struct {
	Code    string // opcode, a key of the op table
	Args    []*Value
	Results []*Value
	Attrs   map[string]Attr
}

// Result returns the op's single result.
func (o *Op) Result() *Value { return o.Results[0] }

// Int returns an int64 attribute, or def when absent.
func (o *Op) Int(name string, def int64) int64 {
	if v, ok := o.Attrs[name].(int64); ok {
		return v
	}
	return def
}

// Float returns a float64 attribute (int64 attributes convert), or def when absent.
func (o *Op) Float(name string, def float64) float64 {
	switch v := o.Attrs[name].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return def
}

// Ints returns an []int64 attribute, or nil.
func (o *Op) Ints(name string) []int64 {
	v, _ := o.Attrs[name].([]int64)
	return v
}

// Floats returns a []float64 attribute, or nil.
func (o *Op) Floats(name string) []float64 {
	v, _ := o.Attrs[name].([]float64)
	return v
}

// String returns a string attribute, or def.
func (o *Op) Str(name, def string) string {
	if v, ok := o.Attrs[name].(string); ok {
		return v
	}
	return def
}

// Const is an entry of a function's constant pool, referenced by name from
// const and encode ops. Data is row-major.
type Const struct {
	Name  string
	Shape []int
	Data  []float64
}

// Func is a function: parameters, ops in program order, results.
// Attrs holds function-level facts set by passes (e.g. the CKKS parameters).
type Func struct {
	Name    string
	Params  []*Value
	Ops     []*Op
	Results []*Value
	Consts  map[string]*Const
	Attrs   map[string]Attr

	names  map[string]bool // every value name in use; built lazily
	nextID int
}

// NewFunc returns an empty function.
func NewFunc(name string) *Func {
	return &Func{Name: name, Consts: map[string]*Const{}, Attrs: map[string]Attr{}}
}

// FreshName returns a value name not used yet in f, built from hint, and
// reserves it.
func (f *Func) FreshName(hint string) string {
	if f.names == nil {
		f.names = map[string]bool{}
		for _, p := range f.Params {
			f.names[p.Name] = true
		}
		for _, o := range f.Ops {
			for _, r := range o.Results {
				f.names[r.Name] = true
			}
		}
	}
	hint = sanitize(hint)
	if hint == "" || isDigits(hint) {
		hint = "v" + hint // the printer keeps %N for nothing, but N+suffix would stay all digits
	}
	name := hint
	for f.names[name] {
		f.nextID++
		name = fmt.Sprintf("%s%d", hint, f.nextID)
	}
	f.names[name] = true
	return name
}

// AddParam appends a function parameter.
func (f *Func) AddParam(name string, t Type) *Value {
	v := &Value{Name: f.FreshName(name), Type: t}
	f.Params = append(f.Params, v)
	return v
}

// AddConst stores a constant in the pool under a fresh name and returns it.
func (f *Func) AddConst(hint string, shape []int, data []float64) *Const {
	name := sanitize(hint)
	if name == "" {
		name = "c"
	}
	base := name
	for i := 1; f.Consts[name] != nil; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	c := &Const{Name: name, Shape: append([]int(nil), shape...), Data: data}
	f.Consts[name] = c
	return c
}

// ConstNames returns the pool's names in sorted order (deterministic output).
func (f *Func) ConstNames() []string {
	names := make([]string, 0, len(f.Consts))
	for n := range f.Consts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewOp builds an op (not yet inserted) whose result types come from the op
// table's type rule. The results get fresh names built from hint.
func (f *Func) NewOp(code, hint string, attrs map[string]Attr, args ...*Value) (*Op, error) {
	info, ok := Ops[code]
	if !ok {
		return nil, fmt.Errorf("ir: unknown op %q", code)
	}
	if attrs == nil {
		attrs = map[string]Attr{}
	}
	op := &Op{Code: code, Args: args, Attrs: attrs}
	if err := info.checkArity(len(args)); err != nil {
		return nil, err
	}
	types, err := info.Infer(f, op)
	if err != nil {
		return nil, fmt.Errorf("ir: %s: %w", code, err)
	}
	for _, t := range types {
		op.Results = append(op.Results, &Value{Name: f.FreshName(hint), Type: t, Def: op})
	}
	return op, nil
}

// Append builds an op with NewOp and appends it to the function.
func (f *Func) Append(code, hint string, attrs map[string]Attr, args ...*Value) (*Value, error) {
	op, err := f.NewOp(code, hint, attrs, args...)
	if err != nil {
		return nil, err
	}
	f.Ops = append(f.Ops, op)
	return op.Results[0], nil
}

// Users returns, for every value, the ops that use it (function results are
// not ops; see IsResult).
func (f *Func) Users() map[*Value][]*Op {
	u := map[*Value][]*Op{}
	for _, o := range f.Ops {
		for _, a := range o.Args {
			u[a] = append(u[a], o)
		}
	}
	return u
}

// IsResult reports whether v is returned by f.
func (f *Func) IsResult(v *Value) bool {
	for _, r := range f.Results {
		if r == v {
			return true
		}
	}
	return false
}

// ReplaceUses makes every use of old (op operands and results) use new instead.
func (f *Func) ReplaceUses(old, new *Value) {
	for _, o := range f.Ops {
		for i, a := range o.Args {
			if a == old {
				o.Args[i] = new
			}
		}
	}
	for i, r := range f.Results {
		if r == old {
			f.Results[i] = new
		}
	}
}

// RemoveDead drops ops none of whose results are used.
func (f *Func) RemoveDead() {
	for {
		users := f.Users()
		kept := f.Ops[:0]
		removed := false
		for _, o := range f.Ops {
			live := false
			for _, r := range o.Results {
				if len(users[r]) > 0 || f.IsResult(r) {
					live = true
				}
			}
			if live {
				kept = append(kept, o)
			} else {
				removed = true
			}
		}
		f.Ops = kept
		if !removed {
			break
		}
	}
	// drop constants nobody references
	refs := map[string]bool{}
	for _, o := range f.Ops {
		if n, ok := o.Attrs["const"].(string); ok {
			refs[n] = true
		}
	}
	for n := range f.Consts {
		if !refs[n] {
			delete(f.Consts, n)
		}
	}
}

func sanitize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Int64 returns an int64 function attribute, or def when absent.
func (f *Func) Int64(name string, def int64) int64 {
	if v, ok := f.Attrs[name].(int64); ok {
		return v
	}
	return def
}

// Tiled is the slot packing this layout describes (package layout).
func (l Layout) Tiled() layout.Tiled {
	return layout.Tiled{Len: l.Len, Period: l.Period, Batch: l.Batch, Block: l.Block, Stride: l.Stride, Positions: l.PositionList()}
}
