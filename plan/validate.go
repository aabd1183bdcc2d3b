package plan

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan/planpb"
)

// Limits on parameters a plan may use.
const (
	MinLogN = 10
	MaxLogN = 17
	// MaxLogDefaultScale keeps Lattigo in its 64-bit precision mode, where a
	// rescale drops exactly one prime.
	MaxLogDefaultScale = 64
)

// heStandard128 is the largest log2(QP) for 128-bit classical security with
// a uniform ternary secret and error std 3.2 (HomomorphicEncryption.org
// standard, Table 1, up to N = 2^15; N = 2^16 and 2^17 extrapolated as twice
// the previous bound less one bit). Sparse secrets are weaker, so this is a
// necessary condition only. These tables are the one source: the compiler's
// parameter selection (package passes) reads them through MaxLogQP.
var heStandard128 = map[int]float64{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881, 16: 1761, 17: 3521}

// CKKSParameters builds the Lattigo parameters a plan's Params describe:
// standard ring, ternary secret with the given Hamming weight (0 => uniform
// ternary), discrete Gaussian error. It checks the parameters first.
func CKKSParameters(p *planpb.Params) (hefloat.Parameters, error) {
	if p == nil {
		return hefloat.Parameters{}, fmt.Errorf("%w: no params", ErrInvalid)
	}
	if p.LogN < MinLogN || p.LogN > MaxLogN {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: log_n %d outside [%d, %d]", ErrInvalid, p.LogN, MinLogN, MaxLogN)
	}
	n := uint64(1) << p.LogN
	if len(p.Q) == 0 {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: no ciphertext primes q", ErrInvalid)
	}
	if len(p.Q)+len(p.P) > 128 {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: %d primes, at most 128 supported", ErrInvalid, len(p.Q)+len(p.P))
	}
	seen := map[uint64]bool{}
	checkPrime := func(kind string, i int, m uint64, maxBits int) error {
		switch {
		case m < 3 || bits.Len64(m) > maxBits:
			return fmt.Errorf("%w: params: %s[%d] = %d is not a prime of 2..%d bits", ErrInvalid, kind, i, m, maxBits)
		case (m-1)%(2*n) != 0:
			return fmt.Errorf("%w: params: %s[%d] = %d is not 1 mod 2N = %d (not NTT-friendly)", ErrInvalid, kind, i, m, 2*n)
		case !ring.IsPrime(m):
			return fmt.Errorf("%w: params: %s[%d] = %d is not prime", ErrInvalid, kind, i, m)
		case seen[m]:
			return fmt.Errorf("%w: params: %s[%d] = %d appears twice in q and p", ErrInvalid, kind, i, m)
		}
		seen[m] = true
		return nil
	}
	for i, q := range p.Q {
		if err := checkPrime("q", i, q, rlwe.MaxModuliSize); err != nil {
			return hefloat.Parameters{}, err
		}
	}
	for i, q := range p.P {
		if err := checkPrime("p", i, q, rlwe.MaxModuliSize+1); err != nil {
			return hefloat.Parameters{}, err
		}
	}
	if s := p.LogDefaultScale; !(s >= 1 && s <= MaxLogDefaultScale) {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: log_default_scale %v outside [1, %d]", ErrInvalid, s, MaxLogDefaultScale)
	}
	if uint64(p.HammingWeight) > n {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: hamming_weight %d > N = %d", ErrInvalid, p.HammingWeight, n)
	}
	if s := p.ErrorStd; !(s > 0 && s <= 1<<20) {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: error_std %v outside (0, 2^20]", ErrInvalid, s)
	}
	bound := p.ErrorBound
	if bound == 0 {
		bound = 6 * p.ErrorStd
	}
	if !(bound >= p.ErrorStd && bound <= 1<<30) {
		return hefloat.Parameters{}, fmt.Errorf("%w: params: error_bound %v must be 0 (6 std) or in [error_std, 2^30]", ErrInvalid, p.ErrorBound)
	}
	xs := ring.Ternary{P: 2.0 / 3}
	if p.HammingWeight != 0 {
		xs = ring.Ternary{H: int(p.HammingWeight)}
	}
	params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN:            int(p.LogN),
		Q:               slices.Clone(p.Q),
		P:               slices.Clone(p.P),
		Xs:              xs,
		Xe:              ring.DiscreteGaussian{Sigma: p.ErrorStd, Bound: bound},
		RingType:        ring.Standard,
		LogDefaultScale: int(math.Round(p.LogDefaultScale)),
	})
	if err != nil {
		return hefloat.Parameters{}, fmt.Errorf("%w: params rejected by Lattigo: %v", ErrInvalid, err)
	}
	if !p.Insecure {
		if p.SecurityBits == 0 {
			return hefloat.Parameters{}, fmt.Errorf("%w: params: security_bits is 0 and insecure is false; claim a security level or mark the parameters insecure", ErrInvalid)
		}
		if max := MaxLogQP(int(p.SecurityBits), int(p.LogN)); p.SecurityBits >= 128 && params.LogQP() > max {
			return hefloat.Parameters{}, fmt.Errorf("%w: params: claim %d-bit security but log2(QP) = %.1f exceeds the %.0f bits the HE standard allows for N = 2^%d; mark them insecure or shrink the modulus", ErrInvalid, p.SecurityBits, params.LogQP(), max, p.LogN)
		}
	}
	return params, nil
}

