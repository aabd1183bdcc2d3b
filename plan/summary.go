package plan

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"

	"github.com/fhec/fhec/plan/planpb"
)

// Summary is what `fhec inspect --json` prints: a plan's parameters,
// security, keys and their sizes, instruction counts, per-layer table and
// cost and memory estimates. Field names and meanings are a stable,
// documented interface (docs/plan-format.md): fields may be added, never
// renamed or removed. Sizes are in bytes.
type Summary struct {
	FormatVersion string `json:"formatVersion"` // of the file read ("1.1"); the current version when summarizing a decoded plan
	PlanSHA256    string `json:"planSha256"`    // SHA-256 of the whole file (empty for a decoded plan)
	Producer      string `json:"producer"`

	// CKKS parameters.
	LogN            int      `json:"logN"`
	Slots           int      `json:"slots"`
	LogQP           float64  `json:"logQP"` // log2 of the whole modulus Q*P
	LogQ            float64  `json:"logQ"`
	LogP            float64  `json:"logP"`
	Q               []uint64 `json:"q"`
	P               []uint64 `json:"p"`
	Levels          int      `json:"levels"` // len(q) - 1: rescales available
	LogDefaultScale float64  `json:"logDefaultScale"`
	HammingWeight   int      `json:"hammingWeight"` // 0: uniform ternary secret
	ErrorStd        float64  `json:"errorStd"`
	ErrorBound      float64  `json:"errorBound"`

	// Security.
	SecurityBits         int     `json:"securityBits"`         // claimed by the plan (0 when insecure)
	Insecure             bool    `json:"insecure"`             // test parameters, no security claim
	SecurityEstimateBits int     `json:"securityEstimateBits"` // 256, 192, 128 by the HE standard table for logQP, 0 below 128
	HEStandardMaxLogQP   float64 `json:"heStandardMaxLogQP"`   // largest logQP at 128 bits for this N
	Bootstraps           uint64  `json:"bootstraps"`

	// Keys.
	Relinearization       bool         `json:"relinearization"`
	GaloisKeys            int          `json:"galoisKeys"`
	Keys                  []KeySummary `json:"keys"`
	RelinKeyBytes         int64        `json:"relinKeyBytes"`  // one relinearization key as Lattigo serializes it (0 if not needed)
	GaloisKeyBytes        int64        `json:"galoisKeyBytes"` // one Galois key as Lattigo serializes it
	EvalKeyBytes          int64        `json:"evalKeyBytes"`   // relinKeyBytes + galoisKeys * galoisKeyBytes
	EvalKeyFileBytes      int64        `json:"evalKeyFileBytes"`
	SecretKeyBytes        int64        `json:"secretKeyBytes"`
	SecretKeyFileBytes    int64        `json:"secretKeyFileBytes"`
	CiphertextBytes       int64        `json:"ciphertextBytes"`       // one input ciphertext as Lattigo serializes it
	OutputCiphertextBytes int64        `json:"outputCiphertextBytes"` // one output ciphertext
	// One input ciphertext as an input file stores it (seeded: its first
	// polynomial and the 32-byte seed of the second).
	SeededCiphertextBytes int64 `json:"seededCiphertextBytes"`
	SamplesPerCiphertext  int   `json:"samplesPerCiphertext"`

	// Memory estimates (see docs/plan-format.md for the model).
	PlaintextBytes       int64 `json:"plaintextBytes"`       // every ENCODE result, held by the server
	ServerPerWorkerBytes int64 `json:"serverPerWorkerBytes"` // live ciphertexts and scratch of one worker
	ServerPeakBytes      int64 `json:"serverPeakBytes"`      // keys + plaintexts + one worker
	ClientPeakBytes      int64 `json:"clientPeakBytes"`      // max(key generation, encrypt/decrypt one ciphertext)

	// Program.
	Inputs            []IOSummary       `json:"inputs"`
	Outputs           []IOSummary       `json:"outputs"`
	Constants         int               `json:"constants"`
	ConstantValues    int               `json:"constantValues"`
	Instructions      int               `json:"instructions"`
	InstructionCounts map[string]int    `json:"instructionCounts"` // by op name, e.g. "ROTATE"
	OpCounts          OpCountsSummary   `json:"opCounts"`          // the compiler's counts (plan metadata)
	Layers            []LayerSummary    `json:"layers"`
	Activations       []ActivationInfo  `json:"activations"`
	Properties        map[string]string `json:"properties"`

	// Cost estimate (see docs/plan-format.md for the model).
	EstimatedModMults    float64 `json:"estimatedModMults"`    // 64-bit modular multiplications per ciphertext
	EstimatedKeySwitches uint64  `json:"estimatedKeySwitches"` // rotations + relinearizations (incl. polynomials)
}

