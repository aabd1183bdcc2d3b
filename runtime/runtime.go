// Package runtime runs fhec plans with Lattigo's CKKS (hefloat).
//
// The client side holds the SecretKey: it generates keys (KeyGen), encrypts
// inputs (Encrypt) and decrypts outputs (Decrypt). The server side only ever
// sees EvaluationKeys (relinearization and Galois keys, no secret) and
// ciphertexts, and runs the plan's program on them (Evaluate).
//
// Samples are split into groups of Layout.Batch; each group is one
// ciphertext per plan input, and the program runs once per group. Under
// feature-major packing (plan format 1.3, Input.element_values), a group is
// one ciphertext per element of the flattened per-sample input, sample b of
// the group in slot b, and the batch is every slot.
//
// The runtime depends on the plan file (package plan) and the slot layout
// (package layout) only, never on the compiler.
package runtime

import (
	cryptorand "crypto/rand"
	"fmt"
	"math"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/he/hefloat/bootstrapping"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// Context holds the Lattigo parameters and the analysis of one plan. It is
// read-only after NewContext and safe for concurrent use.
type Context struct {
	plan        *planpb.Plan
	params      hefloat.Parameters
	fingerprint [32]byte
	info        []plan.ValueInfo
	batch       int
	// inRows and outRows list the ciphertexts of one group of plan inputs
	// and outputs, in plan order: one per tensor, or one per element of a
	// feature-major tensor.
	inRows, outRows []ctRow
	// lastUse[id] is the index of the last instruction that reads value id,
	// len(program) for plan outputs (kept), and the defining instruction's
	// index for values nobody reads.
	lastUse []int
	// hoist[pc] lists, for the first ROTATE of a value, every ROTATE of that
	// value (their instruction indices): they share one key-switching
	// decomposition (hoisted rotations).
	hoist map[int][]int
	// dotGroups[pc] lists, for the first DOT of an argument list, every
	// DOT with exactly that argument list (a dense layer's rows, a
	// convolution's output channels at one position): they run as one
	// matrix product that reads each argument once (dotRows).
	dotGroups map[int][]int

	// The plan's plaintexts, encoded once (on the first Evaluate, or by
	// Prepare) and shared read-only by every later evaluation.
	dagOnce sync.Once
	dag     *dag

	plainOnce sync.Once
	plain     []*rlwe.Plaintext
	lin       map[int]hefloat.LinearTransformation // LINEAR instructions, by result value
	// def[v] is the index of the instruction defining value v (-1: an input);
	// linearOnly[v]: an ENCODE result only LINEAR instructions read.
	def        []int
	linearOnly map[uint32]bool
	plainErr   error
	plainTime  time.Duration

	// btp is set when the plan has bootstrapping parameters.
	btp     *bootstrapping.Parameters
	btpEval bootstrapEvaluators
}

// NewContext validates p and builds the CKKS parameters it describes.
func NewContext(p *planpb.Plan) (*Context, error) {
	info, err := plan.Analyze(p)
	if err != nil {
		return nil, err
	}
	params, err := plan.CKKSParameters(p.Params)
	if err != nil {
		return nil, err
	}
	c := &Context{
		plan:        p,
		params:      params,
		fingerprint: plan.Fingerprint(p.Params),
		info:        info,
		batch:       1,
	}
	if c.btp, err = c.bootstrapParams(); err != nil {
		return nil, err
	}
	if len(p.Inputs) > 0 {
		c.batch = int(p.Inputs[0].Layout.Batch)
	} else if len(p.Outputs) > 0 {
		c.batch = int(p.Outputs[0].Layout.Batch)
	}
	c.lastUse = make([]int, p.NumValues)
	for i := range c.lastUse {
		c.lastUse[i] = -1
	}
	c.def = make([]int, p.NumValues)
	for i := range c.def {
		c.def[i] = -1
	}
	for pc, ins := range p.Program {
		c.lastUse[ins.Result] = pc
		c.def[ins.Result] = pc
	}
	c.linearOnly = LinearOnly(p)
	for pc, ins := range p.Program {
		for _, a := range ins.Args {
			c.lastUse[a] = pc
		}
	}
	c.inRows, c.outRows = inputRows(p), outputRows(p)
	for _, r := range c.outRows {
		c.lastUse[r.value] = len(p.Program)
	}
	c.hoist = map[int][]int{}
	first := map[uint32]int{}
	for pc, ins := range p.Program {
		if ins.Op != planpb.Op_ROTATE || params.GaloisElement(int(ins.Offset)) == 1 {
			continue
		}
		a := ins.Args[0]
		if f, ok := first[a]; ok {
			c.hoist[f] = append(c.hoist[f], pc)
		} else {
			first[a] = pc
			c.hoist[pc] = []int{pc}
		}
	}
	c.dotGroups = map[int][]int{}
	firstDot := map[string]int{}
	for pc, ins := range p.Program {
		if ins.Op != planpb.Op_DOT {
			continue
		}
		key := fmt.Sprint(ins.Args)
		if f, ok := firstDot[key]; ok {
			c.dotGroups[f] = append(c.dotGroups[f], pc)
		} else {
			firstDot[key] = pc
			c.dotGroups[pc] = []int{pc}
		}
	}
	return c, nil
}

// featureMajor reports whether some input or output has one ciphertext per element.
func (c *Context) featureMajor() bool {
	return len(c.inRows) > len(c.plan.Inputs) || len(c.outRows) > len(c.plan.Outputs)
}

// group returns the instructions computed together with the one at pc (a
// hoisted rotation group or a DOT group; nil when it runs alone), and
// whether pc leads the group.
func (c *Context) group(pc int) []int {
	if g := c.hoist[pc]; len(g) > 1 {
		return g
	}
	if g := c.dotGroups[pc]; len(g) > 1 {
		return g
	}
	return nil
}

// Prepare encodes the plan's plaintexts now (a server calls it at start-up),
// so that the first Evaluate does not pay for it. Later calls do nothing.
func (c *Context) Prepare(workers int) error {
	_, _, err := c.plaintexts(workers)
	return err
}

// plaintexts returns the encoded plaintexts, and whether this call encoded them.
func (c *Context) plaintexts(workers int) (plain []*rlwe.Plaintext, encoded bool, err error) {
	c.plainOnce.Do(func() {
		start := time.Now()
		c.plain, c.plainErr = c.encodeAll(workers)
		if c.plainErr == nil {
			c.lin, c.plainErr = c.encodeLinear(workers)
		}
		c.plainTime = time.Since(start)
		encoded = true
	})
	return c.plain, encoded, c.plainErr
}

// Plan returns the plan the context was built from (do not modify it).
func (c *Context) Plan() *planpb.Plan { return c.plan }

// Parameters returns the Lattigo parameters.
func (c *Context) Parameters() hefloat.Parameters { return c.params }

// Fingerprint returns plan.Fingerprint of the plan's parameters.
func (c *Context) Fingerprint() [32]byte { return c.fingerprint }

// Batch is the number of samples per ciphertext group.
func (c *Context) Batch() int { return c.batch }

// Groups is the number of ciphertext groups that hold n samples.
func (c *Context) Groups(samples int) int { return (samples + c.batch - 1) / c.batch }

// SecretKey is the client's secret. It never goes to the server.
type SecretKey struct {
	fingerprint [32]byte
	sk          *rlwe.SecretKey
}

// EvaluationKeys are the public keys the server needs: a relinearization key
// if the plan multiplies ciphertexts, and one Galois key per rotation. They
// hold no secret.
type EvaluationKeys struct {
	fingerprint [32]byte
	rlk         *rlwe.RelinearizationKey
	galois      []*rlwe.GaloisKey // ascending Galois element
	btp         *bootstrapKeys    // only for plans that bootstrap
}

// GaloisElements lists the Galois elements the keys cover, ascending.
func (e *EvaluationKeys) GaloisElements() []uint64 {
	out := make([]uint64, len(e.galois))
	for i, g := range e.galois {
		out[i] = g.GaloisElement
	}
	return out
}

// HasRelinearizationKey reports whether the set holds a relinearization key.
func (e *EvaluationKeys) HasRelinearizationKey() bool { return e.rlk != nil }

func (e *EvaluationKeys) keySet() *rlwe.MemEvaluationKeySet {
	return rlwe.NewMemEvaluationKeySet(e.rlk, e.galois...)
}

// Kind says which end of the plan a Ciphertexts value belongs to.
type Kind uint8

const (
	// Inputs are made by Encrypt and consumed by Evaluate.
	Inputs Kind = 1
	// Outputs are made by Evaluate and consumed by Decrypt.
	Outputs Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Inputs:
		return "inputs"
	case Outputs:
		return "outputs"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ctRow is one ciphertext of every group of a plan input or output: the
// whole tensor, or one element of a feature-major tensor.
type ctRow struct {
	tensor  int    // index in plan.Inputs or plan.Outputs
	element int    // element of a feature-major tensor; -1: the whole tensor
	value   uint32 // SSA value
}

func elementRows(tensor int, value uint32, elements []uint32, rows []ctRow) []ctRow {
	if len(elements) == 0 {
		return append(rows, ctRow{tensor: tensor, element: -1, value: value})
	}
	for f, v := range elements {
		rows = append(rows, ctRow{tensor: tensor, element: f, value: v})
	}
	return rows
}

func inputRows(p *planpb.Plan) []ctRow {
	var rows []ctRow
	for i, in := range p.Inputs {
		rows = elementRows(i, in.Value, in.ElementValues, rows)
	}
	return rows
}

func outputRows(p *planpb.Plan) []ctRow {
	var rows []ctRow
	for o, out := range p.Outputs {
		rows = elementRows(o, out.Value, out.ElementValues, rows)
	}
	return rows
}

func (c *Context) rows(kind Kind) []ctRow {
	if kind == Outputs {
		return c.outRows
	}
	return c.inRows
}

// Rows is the number of ciphertexts per group of samples for plan inputs
// (or outputs): one per tensor, or one per element of a feature-major
// tensor.
func (c *Context) Rows(kind Kind) int { return len(c.rows(kind)) }

// sampleLen is the number of values per sample of a plan input or output:
// its elements under feature-major packing, else Layout.Len.
func sampleLen(l *planpb.Layout, elements []uint32) int {
	if len(elements) > 0 {
		return len(elements)
	}
	return int(l.Len)
}

// Ciphertexts hold, per group of samples, one ciphertext per plan input (or
// output) tensor, or per element of a feature-major tensor (Context.Rows).
type Ciphertexts struct {
	fingerprint [32]byte
	kind        Kind
	samples     int
	values      [][]*rlwe.Ciphertext // [row][group], rows as Context.rows(kind)
	// seeds[row][group], for inputs made by Encrypt: the key of the PRNG
	// that drew the ciphertext's uniform half, so that a file can carry
	// 32 bytes instead of that polynomial (see MarshalBinary).
	seeds [][][]byte
}

// Kind reports whether these are plan inputs or outputs.
func (cts *Ciphertexts) Kind() Kind { return cts.kind }

// Samples is the number of samples the ciphertexts hold.
func (cts *Ciphertexts) Samples() int { return cts.samples }

// Ciphertext returns ciphertext row i for group g: rows are the plan's
// input (output) tensors in order, a feature-major tensor taking one row per
// element (so row i is tensor i when no tensor is feature-major).
func (cts *Ciphertexts) Ciphertext(i, g int) *rlwe.Ciphertext { return cts.values[i][g] }

// Rows is the number of ciphertexts per group (Context.Rows of their kind).
func (cts *Ciphertexts) Rows() int { return len(cts.values) }

// KeyGen samples a secret key and the evaluation keys the plan needs: a
// relinearization key if keys.relinearization, a Galois key per
// keys.galois_elements.
func (c *Context) KeyGen() (*SecretKey, *EvaluationKeys, error) {
	return c.KeyGenWithProgress(nil)
}

// KeyGenWithProgress is KeyGen that also makes the bootstrapping keys when
// the plan bootstraps (and only then), reporting their progress.
func (c *Context) KeyGenWithProgress(progress Progress) (*SecretKey, *EvaluationKeys, error) {
	kgen := rlwe.NewKeyGenerator(c.params)
	sk := kgen.GenSecretKeyNew()
	evk := &EvaluationKeys{fingerprint: c.fingerprint}
	keys := c.plan.Keys
	if keys != nil && keys.Relinearization {
		evk.rlk = kgen.GenRelinearizationKeyNew(sk)
	}
	if keys != nil && len(keys.GaloisElements) > 0 {
		evk.galois = sortedGalois(kgen.GenGaloisKeysNew(keys.GaloisElements, sk))
	}
	if c.NeedsBootstrapping() {
		var err error
		if evk.btp, err = c.genBootstrapKeys(sk, progress); err != nil {
			return nil, nil, fmt.Errorf("runtime: bootstrapping keys: %w", err)
		}
	}
	return &SecretKey{fingerprint: c.fingerprint, sk: sk}, evk, nil
}

// Encrypt encrypts samples: inputs[i] holds the samples of plan input i, each
// flattened to Layout.Len values (len(element_values) for a feature-major
// input); every input must have the same number of samples. Samples are
// packed Batch per ciphertext (layout.Tiled.Pack), or, feature-major, one
// ciphertext per element with sample b of the group in slot b (zeros past
// the last sample), and encrypted at the input's level and exact scale.
func (c *Context) Encrypt(sk *SecretKey, inputs [][][]float64) (*Ciphertexts, error) {
	if err := c.checkKey("secret key", sk.fingerprintOrZero()); err != nil {
		return nil, err
	}
	ins := c.plan.Inputs
	if len(inputs) != len(ins) {
		return nil, fmt.Errorf("runtime: %d inputs given, the plan has %d", len(inputs), len(ins))
	}
	samples := -1
	for i, in := range inputs {
		if samples >= 0 && len(in) != samples {
			return nil, fmt.Errorf("runtime: input %q has %d samples, input %q has %d", ins[i].Name, len(in), ins[0].Name, samples)
		}
		samples = len(in)
	}
	if samples <= 0 {
		return nil, fmt.Errorf("runtime: no samples to encrypt")
	}
	for i, in := range inputs {
		want := sampleLen(ins[i].Layout, ins[i].ElementValues)
		for s, v := range in {
			if len(v) != want {
				return nil, fmt.Errorf("runtime: input %q sample %d has %d values, want %d", ins[i].Name, s, len(v), want)
			}
			for j, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("runtime: input %q sample %d value %d is %v", ins[i].Name, s, j, x)
				}
			}
		}
	}
	slots := c.params.MaxSlots()
	groups := c.Groups(samples)
	out := &Ciphertexts{fingerprint: c.fingerprint, kind: Inputs, samples: samples, values: make([][]*rlwe.Ciphertext, len(c.inRows))}
	out.seeds = make([][][]byte, len(c.inRows))
	for r := range c.inRows {
		out.values[r] = make([]*rlwe.Ciphertext, groups)
		out.seeds[r] = make([][]byte, groups)
	}
	// One job per ciphertext (a feature-major input has one per element),
	// spread over the cores, each with its own encoder and encryptor.
	jobs := len(c.inRows) * groups
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range max(1, min(jobs, goruntime.NumCPU())) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ecd := hefloat.NewEncoder(c.params)
			enc := rlwe.NewEncryptor(c.params, sk.sk)
			for {
				j := int(next.Add(1) - 1)
				if j >= jobs {
					return
				}
				r, g := j/groups, j%groups
				ct, seed, err := c.encryptOne(ecd, enc, inputs, r, g, samples, slots)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(jobs))
					return
				}
				out.values[r][g], out.seeds[r][g] = ct, seed
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// encryptOne packs and encrypts the ciphertext of input row r, group g.
func (c *Context) encryptOne(ecd *hefloat.Encoder, enc *rlwe.Encryptor, inputs [][][]float64, r, g, samples, slots int) (*rlwe.Ciphertext, []byte, error) {
	row := c.inRows[r]
	in := c.plan.Inputs[row.tensor]
	group := inputs[row.tensor][g*c.batch : min((g+1)*c.batch, samples)]
	var vals []float64
	if row.element >= 0 { // feature-major: sample b in slot b
		vals = make([]float64, slots)
		for b, v := range group {
			vals[b] = v[row.element]
		}
	} else {
		var err error
		if vals, err = plan.TiledLayout(in.Layout).Pack(group, slots); err != nil {
			return nil, nil, fmt.Errorf("runtime: input %q: %w", in.Name, err)
		}
	}
	pt := hefloat.NewPlaintext(c.params, int(in.Level))
	pt.Scale = rlwe.NewScale(in.Scale)
	if err := ecd.Encode(vals, pt); err != nil {
		return nil, nil, fmt.Errorf("runtime: encode input %s: %w", c.rowName(Inputs, r), err)
	}
	// The uniform half comes from a PRNG keyed by a fresh random seed.
	seed := make([]byte, seedSize)
	if _, err := cryptorand.Read(seed); err != nil {
		return nil, nil, fmt.Errorf("runtime: encrypt input %s: seed: %w", c.rowName(Inputs, r), err)
	}
	prng, err := sampling.NewKeyedPRNG(seed)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: encrypt input %s: %w", c.rowName(Inputs, r), err)
	}
	ct, err := enc.WithPRNG(prng).EncryptNew(pt)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: encrypt input %s: %w", c.rowName(Inputs, r), err)
	}
	return ct, seed, nil
}