// value kinds tracked by Validate.
const (
	kindUndef = iota
	kindPlain
	kindCipher
)

// ValueInfo is what Validate infers about an SSA value.
type ValueInfo struct {
	Defined bool
	Plain   bool // a plaintext (ENCODE), otherwise a ciphertext
	Degree  int  // ciphertext degree (1 or 2); 0 for plaintexts
	Level   int
}

// Validate checks a plan's structure: parameters, SSA ids, operand kinds,
// ciphertext degrees and levels, keys, constants and layouts.
func Validate(p *planpb.Plan) error {
	_, err := Analyze(p)
	return err
}

// Analyze validates p and returns what it inferred about every SSA value
// (indexed by id) and the parameters.
func Analyze(p *planpb.Plan) ([]ValueInfo, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil plan", ErrInvalid)
	}
	params, err := CKKSParameters(p.Params)
	if err != nil {
		return nil, err
	}
	slots := params.MaxSlots()
	maxLevel := params.MaxLevel()
	twoN := uint64(2 * params.N())

	// Keys.
	galois := map[uint64]bool{}
	var keys []uint64
	if p.Keys != nil {
		keys = p.Keys.GaloisElements
	}
	for i, g := range keys {
		if g%2 == 0 || g >= twoN || g == 1 {
			return nil, fmt.Errorf("%w: keys: galois_elements[%d] = %d is not a Galois element of Z[X]/(X^%d+1) (odd, 3..%d)", ErrInvalid, i, g, params.N(), twoN-1)
		}
		if i > 0 && g <= keys[i-1] {
			return nil, fmt.Errorf("%w: keys: galois_elements not sorted ascending without duplicates at index %d", ErrInvalid, i)
		}
		galois[g] = true
	}
	relin := p.Keys != nil && p.Keys.Relinearization
	btpOutLevel, err := checkBootstrapping(p, params)
	if err != nil {
		return nil, err
	}
	if (relin || len(keys) > 0) && len(p.Params.P) == 0 {
		return nil, fmt.Errorf("%w: params: evaluation keys need at least one special prime p", ErrInvalid)
	}

	// Values.
	total := uint64(len(p.Program))
	for _, in := range p.Inputs {
		total += uint64(len(InputValues(in)))
	}
	if uint64(p.NumValues) > total {
		return nil, fmt.Errorf("%w: num_values %d exceeds the %d input ciphertexts and instructions that could define them", ErrInvalid, p.NumValues, total)
	}
	info := make([]ValueInfo, p.NumValues)
	define := func(where string, id uint32, v ValueInfo) error {
		if id >= p.NumValues {
			return fmt.Errorf("%w: %s defines value %d, but num_values is %d", ErrInvalid, where, id, p.NumValues)
		}
		if info[id].Defined {
			return fmt.Errorf("%w: %s defines value %d a second time", ErrInvalid, where, id)
		}
		v.Defined = true
		info[id] = v
		return nil
	}
	batch := 0
	checkLayout := func(where string, l *planpb.Layout, shape []int64) error {
		if l == nil {
			return fmt.Errorf("%w: %s has no layout", ErrInvalid, where)
		}
		if len(l.Positions) > 0 && (l.Block != 0 || l.Stride != placedStride) {
			return fmt.Errorf("%w: %s: a placed layout must have block 0 and stride %d (got %d, %d)", ErrInvalid, where, placedStride, l.Block, l.Stride)
		}
		t := TiledLayout(l)
		if err := t.Validate(slots); err != nil {
			return fmt.Errorf("%w: %s: %v (%d slots)", ErrInvalid, where, err, slots)
		}
		if batch == 0 {
			batch = t.Batch
		} else if t.Batch != batch {
			return fmt.Errorf("%w: %s has batch %d, other inputs/outputs have %d; all must agree", ErrInvalid, where, t.Batch, batch)
		}
		if len(shape) > 0 {
			prod := int64(1)
			for _, d := range shape {
				if d < 1 || d > int64(slots) {
					return fmt.Errorf("%w: %s: shape %v has a dimension outside [1, %d]", ErrInvalid, where, shape, slots)
				}
				prod *= d
				if prod > int64(slots) {
					break
				}
			}
			if prod != int64(t.Len) {
				return fmt.Errorf("%w: %s: shape %v has %d elements, layout len is %d", ErrInvalid, where, shape, prod, t.Len)
			}
		}
		return nil
	}
	names := map[string]bool{}
	for i, in := range p.Inputs {
		where := fmt.Sprintf("input %d (%q)", i, in.Name)
		if names[in.Name] {
			return nil, fmt.Errorf("%w: %s: duplicate input name", ErrInvalid, where)
		}
		names[in.Name] = true
		if err := checkLayout(where, in.Layout, elementShape(in.Shape, in.ElementValues)); err != nil {
			return nil, err
		}
		if int(in.Level) > maxLevel {
			return nil, fmt.Errorf("%w: %s: level %d > max level %d", ErrInvalid, where, in.Level, maxLevel)
		}
		if !validScale(in.Scale) {
			return nil, fmt.Errorf("%w: %s: scale %v is not a positive finite number", ErrInvalid, where, in.Scale)
		}
		if len(in.ElementValues) > 0 {
			if err := checkElements(where, in.Layout, in.Shape, in.ElementValues, slots); err != nil {
				return nil, err
			}
			if in.Value != in.ElementValues[0] {
				return nil, fmt.Errorf("%w: %s: value %d is not element_values[0] = %d", ErrInvalid, where, in.Value, in.ElementValues[0])
			}
			for _, v := range in.ElementValues {
				if err := define(where, v, ValueInfo{Degree: 1, Level: int(in.Level)}); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := define(where, in.Value, ValueInfo{Degree: 1, Level: int(in.Level)}); err != nil {
			return nil, err
		}
	}
	for i, c := range p.Constants {
		n := len(c.Values)
		if n == 0 || n&(n-1) != 0 || n > slots {
			return nil, fmt.Errorf("%w: constant %d (%q): length %d is not a power of two in [1, %d]", ErrInvalid, i, c.Name, n, slots)
		}
		for j, v := range c.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: constant %d (%q): value %d is %v", ErrInvalid, i, c.Name, j, v)
			}
		}
	}
	for pc, ins := range p.Program {
		where := fmt.Sprintf("instruction %d (%v)", pc, ins.Op)
		want, ok := numArgs[ins.Op]
		if !ok {
			return nil, fmt.Errorf("%w: instruction %d: unknown op %d", ErrInvalid, pc, int32(ins.Op))
		}
		if want < 0 && len(ins.Args) < -want {
			return nil, fmt.Errorf("%w: %s: %d args, want at least %d", ErrInvalid, where, len(ins.Args), -want)
		}
		if want >= 0 && len(ins.Args) != want {
			return nil, fmt.Errorf("%w: %s: %d args, want %d", ErrInvalid, where, len(ins.Args), want)
		}
		args := make([]ValueInfo, len(ins.Args))
		for j, a := range ins.Args {
			if a >= p.NumValues || !info[a].Defined {
				return nil, fmt.Errorf("%w: %s: argument %d is value %d, which is not defined before use", ErrInvalid, where, j, a)
			}
			args[j] = info[a]
		}
		needCipher := func(j, degree int) error {
			a := args[j]
			switch {
			case a.Plain:
				return fmt.Errorf("%w: %s: argument %d (value %d) is a plaintext, want a ciphertext", ErrInvalid, where, j, ins.Args[j])
			case degree != 0 && a.Degree != degree:
				return fmt.Errorf("%w: %s: argument %d (value %d) has degree %d, want %d", ErrInvalid, where, j, ins.Args[j], a.Degree, degree)
			}
			return nil
		}
		needPlain := func(j int) error {
			if !args[j].Plain {
				return fmt.Errorf("%w: %s: argument %d (value %d) is a ciphertext, want a plaintext (ENCODE result)", ErrInvalid, where, j, ins.Args[j])
			}
			return nil
		}
		var res ValueInfo
		var err error
		switch ins.Op {
		case planpb.Op_ENCODE:
			if int(ins.Constant) >= len(p.Constants) {
				return nil, fmt.Errorf("%w: %s: constant %d out of range (%d constants)", ErrInvalid, where, ins.Constant, len(p.Constants))
			}
			n := len(p.Constants[ins.Constant].Values)
			if err := (layout.Tiled{Len: n, Period: n, Batch: int(ins.Batch)}).Validate(slots); err != nil {
				return nil, fmt.Errorf("%w: %s: cannot broadcast constant %d: %v", ErrInvalid, where, ins.Constant, err)
			}
			if int(ins.Level) > maxLevel {
				return nil, fmt.Errorf("%w: %s: level %d > max level %d", ErrInvalid, where, ins.Level, maxLevel)
			}
			if !validScale(ins.Scale) {
				return nil, fmt.Errorf("%w: %s: scale %v is not a positive finite number", ErrInvalid, where, ins.Scale)
			}
			res = ValueInfo{Plain: true, Level: int(ins.Level)}
		case planpb.Op_ROTATE:
			if err = needCipher(0, 1); err == nil {
				if g := params.GaloisElement(int(ins.Offset)); g != 1 && !galois[g] {
					err = fmt.Errorf("%w: %s: rotation by %d needs the Galois key for element %d, which keys.galois_elements lacks", ErrInvalid, where, ins.Offset, g)
				}
			}
			res = args[0]
		case planpb.Op_ADD, planpb.Op_SUB:
			if err = needCipher(0, 0); err == nil {
				err = needCipher(1, 0)
			}
			res = ValueInfo{Degree: max(args[0].Degree, args[1].Degree), Level: min(args[0].Level, args[1].Level)}
		case planpb.Op_ADD_PLAIN, planpb.Op_MUL_PLAIN:
			if err = needCipher(0, 0); err == nil {
				err = needPlain(1)
			}
			res = ValueInfo{Degree: args[0].Degree, Level: min(args[0].Level, args[1].Level)}
		case planpb.Op_MUL:
			if err = needCipher(0, 1); err == nil {
				err = needCipher(1, 1)
			}
			res = ValueInfo{Degree: 2, Level: min(args[0].Level, args[1].Level)}
		case planpb.Op_RELINEARIZE:
			if err = needCipher(0, 2); err == nil && !relin {
				err = fmt.Errorf("%w: %s needs the relinearization key, which keys.relinearization does not request", ErrInvalid, where)
			}
			res = ValueInfo{Degree: 1, Level: args[0].Level}
		case planpb.Op_RESCALE:
			if err = needCipher(0, 0); err == nil && args[0].Level < 1 {
				err = fmt.Errorf("%w: %s: argument (value %d) is at level 0, nothing left to rescale", ErrInvalid, where, ins.Args[0])
			}
			res = ValueInfo{Degree: args[0].Degree, Level: args[0].Level - 1}
		case planpb.Op_POLY:
			err = checkPoly(where, ins, args[0], relin)
			res = ValueInfo{Degree: 1, Level: args[0].Level - int(ins.Depth)}
		case planpb.Op_LINEAR:
			err = checkLinear(where, ins, args, slots, func(g uint64) bool { return g == 1 || galois[g] }, params.GaloisElement)
			res = ValueInfo{Degree: 1, Level: args[0].Level}
		case planpb.Op_DOT:
			res, err = checkDot(where, ins, args)
		case planpb.Op_BOOTSTRAP:
			if err = needCipher(0, 1); err == nil && btpOutLevel < 0 {
				err = fmt.Errorf("%w: %s needs params.bootstrapping and keys.bootstrapping", ErrInvalid, where)
			}
			res = ValueInfo{Degree: 1, Level: btpOutLevel}
		}
		if err != nil {
			return nil, err
		}
		if err := define(where, ins.Result, res); err != nil {
			return nil, err
		}
	}
	names = map[string]bool{}
	for i, out := range p.Outputs {
		where := fmt.Sprintf("output %d (%q)", i, out.Name)
		if names[out.Name] {
			return nil, fmt.Errorf("%w: %s: duplicate output name", ErrInvalid, where)
		}
		names[out.Name] = true
		if err := checkLayout(where, out.Layout, elementShape(out.Shape, out.ElementValues)); err != nil {
			return nil, err
		}
		vals := []uint32{out.Value}
		if len(out.ElementValues) > 0 {
			if err := checkElements(where, out.Layout, out.Shape, out.ElementValues, slots); err != nil {
				return nil, err
			}
			if out.Value != out.ElementValues[0] {
				return nil, fmt.Errorf("%w: %s: value %d is not element_values[0] = %d", ErrInvalid, where, out.Value, out.ElementValues[0])
			}
			vals = out.ElementValues
		}
		for _, v := range vals {
			if v >= p.NumValues || !info[v].Defined {
				return nil, fmt.Errorf("%w: %s: value %d is not defined", ErrInvalid, where, v)
			}
			if vi := info[v]; vi.Plain || vi.Degree != 1 {
				return nil, fmt.Errorf("%w: %s: value %d must be a degree-1 ciphertext (plaintext=%v, degree %d)", ErrInvalid, where, v, vi.Plain, vi.Degree)
			}
		}
	}
	if err := checkMetadata(p.Metadata); err != nil {
		return nil, err
	}
	return info, nil
}