// KeySummary is one evaluation key.
type KeySummary struct {
	Kind          string `json:"kind"` // "relinearization" or "galois"
	GaloisElement uint64 `json:"galoisElement,omitempty"`
	Rotations     []int  `json:"rotations,omitempty"` // left rotations in the program that use this key
	Bytes         int64  `json:"bytes"`
}

// IOSummary is one input or output.
type IOSummary struct {
	Name      string   `json:"name"`
	Shape     []int64  `json:"shape"`
	Len       int      `json:"len"`
	Period    int      `json:"period"`
	Batch     int      `json:"batch"`
	Level     int      `json:"level"`
	ClientOps []string `json:"clientOps,omitempty"`
	// Ciphertexts per group of Batch samples: 1, or one per element under
	// feature-major packing.
	Ciphertexts int `json:"ciphertexts"`
	// Placed: the layout lists each element's position (format 1.4).
	Placed bool `json:"placed,omitempty"`
}

// OpCountsSummary mirrors planpb.OpCounts.
type OpCountsSummary struct {
	Rotations        uint64 `json:"rotations"`
	CtCtMults        uint64 `json:"ctCtMults"`
	CtPtMults        uint64 `json:"ctPtMults"`
	Rescales         uint64 `json:"rescales"`
	Relinearizations uint64 `json:"relinearizations"`
	Bootstraps       uint64 `json:"bootstraps"`
	KeySwitches      uint64 `json:"keySwitches"`
	Additions        uint64 `json:"additions"`
	Encodes          uint64 `json:"encodes"`
}

// LayerSummary mirrors planpb.Layer.
type LayerSummary struct {
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	Instructions uint32  `json:"instructions"`
	LevelIn      uint32  `json:"levelIn"`
	LevelOut     uint32  `json:"levelOut"`
	LogScaleOut  float64 `json:"logScaleOut"`
	Rotations    uint64  `json:"rotations"`
	CtPtMults    uint64  `json:"ctPtMults"`
	CtCtMults    uint64  `json:"ctCtMults"`
	Rescales     uint64  `json:"rescales"`
	Encodes      uint64  `json:"encodes"`
	FitMaxError  float64 `json:"fitMaxError"`
}

// ActivationInfo mirrors planpb.Activation.
type ActivationInfo struct {
	Value       string  `json:"value"`
	Function    string  `json:"function"`
	Lo          float64 `json:"lo"`
	Hi          float64 `json:"hi"`
	Degree      uint32  `json:"degree"`
	FitMaxError float64 `json:"fitMaxError"`
}

// heStandard192 and heStandard256 complete heStandard128 (same source and
// extrapolation).
var (
	heStandard192 = map[int]float64{10: 19, 11: 37, 12: 75, 13: 152, 14: 305, 15: 611, 16: 1221, 17: 2441}
	heStandard256 = map[int]float64{10: 14, 11: 29, 12: 58, 13: 118, 14: 237, 15: 476, 16: 951, 17: 1901}
)

// SecurityEstimate is the highest of 256, 192 and 128 bits that the
// HomomorphicEncryption.org table grants a ring of degree 2^logN with a
// modulus of logQP bits (uniform ternary secret, error std 3.2), 0 if none.
func SecurityEstimate(logN int, logQP float64) int {
	switch {
	case logQP <= heStandard256[logN]:
		return 256
	case logQP <= heStandard192[logN]:
		return 192
	case logQP <= heStandard128[logN]:
		return 128
	}
	return 0
}

// FileSummary summarizes a plan file: it checks and decodes b, then
// summarizes the plan, adding the file's version and SHA-256.
func FileSummary(b []byte) (*Summary, error) {
	p, err := Unmarshal(b)
	if err != nil {
		return nil, err
	}
	s, err := Summarize(p)
	if err != nil {
		return nil, err
	}
	s.FormatVersion = fmt.Sprintf("%d.%d", binary.LittleEndian.Uint16(b[8:]), binary.LittleEndian.Uint16(b[10:]))
	sum := sha256.Sum256(b)
	s.PlanSHA256 = hex.EncodeToString(sum[:])
	return s, nil
}

