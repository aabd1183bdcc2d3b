package cuda

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/utils/bignum"

	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/runtime"
)

// Executor runs a plan's program on a Device, instruction by instruction:
// ADD, SUB, ADD_PLAIN, MUL_PLAIN, MUL, RELINEARIZE, RESCALE, ROTATE and
// LINEAR on the kernels; POLY on the host with Lattigo's polynomial
// evaluator (the ciphertext goes down and back up). Each result is what
// the CPU runtime (package runtime, Lattigo) computes, bit for bit,
// metadata included.
// Not safe for concurrent use.
type Executor struct {
	ctx     *Context
	params  hefloat.Parameters
	plan    *planpb.Plan
	rlk     *SwitchingKey
	gal     map[uint64]*SwitchingKey
	plain   map[uint32]*value
	lastUse []int
	scratch Ptr

	// LINEAR diagonals on the device, by result value
	lin map[uint32]*LinearTransform

	// host POLY evaluation (built on first use)
	hostKeys *rlwe.MemEvaluationKeySet
	heval    *hefloat.Evaluator
	poly     *hefloat.PolynomialEvaluator

	// Stats accumulate over Run calls.
	Stats ExecStats
}

// ExecStats count what an Executor did.
type ExecStats struct {
	Instructions map[planpb.Op]int
	// Launches counts kernel launches per kernel.
	Launches map[string]int
	// HostPolys counts POLY instructions evaluated on the host.
	// HostLinears counts LINEAR instructions evaluated on the host: always
	// 0 since LINEAR runs on the kernels (kept for callers that report it).
	HostPolys, HostLinears int
	Time                   map[planpb.Op]time.Duration
}

// value is a ciphertext (or plaintext) on the device: degree+1 polynomials
// of level+1 limbs, stride words apart, and its Lattigo metadata.
type value struct {
	ptr           Ptr
	level, degree int
	stride        int
	meta          rlwe.MetaData
}

// NewExecutor checks the plan, uploads the evaluation keys the plan names
// (rlk may be nil if it needs none) and encodes and uploads its plaintexts
// as the CPU runtime does.
func NewExecutor(dev Device, p *planpb.Plan, rlk *rlwe.RelinearizationKey, gks []*rlwe.GaloisKey) (_ *Executor, err error) {
	defer recoverTo(&err)
	if _, err := plan.Analyze(p); err != nil {
		return nil, err
	}
	if p.Keys.GetBootstrapping() {
		return nil, fmt.Errorf("cuda: plans that bootstrap are not supported by the GPU executor; use --backend cpu")
	}
	if featureMajor(p) {
		return nil, fmt.Errorf("cuda: feature-major plans (DOT) run on the CPU backend only; use --backend cpu")
	}
	params, err := plan.CKKSParameters(p.Params)
	if err != nil {
		return nil, err
	}
	if n := params.LevelsConsumedPerRescaling(); n != 1 {
		return nil, fmt.Errorf("cuda: %d levels per rescale are not supported", n)
	}
	ctx, err := NewContext(dev, params.RingQ(), params.RingP())
	if err != nil {
		return nil, err
	}
	e := &Executor{ctx: ctx, params: params, plan: p, gal: map[uint64]*SwitchingKey{}, plain: map[uint32]*value{}, lin: map[uint32]*LinearTransform{}}
	e.Stats = ExecStats{Instructions: map[planpb.Op]int{}, Launches: ctx.Launches, Time: map[planpb.Op]time.Duration{}}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cuda: lattigo panic: %v", r)
		}
		if err != nil {
			e.Close()
		}
	}()
	if p.Keys.GetRelinearization() {
		if rlk == nil {
			return nil, fmt.Errorf("cuda: the plan needs a relinearization key, the evaluation keys lack it")
		}
		if e.rlk, err = ctx.UploadKey(&rlk.GadgetCiphertext); err != nil {
			return nil, fmt.Errorf("cuda: relinearization key: %w", err)
		}
	}
	for _, g := range p.Keys.GetGaloisElements() {
		i := slices.IndexFunc(gks, func(k *rlwe.GaloisKey) bool { return k != nil && k.GaloisElement == g })
		if i < 0 {
			return nil, fmt.Errorf("cuda: the plan needs the Galois key for element %d, the evaluation keys lack it", g)
		}
		if e.gal[g], err = ctx.UploadKey(&gks[i].GadgetCiphertext); err != nil {
			return nil, fmt.Errorf("cuda: Galois key %d: %w", g, err)
		}
	}
	e.hostKeys = rlwe.NewMemEvaluationKeySet(rlk, slices.DeleteFunc(slices.Clone(gks), func(k *rlwe.GaloisKey) bool { return k == nil })...)
	words := ctx.RescaleScratchWords(params.MaxLevel())
	if params.PCount() > 0 {
		words = max(words, ctx.KeySwitchScratchWords())
	}
	if e.scratch, err = dev.Alloc(words); err != nil {
		return nil, err
	}
	if err := e.encode(); err != nil {
		return nil, err
	}
	if err := e.uploadLinear(); err != nil {
		return nil, err
	}
	e.lastUse = make([]int, p.NumValues)
	for i := range e.lastUse {
		e.lastUse[i] = -1
	}
	for pc, ins := range p.Program {
		for _, a := range ins.Args {
			e.lastUse[a] = pc
		}
	}
	for _, o := range p.Outputs {
		e.lastUse[o.Value] = len(p.Program)
	}
	return e, nil
}