// checkMetadata checks that the informational numbers are finite (so that
// every tool can print them, as JSON too).
func checkMetadata(m *planpb.Metadata) error {
	finite := func(where string, vs ...float64) error {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: metadata: %s has a non-finite number %v", ErrInvalid, where, v)
			}
		}
		return nil
	}
	for i, a := range m.GetActivations() {
		if err := finite(fmt.Sprintf("activation %d (%q)", i, a.Value), a.Lo, a.Hi, a.FitMaxError); err != nil {
			return err
		}
	}
	for i, l := range m.GetLayers() {
		if err := finite(fmt.Sprintf("layer %d (%q)", i, l.Name), l.ScaleOut, l.FitMaxError); err != nil {
			return err
		}
		if l.ScaleOut < 0 {
			return fmt.Errorf("%w: metadata: layer %d (%q) has a negative scale %v", ErrInvalid, i, l.Name, l.ScaleOut)
		}
	}
	return nil
}

func checkPoly(where string, ins *planpb.Instruction, arg ValueInfo, relin bool) error {
	switch {
	case arg.Plain || arg.Degree != 1:
		return fmt.Errorf("%w: %s: argument (value %d) must be a degree-1 ciphertext", ErrInvalid, where, ins.Args[0])
	case len(ins.Coeffs) < 2:
		return fmt.Errorf("%w: %s: %d coefficients, want a polynomial of degree >= 1", ErrInvalid, where, len(ins.Coeffs))
	case !relin:
		return fmt.Errorf("%w: %s needs the relinearization key, which keys.relinearization does not request", ErrInvalid, where)
	case !validScale(ins.Scale):
		return fmt.Errorf("%w: %s: target scale %v is not a positive finite number", ErrInvalid, where, ins.Scale)
	}
	for k, c := range ins.Coeffs {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fmt.Errorf("%w: %s: coefficient %d is %v", ErrInvalid, where, k, c)
		}
	}
	if d := PolyDepth(len(ins.Coeffs) - 1); int(ins.Depth) != d {
		return fmt.Errorf("%w: %s: depth %d, but a degree-%d polynomial consumes ceil(log2(%d)) = %d levels", ErrInvalid, where, ins.Depth, len(ins.Coeffs)-1, len(ins.Coeffs), d)
	}
	if int(ins.Depth) > arg.Level {
		return fmt.Errorf("%w: %s: needs %d levels, argument (value %d) is at level %d", ErrInvalid, where, ins.Depth, ins.Args[0], arg.Level)
	}
	return nil
}