// Summarize describes a plan (validating it first).
func Summarize(p *planpb.Plan) (*Summary, error) {
	info, err := Analyze(p)
	if err != nil {
		return nil, err
	}
	params, err := CKKSParameters(p.Params)
	if err != nil {
		return nil, err
	}
	pr := p.Params
	n := params.N()
	s := &Summary{
		FormatVersion: fmt.Sprintf("%d.%d", VersionMajor, VersionMinor),
		Producer:      p.Producer,
		LogN:          params.LogN(), Slots: params.MaxSlots(),
		LogQP: round(params.LogQP(), 3), LogQ: round(params.LogQ(), 3), LogP: round(params.LogP(), 3),
		Q: nonNil(pr.Q), P: nonNil(pr.P), Levels: params.MaxLevel(), LogDefaultScale: pr.LogDefaultScale,
		HammingWeight: int(pr.HammingWeight), ErrorStd: pr.ErrorStd, ErrorBound: pr.ErrorBound,
		SecurityBits: int(pr.SecurityBits), Insecure: pr.Insecure,
		SecurityEstimateBits: SecurityEstimate(params.LogN(), params.LogQP()),
		HEStandardMaxLogQP:   heStandard128[params.LogN()],
		Bootstraps:           p.Metadata.GetOpCounts().GetBootstraps(),
		Relinearization:      p.Keys.GetRelinearization(),
		GaloisKeys:           len(p.Keys.GetGaloisElements()),
		Keys:                 []KeySummary{},
		InstructionCounts:    map[string]int{},
		Layers:               []LayerSummary{},
		Activations:          []ActivationInfo{},
		Properties:           map[string]string{},
		Constants:            len(p.Constants),
		Instructions:         len(p.Program),
	}

	// Keys and their sizes.
	evk := EvaluationKeyBytes(params)
	s.GaloisKeyBytes = evk + 16
	if s.Relinearization {
		s.RelinKeyBytes = evk
		s.Keys = append(s.Keys, KeySummary{Kind: "relinearization", Bytes: evk})
	}
	rots := map[uint64][]int{}
	for _, ins := range p.Program {
		var offs []int
		switch ins.Op {
		case planpb.Op_ROTATE:
			offs = []int{int(ins.Offset)}
		case planpb.Op_LINEAR:
			giants, babies := LinearRotations(ins, params.MaxSlots())
			offs = append(giants, babies...)
		}
		for _, o := range offs {
			g := params.GaloisElement(o)
			if r := rots[g]; !slices.Contains(r, o) {
				rots[g] = append(r, o)
			}
		}
	}
	for _, g := range p.Keys.GetGaloisElements() {
		r := rots[g]
		sort.Ints(r)
		s.Keys = append(s.Keys, KeySummary{Kind: "galois", GaloisElement: g, Rotations: compactInts(r), Bytes: s.GaloisKeyBytes})
	}
	s.EvalKeyBytes = s.RelinKeyBytes + int64(s.GaloisKeys)*s.GaloisKeyBytes
	// eval.key file (runtime/binary.go): frame, has_relin, [blob], count, blobs.
	s.EvalKeyFileBytes = frameBytes + 1 + 4 + int64(s.GaloisKeys)*(8+s.GaloisKeyBytes)
	if s.Relinearization {
		s.EvalKeyFileBytes += 8 + s.RelinKeyBytes
	}
	s.SecretKeyBytes = polyBytes(n, params.QCount()) + polyBytes(n, params.PCount())
	s.SecretKeyFileBytes = frameBytes + 8 + s.SecretKeyBytes

	// Inputs, outputs, ciphertexts.
	inLevel, outLevel, inCts, outCts := 0, 0, 0, 0
	for _, in := range p.Inputs {
		s.Inputs = append(s.Inputs, IOSummary{Name: in.Name, Shape: nonNil(in.Shape), Len: InputLen(in), Period: int(in.Layout.Period),
			Batch: int(in.Layout.Batch), Level: int(in.Level), Ciphertexts: len(InputValues(in)), Placed: len(in.Layout.GetPositions()) > 0})
		inCts += len(InputValues(in))
		inLevel = max(inLevel, int(in.Level))
		s.SamplesPerCiphertext = int(in.Layout.Batch)
	}
	for _, out := range p.Outputs {
		lvl := info[out.Value].Level
		s.Outputs = append(s.Outputs, IOSummary{Name: out.Name, Shape: nonNil(out.Shape), Len: OutputLen(out), Period: int(out.Layout.Period),
			Batch: int(out.Layout.Batch), Level: lvl, ClientOps: out.ClientOps, Ciphertexts: len(OutputValues(out))})
		outCts += len(OutputValues(out))
		outLevel = max(outLevel, lvl)
	}
	s.CiphertextBytes = CiphertextBytes(params, 1, inLevel)
	s.OutputCiphertextBytes = CiphertextBytes(params, 1, outLevel)
	s.SeededCiphertextBytes = CiphertextBytes(params, 0, inLevel) + 32
	for _, c := range p.Constants {
		s.ConstantValues += len(c.Values)
	}

	// Instructions, cost and memory.
	for _, ins := range p.Program {
		s.InstructionCounts[ins.Op.String()]++
	}
	s.EstimatedModMults, s.PlaintextBytes, s.ServerPerWorkerBytes = estimate(p, info, params)
	s.ServerPeakBytes = s.EvalKeyBytes + s.PlaintextBytes + s.ServerPerWorkerBytes
	keygen := s.SecretKeyBytes + s.EvalKeyBytes
	encdec := s.SecretKeyBytes + int64(max(inCts, 1))*s.CiphertextBytes + int64(outCts)*s.OutputCiphertextBytes
	s.ClientPeakBytes = max(keygen, encdec)

	c := p.Metadata.GetOpCounts()
	s.OpCounts = OpCountsSummary{Rotations: c.GetRotations(), CtCtMults: c.GetCtCtMults(), CtPtMults: c.GetCtPtMults(), Rescales: c.GetRescales(),
		Relinearizations: c.GetRelinearizations(), Bootstraps: c.GetBootstraps(), KeySwitches: c.GetKeySwitches(), Additions: c.GetAdditions(), Encodes: c.GetEncodes()}
	s.EstimatedKeySwitches = c.GetKeySwitches()
	for _, l := range p.Metadata.GetLayers() {
		s.Layers = append(s.Layers, LayerSummary{Name: l.Name, Kind: l.Kind, Instructions: l.Instructions, LevelIn: l.LevelIn, LevelOut: l.LevelOut,
			LogScaleOut: logScale(l.ScaleOut), Rotations: l.Rotations, CtPtMults: l.CtPtMults, CtCtMults: l.CtCtMults,
			Rescales: l.Rescales, Encodes: l.Encodes, FitMaxError: l.FitMaxError})
	}
	for _, a := range p.Metadata.GetActivations() {
		s.Activations = append(s.Activations, ActivationInfo{Value: a.Value, Function: a.Function, Lo: a.Lo, Hi: a.Hi, Degree: a.Degree, FitMaxError: a.FitMaxError})
	}
	for k, v := range p.Metadata.GetProperties() {
		s.Properties[k] = v
	}
	return s, nil
}