// Close frees everything the executor holds on the device.
func (e *Executor) Close() {
	for _, v := range e.plain {
		e.ctx.Dev.Free(v.ptr)
	}
	e.plain = map[uint32]*value{}
	for _, t := range e.lin {
		e.ctx.FreeLinearTransform(t)
	}
	e.lin = map[uint32]*LinearTransform{}
	e.ctx.FreeKey(e.rlk)
	for _, k := range e.gal {
		e.ctx.FreeKey(k)
	}
	if e.scratch != 0 {
		e.ctx.Dev.Free(e.scratch)
		e.scratch = 0
	}
	e.ctx.Close()
}

// encode encodes every ENCODE constant (as runtime.Context.encodeAll) and
// uploads it.
func (e *Executor) encode() error {
	ecd := hefloat.NewEncoder(e.params)
	skip := runtime.LinearOnly(e.plan)
	for pc, ins := range e.plan.Program {
		if ins.Op != planpb.Op_ENCODE || skip[ins.Result] {
			continue
		}
		if int(ins.Constant) >= len(e.plan.Constants) {
			return fmt.Errorf("cuda: instruction %d encodes constant %d of %d", pc, ins.Constant, len(e.plan.Constants))
		}
		vals, err := layout.Broadcast(e.plan.Constants[ins.Constant].Values, int(ins.Batch), e.params.MaxSlots())
		if err != nil {
			return fmt.Errorf("cuda: instruction %d (ENCODE): %w", pc, err)
		}
		pt := hefloat.NewPlaintext(e.params, int(ins.Level))
		pt.Scale = rlwe.NewScale(ins.Scale)
		if err := ecd.Encode(vals, pt); err != nil {
			return fmt.Errorf("cuda: instruction %d (ENCODE): %w", pc, err)
		}
		v, err := e.upload(pt.Value.Coeffs, nil, pt.Level(), 0, pt.MetaData)
		if err != nil {
			return err
		}
		e.plain[ins.Result] = v
	}
	return nil
}

func (e *Executor) alloc(level, degree int, meta rlwe.MetaData) (*value, error) {
	stride := (level + 1) * e.ctx.N
	p, err := e.ctx.Dev.Alloc((degree + 1) * stride)
	if err != nil {
		return nil, err
	}
	return &value{ptr: p, level: level, degree: degree, stride: stride, meta: meta}, nil
}

// upload copies polynomials (each a list of limbs, at least level+1) to a
// new device value.
func (e *Executor) upload(p0 [][]uint64, rest [][][]uint64, level, degree int, meta *rlwe.MetaData) (*value, error) {
	v, err := e.alloc(level, degree, *meta)
	if err != nil {
		return nil, err
	}
	for i, poly := range append([][][]uint64{p0}, rest...) {
		if err := e.ctx.Dev.CopyIn(v.poly(i), slices.Concat(poly[:level+1]...)); err != nil {
			e.ctx.Dev.Free(v.ptr)
			return nil, err
		}
	}
	return v, nil
}

func (v *value) poly(i int) Ptr { return v.ptr.Add(i * v.stride) }

// download returns v as a Lattigo ciphertext.
func (e *Executor) download(v *value) (*rlwe.Ciphertext, error) {
	ct := hefloat.NewCiphertext(e.params, v.degree, v.level)
	N := e.ctx.N
	buf := make([]uint64, v.stride)
	for i := range ct.Value {
		if err := e.ctx.Dev.CopyOut(buf, v.poly(i)); err != nil {
			return nil, err
		}
		for l := range v.level + 1 {
			copy(ct.Value[i].Coeffs[l], buf[l*N:(l+1)*N])
		}
	}
	*ct.MetaData = v.meta
	return ct, nil
}