// PolyDepth is the number of levels Lattigo's polynomial evaluator consumes
// for a polynomial of the given degree: ceil(log2(degree+1)).
func PolyDepth(degree int) int { return bits.Len(uint(degree)) }

var numArgs = map[planpb.Op]int{
	planpb.Op_ENCODE:      0,
	planpb.Op_ROTATE:      1,
	planpb.Op_ADD:         2,
	planpb.Op_SUB:         2,
	planpb.Op_ADD_PLAIN:   2,
	planpb.Op_MUL_PLAIN:   2,
	planpb.Op_MUL:         2,
	planpb.Op_RELINEARIZE: 1,
	planpb.Op_RESCALE:     1,
	planpb.Op_POLY:        1,
	planpb.Op_BOOTSTRAP:   1,
	planpb.Op_LINEAR:      -2, // at least: the ciphertext and one diagonal
	planpb.Op_DOT:         -1,
}

// MaxDotWeight bounds |coeffs[k] * scale| in a DOT instruction: the rounded
// weight must be an exact int64.
const MaxDotWeight = 1 << 62

// checkDot checks a DOT instruction: ciphertexts of one level and degree,
// one finite coefficient each, integer weights that fit an int64, a finite bias.
func checkDot(where string, ins *planpb.Instruction, args []ValueInfo) (ValueInfo, error) {
	if len(ins.Coeffs) != len(args) {
		return ValueInfo{}, fmt.Errorf("%w: %s: %d coefficients for %d arguments", ErrInvalid, where, len(ins.Coeffs), len(args))
	}
	if !validScale(ins.Scale) {
		return ValueInfo{}, fmt.Errorf("%w: %s: weight scale %v is not a positive finite number", ErrInvalid, where, ins.Scale)
	}
	if math.IsNaN(ins.Bias) || math.IsInf(ins.Bias, 0) {
		return ValueInfo{}, fmt.Errorf("%w: %s: bias is %v", ErrInvalid, where, ins.Bias)
	}
	for k, a := range args {
		switch {
		case a.Plain:
			return ValueInfo{}, fmt.Errorf("%w: %s: argument %d (value %d) is a plaintext, want a ciphertext", ErrInvalid, where, k, ins.Args[k])
		case a.Level != args[0].Level || a.Degree != args[0].Degree:
			return ValueInfo{}, fmt.Errorf("%w: %s: argument %d (value %d) is at level %d degree %d, argument 0 at level %d degree %d; all must agree",
				ErrInvalid, where, k, ins.Args[k], a.Level, a.Degree, args[0].Level, args[0].Degree)
		}
		c := ins.Coeffs[k]
		if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c*ins.Scale) >= MaxDotWeight {
			return ValueInfo{}, fmt.Errorf("%w: %s: coefficient %d (%v) times the scale %v is not an int64 weight", ErrInvalid, where, k, c, ins.Scale)
		}
	}
	return ValueInfo{Degree: args[0].Degree, Level: args[0].Level}, nil
}