// frameBytes is the size of runtime/binary.go's frame around a body.
const frameBytes = 8 + 2 + 32 + 8 + sha256.Size

// polyBytes is the size of a ring.Poly with the given number of RNS limbs as
// Lattigo serializes it: a matrix of uint64 (8-byte count, then per limb an
// 8-byte length and N coefficients).
func polyBytes(n, limbs int) int64 { return 8 + int64(limbs)*(8+8*int64(n)) }

// CiphertextBytes is the size of an rlwe.Ciphertext of the given degree and
// level as Lattigo's MarshalBinary writes it: a metadata flag, the metadata,
// and a vector of degree+1 polynomials.
func CiphertextBytes(params hefloat.Parameters, degree, level int) int64 {
	var md rlwe.MetaData
	return 1 + int64(md.BinarySize()) + 8 + int64(degree+1)*polyBytes(params.N(), level+1)
}

// EvaluationKeyBytes is the size of an rlwe.EvaluationKey (and of a
// RelinearizationKey; a GaloisKey adds 16 bytes) generated with the default
// evaluation-key parameters (all levels of Q and P, no base-2 decomposition),
// as Lattigo's MarshalBinary writes it: the base-2 decomposition, then a
// matrix of vectors of (degree-1 ciphertexts over QP).
func EvaluationKeyBytes(params hefloat.Parameters) int64 {
	lq, lp := params.MaxLevelQ(), params.MaxLevelP()
	if lp < 0 {
		return 0
	}
	rows := params.BaseRNSDecompositionVectorSize(lq, lp)
	cols := params.BaseTwoDecompositionVectorSize(lq, lp, 0)
	qp := polyBytes(params.N(), lq+1) + polyBytes(params.N(), lp+1)
	vectorQP := 8 + 2*qp
	size := int64(8 + 8)
	for i := range rows {
		size += 8 + int64(cols[i])*vectorQP
	}
	return size
}