// Decrypt decrypts the outputs of Evaluate: result[o][s] holds the
// Layout.Len values of plan output o for sample s (layout.Tiled.Unpack), or
// its len(element_values) elements for a feature-major output.
func (c *Context) Decrypt(sk *SecretKey, out *Ciphertexts) ([][][]float64, error) {
	if err := c.checkKey("secret key", sk.fingerprintOrZero()); err != nil {
		return nil, err
	}
	if err := c.checkCiphertexts(out, Outputs); err != nil {
		return nil, err
	}
	ecd := hefloat.NewEncoder(c.params)
	dec := rlwe.NewDecryptor(c.params, sk.sk)
	slots := c.params.MaxSlots()
	vals := make([]float64, slots)
	res := make([][][]float64, len(c.plan.Outputs))
	for o, po := range c.plan.Outputs {
		res[o] = make([][]float64, 0, out.samples)
		if e := len(po.ElementValues); e > 0 {
			flat := make([]float64, out.samples*e)
			for s := range out.samples {
				res[o] = append(res[o], flat[s*e:(s+1)*e:(s+1)*e])
			}
		}
	}
	for r, row := range c.outRows {
		po := c.plan.Outputs[row.tensor]
		t := plan.TiledLayout(po.Layout)
		for g, ct := range out.values[r] {
			pt := dec.DecryptNew(ct)
			if err := ecd.Decode(pt, vals); err != nil {
				return nil, fmt.Errorf("runtime: decode output %s group %d: %w", c.rowName(Outputs, r), g, err)
			}
			n := min(c.batch, out.samples-g*c.batch)
			if row.element >= 0 { // feature-major: sample b in slot b
				for b := range n {
					res[row.tensor][g*c.batch+b][row.element] = vals[b]
				}
				continue
			}
			s, err := t.Unpack(vals, n)
			if err != nil {
				return nil, fmt.Errorf("runtime: output %q: %w", po.Name, err)
			}
			res[row.tensor] = append(res[row.tensor], s...)
		}
	}
	return res, nil
}