// elementShape is the shape a layout describes: one element per ciphertext
// under feature-major packing, else the tensor's shape.
func elementShape(shape []int64, elements []uint32) []int64 {
	if len(elements) > 0 {
		return []int64{1}
	}
	return shape
}

// checkElements checks a feature-major input or output: a {1, 1, slots}
// layout and one distinct value per element of the shape.
func checkElements(where string, l *planpb.Layout, shape []int64, elements []uint32, slots int) error {
	if l.Len != 1 || l.Period != 1 || int(l.Batch) != slots || l.Block != 0 {
		return fmt.Errorf("%w: %s: feature-major layout must be {len 1, period 1, batch %d}", ErrInvalid, where, slots)
	}
	prod := int64(1)
	for _, d := range shape {
		if d < 1 || d > 1<<24 {
			return fmt.Errorf("%w: %s: shape %v has a dimension outside [1, 2^24]", ErrInvalid, where, shape)
		}
		prod *= d
		if prod > 1<<24 {
			return fmt.Errorf("%w: %s: shape %v has more than 2^24 elements", ErrInvalid, where, shape)
		}
	}
	if prod != int64(len(elements)) {
		return fmt.Errorf("%w: %s: shape %v has %d elements, element_values lists %d", ErrInvalid, where, shape, prod, len(elements))
	}
	seen := make(map[uint32]bool, len(elements))
	for _, v := range elements {
		if seen[v] {
			return fmt.Errorf("%w: %s: value %d listed twice in element_values", ErrInvalid, where, v)
		}
		seen[v] = true
	}
	return nil
}