// estimate runs the cost and memory model over the program (one ciphertext
// group): modular multiplications, plaintext bytes, and the peak bytes of
// live ciphertexts plus evaluator scratch of one worker.
func estimate(p *planpb.Plan, info []ValueInfo, params hefloat.Parameters) (modMults float64, plainBytes, perWorker int64) {
	n := float64(params.N())
	logN := float64(params.LogN())
	alpha := float64(params.PCount())
	ntt := func(limbs float64) float64 { return limbs * n * logN / 2 } // butterflies, one mult each
	keySwitch := func(level int) float64 {
		k := float64(level + 1)
		beta := math.Ceil(k / max(alpha, 1))
		// decompose (INTT of k limbs, then beta digits NTT'd over k+alpha),
		// inner products with the key (2 beta (k+alpha) N), mod-down of two
		// polynomials (INTT alpha, NTT k, 2 k N).
		return ntt(k) + beta*ntt(k+alpha) + 2*beta*(k+alpha)*n + 2*(ntt(alpha)+ntt(k)+k*n)
	}
	ctBytes := func(v ValueInfo) int64 { return int64(v.Degree+1) * int64(v.Level+1) * 8 * int64(params.N()) }

	// Liveness: last use of each value.
	last := make([]int, p.NumValues)
	for i := range last {
		last[i] = -1
	}
	for pc, ins := range p.Program {
		for _, a := range ins.Args {
			last[a] = pc
		}
	}
	for _, out := range p.Outputs {
		for _, v := range OutputValues(out) {
			last[v] = len(p.Program)
		}
	}
	var live, peak int64
	for _, in := range p.Inputs {
		for _, v := range InputValues(in) {
			live += ctBytes(info[v])
		}
	}
	peak = live
	for pc, ins := range p.Program {
		res := info[ins.Result]
		level := res.Level
		k := float64(level + 1)
		var temp int64
		switch ins.Op {
		case planpb.Op_ENCODE:
			plainBytes += int64(level+1) * 8 * int64(params.N())
			modMults += ntt(k) // encoding: an NTT per limb (plus an FFT, not counted)
			continue
		case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN:
			// additions: no multiplications
		case planpb.Op_MUL_PLAIN:
			modMults += 2 * k * n
		case planpb.Op_MUL:
			modMults += 4 * k * n
		case planpb.Op_ROTATE:
			modMults += keySwitch(level) + 2*k*n
		case planpb.Op_LINEAR:
			// hoisted baby steps share one decomposition and skip the
			// mod-down (about half a key switch each); products in QP
			giants, babies := LinearRotations(ins, params.MaxSlots())
			modMults += float64(len(giants))*keySwitch(level) + 0.5*float64(len(babies))*keySwitch(level)
			modMults += float64(len(ins.Offsets)) * 2 * (k + alpha) * n
		case planpb.Op_DOT:
			modMults += float64(DotTerms(ins)) * float64(res.Degree+1) * k * n
		case planpb.Op_RELINEARIZE:
			modMults += keySwitch(level)
		case planpb.Op_RESCALE:
			in := info[ins.Args[0]]
			modMults += float64(in.Degree+1) * (ntt(1) + ntt(float64(in.Level)) + float64(in.Level)*n)
		case planpb.Op_POLY:
			d := len(ins.Coeffs) - 1
			mults := math.Ceil(2*math.Sqrt(float64(d))) + float64(bits.Len(uint(d)))
			lvl := info[ins.Args[0]].Level
			// each product at about the mean level: tensor, relinearize, rescale
			mean := max(0, lvl-int(ins.Depth)/2)
			km := float64(mean + 1)
			modMults += mults * (4*km*n + keySwitch(mean) + 2*(ntt(1)+ntt(km)+km*n))
			// scalar multiply-adds of the coefficients
			modMults += float64(d+1) * 2 * k * n
			// the power basis Lattigo keeps while evaluating
			temp = int64(mults) * ctBytes(ValueInfo{Degree: 1, Level: lvl})
		}
		live += ctBytes(res)
		peak = max(peak, live+temp)
		for _, a := range ins.Args {
			if last[a] == pc && !info[a].Plain {
				live -= ctBytes(info[a])
				last[a] = -2 // freed once even if used twice by this instruction
			}
		}
		if last[ins.Result] == -1 { // dead result
			live -= ctBytes(res)
		}
	}
	// Evaluator scratch: Lattigo's key-switching buffers, about six
	// polynomials over QP.
	scratch := 6 * int64(params.QCount()+params.PCount()) * 8 * int64(params.N())
	return math.Round(modMults), plainBytes, peak + scratch
}

// logScale is log2 of a layer's scale, 0 when unknown (not positive).
func logScale(s float64) float64 {
	if s <= 0 {
		return 0
	}
	return round(math.Log2(s), 6)
}

func round(x float64, digits int) float64 {
	m := math.Pow(10, float64(digits))
	return math.Round(x*m) / m
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// compactInts drops duplicates from a sorted slice.
func compactInts(s []int) []int {
	var out []int
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