// Run evaluates the program on one group of inputs (one ciphertext per plan
// input) and returns the plan outputs.
func (e *Executor) Run(inputs []*rlwe.Ciphertext) (outs []*rlwe.Ciphertext, err error) {
	defer recoverTo(&err)
	p := e.plan
	if len(inputs) != len(p.Inputs) {
		return nil, fmt.Errorf("cuda: %d inputs given, the plan has %d", len(inputs), len(p.Inputs))
	}
	vals := make([]*value, p.NumValues)
	defer func() {
		for _, v := range vals {
			if v != nil {
				e.ctx.Dev.Free(v.ptr)
			}
		}
	}()
	for i, in := range p.Inputs {
		ct := inputs[i]
		if err := e.checkCiphertext(ct); err != nil {
			return nil, fmt.Errorf("cuda: input %q: %w", in.Name, err)
		}
		var rest [][][]uint64
		if ct.Level() != int(in.Level) {
			return nil, fmt.Errorf("cuda: input %q is at level %d, the plan expects level %d", in.Name, ct.Level(), in.Level)
		}
		for _, poly := range ct.Value[1:] {
			rest = append(rest, poly.Coeffs)
		}
		if vals[in.Value], err = e.upload(ct.Value[0].Coeffs, rest, ct.Level(), ct.Degree(), ct.MetaData); err != nil {
			return nil, err
		}
	}
	for pc, ins := range p.Program {
		if ins.Op == planpb.Op_ENCODE {
			continue
		}
		t0 := time.Now()
		res, err := e.exec(ins, vals)
		if err != nil {
			return nil, fmt.Errorf("cuda: instruction %d (%v -> value %d): %w", pc, ins.Op, ins.Result, err)
		}
		e.Stats.Instructions[ins.Op]++
		e.Stats.Time[ins.Op] += time.Since(t0)
		if vals[ins.Result] != nil {
			e.ctx.Dev.Free(vals[ins.Result].ptr)
		}
		vals[ins.Result] = res
		for _, a := range append([]uint32{ins.Result}, ins.Args...) {
			if e.lastUse[a] <= pc && vals[a] != nil {
				e.ctx.Dev.Free(vals[a].ptr)
				vals[a] = nil
			}
		}
	}
	if err := e.ctx.Dev.Sync(); err != nil {
		return nil, err
	}
	for _, o := range p.Outputs {
		v := vals[o.Value]
		if v == nil {
			return nil, fmt.Errorf("cuda: output value %d was never computed", o.Value)
		}
		ct, err := e.download(v)
		if err != nil {
			return nil, err
		}
		outs = append(outs, ct)
	}
	return outs, nil
}

func (e *Executor) checkCiphertext(ct *rlwe.Ciphertext) error {
	switch {
	case ct == nil || ct.MetaData == nil:
		return fmt.Errorf("missing ciphertext or metadata")
	case ct.Degree() != 1:
		return fmt.Errorf("degree %d, want 1", ct.Degree())
	case !ct.IsNTT:
		return fmt.Errorf("not in the NTT domain")
	case ct.Level() < 0 || ct.Level() > e.params.MaxLevel():
		return fmt.Errorf("level %d outside [0, %d]", ct.Level(), e.params.MaxLevel())
	}
	for _, poly := range ct.Value {
		if poly.N() != e.ctx.N || poly.Level() != ct.Level() {
			return fmt.Errorf("polynomials do not match the ring degree %d and level %d", e.ctx.N, ct.Level())
		}
	}
	return nil
}

// freshMeta is the metadata of hefloat.NewCiphertext (the CPU runtime's
// result ciphertexts before Lattigo sets them).
func (e *Executor) freshMeta(degree, level int) rlwe.MetaData {
	return *hefloat.NewCiphertext(e.params, degree, level).MetaData
}

// binaryMeta: rlwe.Evaluator.InitOutputBinaryOp on a fresh output of
// op0's shape.
func (e *Executor) binaryMeta(a, b *value) rlwe.MetaData {
	m := e.freshMeta(a.degree, a.level)
	m.IsNTT = a.meta.IsNTT
	m.IsBatched = a.meta.IsBatched
	m.LogDimensions.Rows = max(a.meta.LogDimensions.Rows, b.meta.LogDimensions.Rows)
	m.LogDimensions.Cols = max(a.meta.LogDimensions.Cols, b.meta.LogDimensions.Cols)
	return m
}