// checkLinear checks a LINEAR instruction: a degree-1 ciphertext, one
// plaintext per distinct offset at the ciphertext's level, a power-of-two
// baby-step size, and the Galois keys of every rotation it performs.
func checkLinear(where string, ins *planpb.Instruction, args []ValueInfo, slots int, haveKey func(uint64) bool, galEl func(int) uint64) error {
	if args[0].Plain || args[0].Degree != 1 {
		return fmt.Errorf("%w: %s: argument 0 (value %d) must be a degree-1 ciphertext", ErrInvalid, where, ins.Args[0])
	}
	if len(ins.Offsets) != len(ins.Args)-1 {
		return fmt.Errorf("%w: %s: %d offsets for %d diagonals", ErrInvalid, where, len(ins.Offsets), len(ins.Args)-1)
	}
	if n1 := int(ins.N1); n1 < 1 || n1 > slots || n1&(n1-1) != 0 {
		return fmt.Errorf("%w: %s: baby-step size %d is not a power of two in [1, %d]", ErrInvalid, where, ins.N1, slots)
	}
	seen := map[int64]bool{}
	for j, a := range args[1:] {
		if !a.Plain || a.Level != args[0].Level {
			return fmt.Errorf("%w: %s: argument %d (value %d) must be a plaintext at level %d", ErrInvalid, where, j+1, ins.Args[j+1], args[0].Level)
		}
		k := ((ins.Offsets[j] % int64(slots)) + int64(slots)) % int64(slots)
		if seen[k] {
			return fmt.Errorf("%w: %s: offset %d repeated (mod %d slots)", ErrInvalid, where, ins.Offsets[j], slots)
		}
		seen[k] = true
	}
	giants, babies := LinearRotations(ins, slots)
	for _, r := range append(giants, babies...) {
		if g := galEl(r); !haveKey(g) {
			return fmt.Errorf("%w: %s: rotation by %d needs the Galois key for element %d, which keys.galois_elements lacks", ErrInvalid, where, r, g)
		}
	}
	return nil
}