func (sk *SecretKey) fingerprintOrZero() *[32]byte {
	if sk == nil || sk.sk == nil {
		return nil
	}
	return &sk.fingerprint
}

func (c *Context) checkKey(what string, fp *[32]byte) error {
	if fp == nil {
		return fmt.Errorf("runtime: no %s", what)
	}
	if *fp != c.fingerprint {
		return fmt.Errorf("runtime: the %s was made for other CKKS parameters (fingerprint %x…, the plan's is %x…)", what, fp[:6], c.fingerprint[:6])
	}
	return nil
}

// checkCiphertexts checks that cts fit this plan: parameters, kind, counts,
// and each ciphertext's degree, level and scale where the plan fixes them.
func (c *Context) checkCiphertexts(cts *Ciphertexts, kind Kind) error {
	if cts == nil {
		return fmt.Errorf("runtime: no ciphertexts")
	}
	if err := c.checkKey(kind.String()+" ciphertexts", &cts.fingerprint); err != nil {
		return err
	}
	if cts.kind != kind {
		return fmt.Errorf("runtime: ciphertexts are plan %v, want plan %v", cts.kind, kind)
	}
	rows := c.rows(kind)
	if len(cts.values) != len(rows) {
		return fmt.Errorf("runtime: %d %v ciphertexts per group, the plan has %d", len(cts.values), kind, len(rows))
	}
	if cts.samples < 1 {
		return fmt.Errorf("runtime: ciphertexts hold no samples")
	}
	groups := c.Groups(cts.samples)
	for i, row := range cts.values {
		name := c.rowName(kind, i)
		if len(row) != groups {
			return fmt.Errorf("runtime: %v %s has %d ciphertexts, %d samples in batches of %d need %d", kind, name, len(row), cts.samples, c.batch, groups)
		}
		for g, ct := range row {
			if err := c.checkCiphertext(ct); err != nil {
				return fmt.Errorf("runtime: %v %s group %d: %w", kind, name, g, err)
			}
			if kind != Inputs {
				continue
			}
			in := c.plan.Inputs[rows[i].tensor]
			if ct.Level() != int(in.Level) {
				return fmt.Errorf("runtime: input %s group %d is at level %d, the plan expects level %d", name, g, ct.Level(), in.Level)
			}
			if s := ct.Scale.Float64(); math.Abs(s-in.Scale) > 1e-9*in.Scale {
				return fmt.Errorf("runtime: input %s group %d has scale 2^%.4f, the plan expects 2^%.4f", name, g, math.Log2(s), math.Log2(in.Scale))
			}
		}
	}
	return nil
}