func (e *Executor) exec(ins *planpb.Instruction, vals []*value) (*value, error) {
	c := e.ctx
	arg := func(i int) (*value, error) {
		if i >= len(ins.Args) {
			return nil, fmt.Errorf("missing argument %d", i)
		}
		if v := vals[ins.Args[i]]; v != nil {
			return v, nil
		}
		if v := e.plain[ins.Args[i]]; v != nil {
			return v, nil
		}
		return nil, fmt.Errorf("argument %d (value %d) is not available", i, ins.Args[i])
	}
	a, err := arg(0)
	if err != nil {
		return nil, err
	}
	var b *value
	switch ins.Op {
	case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN, planpb.Op_MUL_PLAIN, planpb.Op_MUL:
		if b, err = arg(1); err != nil {
			return nil, err
		}
	}
	if a.degree == 0 {
		return nil, fmt.Errorf("operand 0 is a plaintext")
	}
	switch ins.Op {
	case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN:
		if (ins.Op == planpb.Op_ADD_PLAIN) != (b.degree == 0) {
			return nil, fmt.Errorf("operand 1 of %v is of degree %d", ins.Op, b.degree)
		}
		if err := sameScale(a, b); err != nil {
			return nil, err
		}
		level := min(a.level, b.level)
		m := e.binaryMeta(a, b)
		m.Scale = a.meta.Scale.Max(b.meta.Scale)
		deg := max(a.degree, b.degree)
		out, err := e.alloc(level, deg, m)
		if err != nil {
			return nil, err
		}
		err = e.addSub(out, a, b, ins.Op == planpb.Op_SUB)
		return out, e.check(out, err)
	case planpb.Op_MUL_PLAIN:
		if b.degree != 0 {
			return nil, fmt.Errorf("operand 1 of MUL_PLAIN is a ciphertext")
		}
		level := min(a.level, b.level)
		m := e.binaryMeta(a, b)
		m.Scale = a.meta.Scale.Mul(b.meta.Scale)
		out, err := e.alloc(level, a.degree, m)
		if err != nil {
			return nil, err
		}
		return out, e.check(out, c.MulPlain(out.ptr, out.stride, a.ptr, a.stride, b.ptr, a.degree+1, level+1))
	case planpb.Op_MUL:
		if a.degree != 1 || b.degree != 1 {
			return nil, fmt.Errorf("MUL of degrees %d and %d (only 1 x 1)", a.degree, b.degree)
		}
		level := min(a.level, b.level)
		m := e.binaryMeta(a, b)
		m.Scale = a.meta.Scale.Mul(b.meta.Scale)
		out, err := e.alloc(level, 2, m)
		if err != nil {
			return nil, err
		}
		return out, e.check(out, c.Tensor(out.ptr, out.stride, a.ptr, a.stride, b.ptr, b.stride, level+1))
	case planpb.Op_RELINEARIZE:
		if a.degree != 2 {
			return nil, fmt.Errorf("RELINEARIZE of degree %d", a.degree)
		}
		if e.rlk == nil {
			return nil, fmt.Errorf("no relinearization key (the plan does not name one)")
		}
		out, err := e.alloc(a.level, 1, a.meta)
		if err != nil {
			return nil, err
		}
		return out, e.check(out, c.Relinearize(out.ptr, out.stride, a.ptr, a.stride, a.level, e.rlk, e.scratch))
	case planpb.Op_RESCALE:
		if a.level < 1 {
			return nil, fmt.Errorf("RESCALE at level 0")
		}
		m := a.meta
		m.Scale = m.Scale.Div(rlwe.NewScale(c.Moduli[a.level]))
		out, err := e.alloc(a.level-1, a.degree, m)
		if err != nil {
			return nil, err
		}
		for i := range a.degree + 1 {
			if err := c.Rescale(out.poly(i), a.poly(i), e.scratch, a.level); err != nil {
				return out, e.check(out, err)
			}
		}
		return out, nil
	case planpb.Op_ROTATE:
		galEl := e.params.GaloisElement(int(ins.Offset))
		out, err := e.alloc(a.level, a.degree, a.meta)
		if err != nil {
			return nil, err
		}
		if galEl == 1 { // Lattigo: a copy
			return out, e.check(out, c.Copy(out.ptr, a.ptr, (a.degree+1)*a.stride))
		}
		if a.degree != 1 {
			return out, e.check(out, fmt.Errorf("ROTATE of degree %d", a.degree))
		}
		key := e.gal[galEl]
		if key == nil {
			return out, e.check(out, fmt.Errorf("no Galois key for element %d (the plan does not name it)", galEl))
		}
		return out, e.check(out, c.Automorphism(out.ptr, out.stride, a.ptr, a.stride, a.level, galEl, key, e.scratch))
	case planpb.Op_POLY:
		return e.hostPoly(ins, a)
	case planpb.Op_LINEAR:
		return e.linear(ins, a)
	}
	return nil, fmt.Errorf("op %v is not supported by the GPU executor", ins.Op)
}