func validScale(s float64) bool {
	return s > 0 && !math.IsInf(s, 0) && !math.IsNaN(s)
}

// FromCKKSParameters is the inverse of CKKSParameters for standard-ring
// parameters with a ternary secret and a discrete Gaussian error; the caller
// sets SecurityBits or Insecure.
func FromCKKSParameters(params hefloat.Parameters) (*planpb.Params, error) {
	if params.RingType() != ring.Standard {
		return nil, fmt.Errorf("plan: ring type %v is not the standard ring", params.RingType())
	}
	out := &planpb.Params{
		LogN:            uint32(params.LogN()),
		Q:               params.Q(),
		P:               params.P(),
		LogDefaultScale: math.Log2(params.DefaultScale().Float64()),
	}
	switch xs := params.Xs().(type) {
	case ring.Ternary:
		switch {
		case xs.H != 0:
			out.HammingWeight = uint32(xs.H)
		case xs.P != 2.0/3:
			return nil, fmt.Errorf("plan: ternary secret with density %v is neither uniform nor fixed Hamming weight", xs.P)
		}
	default:
		return nil, fmt.Errorf("plan: secret distribution %T is not ternary", xs)
	}
	switch xe := params.Xe().(type) {
	case ring.DiscreteGaussian:
		out.ErrorStd, out.ErrorBound = xe.Sigma, xe.Bound
	default:
		return nil, fmt.Errorf("plan: error distribution %T is not a discrete Gaussian", xe)
	}
	return out, nil
}
