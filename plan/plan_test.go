package plan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/plan/planpb"
)

var update = flag.Bool("update", false, "rewrite testdata/small.plan")

// smallParams are insecure test parameters: N = 2^12, 5 ciphertext primes.
func smallParams(t testing.TB) *planpb.Params {
	t.Helper()
	hp, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{
		LogN: 12, LogQ: []int{55, 40, 40, 40, 40}, LogP: []int{61}, LogDefaultScale: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromCKKSParameters(hp)
	if err != nil {
		t.Fatal(err)
	}
	p.Insecure = true
	return p
}

// smallPlanParams: the small plans' parameters, their Lattigo form and the
// input scale 2^40.
func smallPlanParams(t testing.TB) (*planpb.Params, hefloat.Parameters, float64) {
	t.Helper()
	params := smallParams(t)
	hp, err := CKKSParameters(params)
	if err != nil {
		t.Fatal(err)
	}
	return params, hp, float64(uint64(1) << 40)
}

// smallPlan: y = rot(x * w, 2) + x*w rescaled, plus a bias; then a square
// and a Chebyshev polynomial, to touch every op.
func smallPlan(t testing.TB) *planpb.Plan {
	t.Helper()
	params, hp, scale := smallPlanParams(t)
	q4 := float64(params.Q[4])
	lay := &planpb.Layout{Len: 3, Period: 4, Batch: 2}
	return &planpb.Plan{
		Producer: "plan_test",
		Params:   params,
		Keys:     &planpb.KeySet{Relinearization: true, GaloisElements: []uint64{hp.GaloisElement(2)}},
		Inputs:   []*planpb.Input{{Name: "x", Shape: []int64{3}, Layout: lay, Value: 0, Level: 4, Scale: scale}},
		Constants: []*planpb.Constant{
			{Name: "w", Values: []float64{1, 2, 3, 0}},
			{Name: "b", Values: []float64{0.5}},
		},
		Program: []*planpb.Instruction{
			{Op: planpb.Op_ENCODE, Result: 1, Constant: 0, Level: 4, Scale: q4, Batch: 2},
			{Op: planpb.Op_MUL_PLAIN, Args: []uint32{0, 1}, Result: 2},
			{Op: planpb.Op_RESCALE, Args: []uint32{2}, Result: 3},
			{Op: planpb.Op_ROTATE, Args: []uint32{3}, Result: 4, Offset: 2},
			{Op: planpb.Op_ADD, Args: []uint32{3, 4}, Result: 5},
			{Op: planpb.Op_ENCODE, Result: 6, Constant: 1, Level: 3, Scale: scale, Batch: 2},
			{Op: planpb.Op_ADD_PLAIN, Args: []uint32{5, 6}, Result: 7},
			{Op: planpb.Op_MUL, Args: []uint32{7, 7}, Result: 8},
			{Op: planpb.Op_RELINEARIZE, Args: []uint32{8}, Result: 9},
			{Op: planpb.Op_RESCALE, Args: []uint32{9}, Result: 10},
			{Op: planpb.Op_POLY, Args: []uint32{10}, Result: 11, Coeffs: []float64{0.1, 0.5, 0.25}, Depth: 2, Scale: scale},
		},
		Outputs:   []*planpb.Output{{Name: "y", Shape: []int64{3}, Layout: lay, Value: 11, ClientOps: []string{"argmax"}}},
		NumValues: 12,
		Metadata: &planpb.Metadata{
			Properties:  map[string]string{"model": "tiny", "fhec.version": "test"},
			Activations: []*planpb.Activation{{Value: "11", Function: "relu", Lo: -1, Hi: 1, Degree: 2, FitMaxError: 0.1}},
			OpCounts:    &planpb.OpCounts{Rotations: 1, CtCtMults: 1, CtPtMults: 1, Rescales: 2, Relinearizations: 1, KeySwitches: 2, Additions: 2, Encodes: 2},
		},
	}
}

// smallFeatureMajorPlan is a feature-major plan (format 1.3): three input
// elements, a dense row over their squares (DOT on degree-2 operands),
// relinearized and rescaled twice, and a one-operand DOT with a bias.
func smallFeatureMajorPlan(t testing.TB) *planpb.Plan {
	t.Helper()
	params, hp, scale := smallPlanParams(t)
	lay := &planpb.Layout{Len: 1, Period: 1, Batch: uint32(hp.MaxSlots())}
	return &planpb.Plan{
		Producer: "plan_test",
		Params:   params,
		Keys:     &planpb.KeySet{Relinearization: true},
		Inputs:   []*planpb.Input{{Name: "x", Shape: []int64{3}, Layout: lay, Value: 0, ElementValues: []uint32{0, 1, 2}, Level: 4, Scale: scale}},
		Program: []*planpb.Instruction{
			{Op: planpb.Op_MUL, Args: []uint32{0, 0}, Result: 3},
			{Op: planpb.Op_MUL, Args: []uint32{1, 1}, Result: 4},
			{Op: planpb.Op_MUL, Args: []uint32{2, 2}, Result: 5},
			{Op: planpb.Op_DOT, Args: []uint32{3, 4, 5}, Result: 6, Coeffs: []float64{0.5, -0.25, 0}, Scale: float64(params.Q[3]), Bias: 0.125},
			{Op: planpb.Op_RELINEARIZE, Args: []uint32{6}, Result: 7},
			{Op: planpb.Op_RESCALE, Args: []uint32{7}, Result: 8},
			{Op: planpb.Op_RESCALE, Args: []uint32{8}, Result: 9},
			{Op: planpb.Op_DOT, Args: []uint32{9}, Result: 10, Coeffs: []float64{1}, Scale: 1, Bias: -1},
			{Op: planpb.Op_DOT, Args: []uint32{9}, Result: 11, Coeffs: []float64{2}, Scale: 1},
		},
		Outputs:   []*planpb.Output{{Name: "y", Shape: []int64{2}, Layout: lay, Value: 10, ElementValues: []uint32{10, 11}}},
		NumValues: 12,
		Metadata:  &planpb.Metadata{OpCounts: &planpb.OpCounts{CtCtMults: 3, CtPtMults: 4, Rescales: 2, Relinearizations: 1, KeySwitches: 1, Additions: 2}},
	}
}

// TestValidateFeatureMajor: the feature-major plan is valid, and each way
// of breaking its DOTs and element lists is refused with a clear error.
func TestValidateFeatureMajor(t *testing.T) {
	if err := Validate(smallFeatureMajorPlan(t)); err != nil {
		t.Fatalf("valid plan rejected: %v", err)
	}
	cases := []invalidCase{
		{"coeff count", func(p *planpb.Plan) { p.Program[3].Coeffs = p.Program[3].Coeffs[:2] }, "2 coefficients for 3 arguments"},
		{"weight overflow", func(p *planpb.Plan) { p.Program[3].Coeffs[0] = 1e10 }, "not an int64 weight"},
		{"NaN coeff", func(p *planpb.Plan) { p.Program[3].Coeffs[1] = math.NaN() }, "not an int64 weight"},
		{"bias Inf", func(p *planpb.Plan) { p.Program[3].Bias = math.Inf(1) }, "bias"},
		{"scale 0", func(p *planpb.Plan) { p.Program[3].Scale = 0 }, "weight scale"},
		{"mixed degrees", func(p *planpb.Plan) { p.Program[3].Args[2] = 2 }, "all must agree"},
		{"no args", func(p *planpb.Plan) { p.Program[7].Args = nil; p.Program[7].Coeffs = nil }, "want at least 1"},
		{"element twice", func(p *planpb.Plan) { p.Inputs[0].ElementValues[2] = 1 }, "listed twice"},
		{"element count", func(p *planpb.Plan) { p.Inputs[0].Shape = []int64{4} }, "element_values lists 3"},
		{"value not first", func(p *planpb.Plan) { p.Inputs[0].Value = 1 }, "not element_values[0]"},
		{"layout", func(p *planpb.Plan) { p.Inputs[0].Layout = &planpb.Layout{Len: 1, Period: 1, Batch: 2} }, "feature-major layout"},
		{"output element undefined", func(p *planpb.Plan) { p.Outputs[0].ElementValues[1] = 40 }, "not defined"},
		{"output element degree 2", func(p *planpb.Plan) { p.Outputs[0].ElementValues[1] = 6 }, "degree-1 ciphertext"},
		{"too many values", func(p *planpb.Plan) { p.NumValues = 13 }, "num_values 13"},
	}
	checkInvalid(t, smallFeatureMajorPlan, cases)
}

func TestRoundTrip(t *testing.T) {
	p := smallPlan(t)
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Marshal(proto.Clone(p).(*planpb.Plan))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatal("Marshal is not deterministic")
	}
	if string(b[:8]) != "FHECPLAN" || binary.LittleEndian.Uint16(b[8:]) != 1 || binary.LittleEndian.Uint16(b[10:]) != VersionMinor {
		t.Fatalf("bad header % x", b[:12])
	}
	if n := binary.LittleEndian.Uint64(b[12:]); int(n) != len(b)-headerSize-checksumSize {
		t.Fatalf("payload length %d, file %d bytes", n, len(b))
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, p) {
		t.Fatalf("round trip changed the plan:\n got %v\nwant %v", got, p)
	}

	// Golden file: the encoding of a fixed plan must not drift silently.
	golden := filepath.Join("testdata", "small.plan")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run TestRoundTrip -update)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encoding differs from %s (run with -update if the change is intended)", golden)
	}
	if old, err := Unmarshal(want); err != nil || !proto.Equal(old, p) {
		t.Errorf("golden file does not decode to the plan: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "p.plan")
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || !proto.Equal(got, p) {
		t.Fatalf("ReadFile: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.plan")); err == nil {
		t.Fatal("ReadFile of a missing file succeeded")
	}
}

func TestCorruption(t *testing.T) {
	good, err := Marshal(smallPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		b    []byte
		err  error
		msg  string
	}{
		{"empty", nil, ErrNotPlan, "too short"},
		{"not a plan", []byte("PK\x03\x04 this is a zip file, not a plan"), ErrNotPlan, "magic"},
		{"onnx bytes", mod(func(b []byte) []byte { b[0] = 0x08; return b }), ErrNotPlan, "magic"},
		{"magic only", good[:8], ErrTruncated, "header"},
		{"magic prefix", good[:5], ErrTruncated, "header"},
		{"header only", good[:headerSize], ErrTruncated, "payload"},
		{"truncated payload", good[:len(good)/2], ErrTruncated, "payload"},
		{"truncated checksum", good[:len(good)-1], ErrTruncated, "payload"},
		{"huge length", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[12:], ^uint64(0)); return b }), ErrTruncated, "payload"},
		{"flipped payload bit", mod(func(b []byte) []byte { b[headerSize+10] ^= 0x40; return b }), ErrChecksum, "SHA-256"},
		{"flipped checksum bit", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum, "SHA-256"},
		{"newer major", mod(func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[8:], 2)
			binary.LittleEndian.PutUint16(b[10:], 0)
			return b
		}), ErrVersion,
			"plan format 2.0 is newer than this fhec reads (1.x; it writes 1.4); upgrade fhec"},
		{"major 0", mod(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[8:], 0); return b }), ErrVersion, "plan format 0.4 is older than this fhec reads (1.x; it writes 1.4)"},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrTrailingData, "1 bytes after"},
		{"garbage payload", frame([]byte{0xff, 0xff, 0xff}, 1, 0), ErrInvalid, "not a valid plan message"},
		{"empty payload", frame(nil, 1, 0), ErrInvalid, "no params"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unmarshal(c.b)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q, want %v containing %q", err, c.err, c.msg)
			}
		})
	}

	// A newer minor version of the same major is readable.
	b := mod(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[10:], 7); return b })
	if _, err := Unmarshal(b); err != nil {
		t.Fatalf("minor 1.7: %v", err)
	}

	// An older minor version is readable: testdata/small-v1.0.plan is the
	// same plan as written by format 1.0 (never -update'd).
	old, err := os.ReadFile(filepath.Join("testdata", "small-v1.0.plan"))
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(old[8:]) != 1 || binary.LittleEndian.Uint16(old[10:]) != 0 {
		t.Fatalf("small-v1.0.plan has header % x, want version 1.0", old[8:12])
	}
	p, err := Unmarshal(old)
	if err != nil {
		t.Fatalf("format 1.0 plan: %v", err)
	}
	if !proto.Equal(p, smallPlan(t)) {
		t.Fatal("format 1.0 plan decodes to another plan")
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(smallPlan(t)); err != nil {
		t.Fatalf("valid plan rejected: %v", err)
	}
	placed := smallPlan(t)
	placed.Inputs[0].Layout = &planpb.Layout{Len: 3, Period: 4, Batch: 2, Stride: 1, Positions: []uint32{2, 0, 3}}
	if err := Validate(placed); err != nil {
		t.Fatalf("valid placed layout rejected: %v", err)
	}
	if got := TiledLayout(placed.Inputs[0].Layout); got.Stride != 0 || got.Pos(0) != 2 || got.Pos(2) != 3 {
		t.Fatalf("placed layout read as %+v", got)
	}
	place := func(l *planpb.Layout) func(p *planpb.Plan) { return func(p *planpb.Plan) { p.Inputs[0].Layout = l } }
	cases := []invalidCase{
		{"positions count", place(&planpb.Layout{Len: 3, Period: 4, Batch: 2, Stride: 1, Positions: []uint32{0, 1}}), "2 positions for 3 values"},
		{"position outside", place(&planpb.Layout{Len: 3, Period: 4, Batch: 2, Stride: 1, Positions: []uint32{0, 1, 4}}), "outside the period"},
		{"position twice", place(&planpb.Layout{Len: 3, Period: 4, Batch: 2, Stride: 1, Positions: []uint32{0, 1, 1}}), "which another element holds"},
		{"positions unguarded", place(&planpb.Layout{Len: 3, Period: 4, Batch: 2, Positions: []uint32{2, 0, 1}}), "must have block 0 and stride 1"},
		{"positions and blocks", place(&planpb.Layout{Len: 3, Period: 4, Batch: 2, Block: 2, Stride: 1, Positions: []uint32{2, 0, 1}}), "must have block 0 and stride 1"},
		{"no params", func(p *planpb.Plan) { p.Params = nil }, "no params"},
		{"logN small", func(p *planpb.Plan) { p.Params.LogN = 9 }, "log_n 9"},
		{"logN large", func(p *planpb.Plan) { p.Params.LogN = 18 }, "log_n 18"},
		{"logN mismatch primes", func(p *planpb.Plan) { p.Params.LogN = 14 }, "not NTT-friendly"},
		{"composite q", func(p *planpb.Plan) { p.Params.Q[1] = p.Params.Q[1] + 2*4096*3 }, ""},
		{"non-NTT q", func(p *planpb.Plan) { p.Params.Q[1] += 2 }, "not NTT-friendly"},
		{"duplicate prime", func(p *planpb.Plan) { p.Params.Q[2] = p.Params.Q[1] }, "twice"},
		{"no q", func(p *planpb.Plan) { p.Params.Q = nil }, "no ciphertext primes"},
		{"scale 0", func(p *planpb.Plan) { p.Params.LogDefaultScale = 0 }, "log_default_scale"},
		{"scale 80", func(p *planpb.Plan) { p.Params.LogDefaultScale = 80 }, "log_default_scale"},
		{"error std", func(p *planpb.Plan) { p.Params.ErrorStd = 0 }, "error_std"},
		{"error bound", func(p *planpb.Plan) { p.Params.ErrorBound = 1 }, "error_bound"},
		{"hamming", func(p *planpb.Plan) { p.Params.HammingWeight = 5000 }, "hamming_weight"},
		{"no security claim", func(p *planpb.Plan) { p.Params.Insecure = false }, "security_bits is 0"},
		{"false security claim", func(p *planpb.Plan) { p.Params.Insecure, p.Params.SecurityBits = false, 128 }, "exceeds"},
		{"unsorted galois", func(p *planpb.Plan) { p.Keys.GaloisElements = []uint64{25, 5} }, "sorted"},
		{"even galois", func(p *planpb.Plan) { p.Keys.GaloisElements = []uint64{4} }, "not a Galois element"},
		{"missing galois key", func(p *planpb.Plan) { p.Keys.GaloisElements = nil }, "needs the Galois key"},
		{"missing relin key", func(p *planpb.Plan) { p.Keys.Relinearization = false }, "relinearization key"},
		{"keys without p", func(p *planpb.Plan) { p.Params.P = nil }, "special prime"},
		{"num_values too big", func(p *planpb.Plan) { p.NumValues = 1 << 30 }, "num_values"},
		{"result out of range", func(p *planpb.Plan) { p.NumValues = 11 }, "num_values is 11"},
		{"use before def", func(p *planpb.Plan) { p.Program[1].Args[1] = 6 }, "not defined before use"},
		{"double def", func(p *planpb.Plan) { p.Program[2].Result = 1 }, "second time"},
		{"unknown op", func(p *planpb.Plan) { p.Program[2].Op = 42 }, "unknown op 42"},
		{"arg count", func(p *planpb.Plan) { p.Program[4].Args = p.Program[4].Args[:1] }, "1 args, want 2"},
		{"plain as cipher", func(p *planpb.Plan) { p.Program[3].Args[0] = 1 }, "is a plaintext"},
		{"cipher as plain", func(p *planpb.Plan) { p.Program[6].Args[1] = 5 }, "want a plaintext"},
		{"constant index", func(p *planpb.Plan) { p.Program[0].Constant = 9 }, "constant 9 out of range"},
		{"constant length", func(p *planpb.Plan) { p.Constants[0].Values = []float64{1, 2, 3} }, "power of two"},
		{"encode batch", func(p *planpb.Plan) { p.Program[0].Batch = 3 }, "broadcast"},
		{"encode level", func(p *planpb.Plan) { p.Program[0].Level = 5 }, "max level"},
		{"encode scale", func(p *planpb.Plan) { p.Program[0].Scale = 0 }, "scale"},
		{"rescale at 0", func(p *planpb.Plan) { p.Inputs[0].Level = 0 }, "level 0"},
		{"mul of degree 2", func(p *planpb.Plan) { p.Program[9].Args[0] = 8; p.Program[10].Args[0] = 8 }, "degree"},
		{"relin of degree 1", func(p *planpb.Plan) { p.Program[8].Args[0] = 7 }, "degree 1, want 2"},
		{"poly depth", func(p *planpb.Plan) { p.Program[10].Depth = 1 }, "consumes"},
		{"poly levels", func(p *planpb.Plan) { p.Program[10].Coeffs = make([]float64, 9); p.Program[10].Depth = 4 }, "needs 4 levels"},
		{"poly degree 0", func(p *planpb.Plan) { p.Program[10].Coeffs = []float64{1} }, "degree >= 1"},
		{"input layout", func(p *planpb.Plan) { p.Inputs[0].Layout = &planpb.Layout{Len: 3, Period: 3, Batch: 2} }, "period 3"},
		{"input layout nil", func(p *planpb.Plan) { p.Inputs[0].Layout = nil }, "no layout"},
		{"input shape", func(p *planpb.Plan) { p.Inputs[0].Shape = []int64{2, 2} }, "4 elements"},
		{"input level", func(p *planpb.Plan) { p.Inputs[0].Level = 7 }, "max level"},
		{"input value", func(p *planpb.Plan) { p.Inputs[0].Value = 40 }, "num_values"},
		{"batch mismatch", func(p *planpb.Plan) { p.Outputs[0].Layout = &planpb.Layout{Len: 3, Period: 4, Batch: 1} }, "batch 1"},
		{"output undefined", func(p *planpb.Plan) { p.Outputs[0].Value = 40 }, "not defined"},
		{"output degree 2", func(p *planpb.Plan) { p.Outputs[0].Value = 8 }, "degree-1 ciphertext"},
		{"output plaintext", func(p *planpb.Plan) { p.Outputs[0].Value = 1 }, "degree-1 ciphertext"},
		{"duplicate output", func(p *planpb.Plan) { p.Outputs = append(p.Outputs, p.Outputs[0]) }, "duplicate output"},
	}
	checkInvalid(t, smallPlan, cases)
}