// check frees out when err is set, so that a failed step leaks nothing.
func (e *Executor) check(out *value, err error) error {
	if err != nil && out != nil {
		e.ctx.Dev.Free(out.ptr)
	}
	return err
}

// sameScale: Lattigo's Add/Sub multiply the operand of smaller scale by
// the integer ratio of the scales; a ratio of 1 changes nothing, larger
// ones (never emitted by fhec's manage-scales) are not on the kernels.
func sameScale(a, b *value) error {
	lo, hi := a.meta.Scale, b.meta.Scale
	if lo.Cmp(hi) == 0 {
		return nil
	}
	if lo.Cmp(hi) > 0 {
		lo, hi = hi, lo
	}
	ratio := hi.Div(lo).Value
	r, _ := ratio.Int(nil)
	if r.Cmp(big.NewInt(1)) != 0 {
		return fmt.Errorf("operand scales differ by a factor %v (not supported by the GPU executor)", r)
	}
	return nil
}

// addSub: rlwe evaluateInPlace of Add/Sub at the smaller level: the common
// polynomials added (subtracted), the others copied (negated for SUB when
// op1 has the higher degree).
func (e *Executor) addSub(out, a, b *value, sub bool) error {
	c := e.ctx
	nl := out.level + 1
	for i := range min(a.degree, b.degree) + 1 {
		var err error
		if sub {
			err = c.Sub(out.poly(i), a.poly(i), b.poly(i), 0, nl)
		} else {
			err = c.Add(out.poly(i), a.poly(i), b.poly(i), 0, nl)
		}
		if err != nil {
			return err
		}
	}
	src := a
	if b.degree > a.degree {
		src = b
	}
	for i := min(a.degree, b.degree) + 1; i <= src.degree; i++ {
		if err := c.Copy(out.poly(i), src.poly(i), nl*c.N); err != nil {
			return err
		}
		if sub && src == b {
			if err := c.Neg(out.poly(i), out.poly(i), 0, nl); err != nil {
				return err
			}
		}
	}
	return nil
}

// hostPoly evaluates POLY with Lattigo on the host, as the CPU runtime.
func (e *Executor) hostPoly(ins *planpb.Instruction, a *value) (out *value, err error) {
	defer recoverTo(&err)
	if e.poly == nil {
		e.poly = hefloat.NewPolynomialEvaluator(e.params, e.hostEval())
	}
	ct, err := e.download(a)
	if err != nil {
		return nil, err
	}
	poly := bignum.NewPolynomial(bignum.Chebyshev, ins.Coeffs, [2]float64{-1, 1})
	res, err := e.poly.Evaluate(ct, poly, rlwe.NewScale(ins.Scale))
	if err != nil {
		return nil, err
	}
	if want := ct.Level() - int(ins.Depth); res.Level() != want {
		return nil, fmt.Errorf("polynomial left the result at level %d, the plan expects %d", res.Level(), want)
	}
	e.Stats.HostPolys++
	var rest [][][]uint64
	for _, p := range res.Value[1:] {
		rest = append(rest, p.Coeffs)
	}
	return e.upload(res.Value[0].Coeffs, rest, res.Level(), res.Degree(), res.MetaData)
}

func (e *Executor) hostEval() *hefloat.Evaluator {
	if e.heval == nil {
		e.heval = hefloat.NewEvaluator(e.params, e.hostKeys)
	}
	return e.heval
}

// recoverTo turns a Lattigo panic into an error.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("cuda: lattigo panic: %v", r)
	}
}

// featureMajor reports whether p uses feature-major packing (format 1.3):
// DOT instructions or per-element inputs/outputs, which the GPU executor
// does not run.
func featureMajor(p *planpb.Plan) bool {
	for _, in := range p.Inputs {
		if len(in.ElementValues) > 0 {
			return true
		}
	}
	for _, o := range p.Outputs {
		if len(o.ElementValues) > 0 {
			return true
		}
	}
	for _, ins := range p.Program {
		if ins.Op == planpb.Op_DOT {
			return true
		}
	}
	return false
}