// checkCiphertext checks a ciphertext's shape and metadata against the
// parameters: degree 1, ring degree, level, NTT form, full slots.
func (c *Context) checkCiphertext(ct *rlwe.Ciphertext) error {
	switch {
	case ct == nil || ct.MetaData == nil:
		return fmt.Errorf("missing ciphertext or metadata")
	case ct.Degree() != 1:
		return fmt.Errorf("degree %d, want 1", ct.Degree())
	case ct.Level() < 0 || ct.Level() > c.params.MaxLevel():
		return fmt.Errorf("level %d outside [0, %d]", ct.Level(), c.params.MaxLevel())
	case ct.Value[0].N() != c.params.N() || ct.Value[1].N() != c.params.N() || ct.Value[1].Level() != ct.Level():
		return fmt.Errorf("polynomials do not match the ring degree %d", c.params.N())
	case !ct.IsNTT || ct.IsMontgomery || !ct.IsBatched:
		return fmt.Errorf("not an NTT-form batched ciphertext")
	case ct.LogDimensions != c.params.LogMaxDimensions():
		return fmt.Errorf("slot dimensions %v, want %v", ct.LogDimensions, c.params.LogMaxDimensions())
	}
	if s := ct.Scale.Float64(); !(s > 0) || math.IsInf(s, 0) {
		return fmt.Errorf("scale %v is not a positive finite number", s)
	}
	return nil
}