// invalidCase edits a valid plan into one Validate must refuse with an
// ErrInvalid naming msg.
type invalidCase = struct {
	name string
	edit func(p *planpb.Plan)
	msg  string
}

// checkInvalid runs each case on a fresh plan from base: Validate refuses
// it with ErrInvalid containing the case's message, and Marshal refuses it.
func checkInvalid(t *testing.T, base func(testing.TB) *planpb.Plan, cases []invalidCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base(t)
			c.edit(p)
			err := Validate(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q, want ErrInvalid containing %q", err, c.msg)
			}
			if _, err := Marshal(p); err == nil {
				t.Fatal("Marshal accepted an invalid plan")
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := smallParams(t)
	b := proto.Clone(a).(*planpb.Params)
	if Fingerprint(a) != Fingerprint(b) {
		t.Fatal("equal params, different fingerprints")
	}
	b.Q[4]++
	if Fingerprint(a) == Fingerprint(b) {
		t.Fatal("different params, same fingerprint")
	}
	b = proto.Clone(a).(*planpb.Params)
	b.Insecure = false
	if Fingerprint(a) == Fingerprint(b) {
		t.Fatal("insecure flag not bound")
	}
}

func TestCKKSParametersRoundTrip(t *testing.T) {
	p := smallParams(t)
	p.HammingWeight = 192
	hp, err := CKKSParameters(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromCKKSParameters(hp)
	if err != nil {
		t.Fatal(err)
	}
	back.Insecure = true
	if !proto.Equal(p, back) {
		t.Fatalf("got %v, want %v", back, p)
	}
	if hp.MaxSlots() != 2048 || hp.MaxLevel() != 4 || hp.XsHammingWeight() != 192 {
		t.Fatalf("slots %d level %d h %d", hp.MaxSlots(), hp.MaxLevel(), hp.XsHammingWeight())
	}
}

func FuzzUnmarshal(f *testing.F) {
	good, err := Marshal(smallPlan(f))
	if err != nil {
		f.Fatal(err)
	}
	payload := good[headerSize : len(good)-checksumSize]
	f.Add(good)
	fm, err := Marshal(smallFeatureMajorPlan(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fm)
	f.Add(fm[headerSize : len(fm)-checksumSize])
	placed := smallPlan(f)
	placed.Inputs[0].Layout = &planpb.Layout{Len: 3, Period: 4, Batch: 2, Stride: 1, Positions: []uint32{2, 0, 3}}
	pl, err := Marshal(placed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pl)
	f.Add(payload)
	f.Add(good[:40])
	f.Add([]byte("FHECPLAN"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// As a file, and as a payload with a valid frame so that the
		// checksum does not hide the proto decoder and the validator.
		for _, in := range [][]byte{b, frame(b, 1, 0)} {
			p, err := Unmarshal(in)
			if err != nil {
				continue
			}
			// Whatever was accepted can be summarized (fhec inspect) and
			// printed as JSON.
			s, err := Summarize(p)
			if err != nil {
				t.Fatalf("accepted plan cannot be summarized: %v", err)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("summary does not encode as JSON: %v", err)
			}
			// Whatever was accepted must re-encode and decode to itself.
			out, err := Marshal(p)
			if err != nil {
				t.Fatalf("accepted plan does not re-marshal: %v", err)
			}
			q, err := Unmarshal(out)
			if err != nil || !proto.Equal(p, q) {
				t.Fatalf("re-marshal round trip: %v", err)
			}
		}
	})
}