func (c *Context) tensorName(kind Kind, i int) string {
	if kind == Outputs {
		return c.plan.Outputs[i].Name
	}
	return c.plan.Inputs[i].Name
}

// rowName names ciphertext row r in messages: the quoted tensor name, and
// the element of a feature-major tensor.
func (c *Context) rowName(kind Kind, r int) string {
	rows := c.rows(kind)
	if r < 0 || r >= len(rows) {
		return fmt.Sprintf("row %d", r)
	}
	name := fmt.Sprintf("%q", c.tensorName(kind, rows[r].tensor))
	if f := rows[r].element; f >= 0 {
		name += fmt.Sprintf(" element %d", f)
	}
	return name
}

// DecryptSlots decrypts one ciphertext to its slot values (client side; for
// debugging and for comparing intermediate values with a simulator).
func (c *Context) DecryptSlots(sk *SecretKey, ct *rlwe.Ciphertext) ([]float64, error) {
	if err := c.checkKey("secret key", sk.fingerprintOrZero()); err != nil {
		return nil, err
	}
	vals := make([]float64, c.params.MaxSlots())
	pt := rlwe.NewDecryptor(c.params, sk.sk).DecryptNew(ct)
	if err := hefloat.NewEncoder(c.params).Decode(pt, vals); err != nil {
		return nil, err
	}
	return vals, nil
}
