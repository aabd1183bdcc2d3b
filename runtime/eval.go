package runtime

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/he/hefloat/bootstrapping"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/utils/bignum"

	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan/planpb"
)

// EvalOptions tune Evaluate.
type EvalOptions struct {
	// Workers is the number of goroutines, each with its own evaluator;
	// <= 0 means runtime.NumCPU(). With at least as many ciphertext groups
	// as workers, groups run in parallel; with fewer (one image, say), the
	// independent instructions of a group run in parallel.
	Workers int
	// NoInstructionParallelism keeps each group on one goroutine.
	NoInstructionParallelism bool
	// Trace, when set, is called with every instruction's result (group,
	// instruction index, ciphertext) in group-parallel mode: a debugging
	// hook (compare with a simulator through Context.DecryptSlots).
	Trace func(group, pc int, ct *rlwe.Ciphertext)
}

func workersFor(n int) int {
	if n <= 0 {
		return goruntime.NumCPU()
	}
	return n
}

// OpCounts counts homomorphic operations, including those Lattigo's
// polynomial evaluator performs inside POLY instructions.
type OpCounts struct {
	Rotations        int64 // key-switched rotations (ROTATE by 0 mod slots is a copy)
	HoistedRotations int64 // of those, rotations that shared another's decomposition
	CtCtMults        int64
	CtPtMults        int64
	ScalarOps        int64 // additions and multiplications by constants (inside POLY)
	Rescales         int64
	Relinearizations int64
	KeySwitches      int64 // Rotations + Relinearizations
	Additions        int64 // ciphertext + ciphertext/plaintext additions and subtractions
	Encodes          int64 // plaintexts encoded (once per Evaluate, shared by all groups)
	Polys            int64 // POLY instructions
	Bootstraps       int64 // BOOTSTRAP instructions
}

func (a *OpCounts) add(b *OpCounts) {
	a.Rotations += b.Rotations
	a.HoistedRotations += b.HoistedRotations
	a.CtCtMults += b.CtCtMults
	a.CtPtMults += b.CtPtMults
	a.ScalarOps += b.ScalarOps
	a.Rescales += b.Rescales
	a.Relinearizations += b.Relinearizations
	a.KeySwitches += b.KeySwitches
	a.Additions += b.Additions
	a.Encodes += b.Encodes
	a.Polys += b.Polys
	a.Bootstraps += b.Bootstraps
}

// Stats describe one Evaluate call.
type Stats struct {
	Groups  int // ciphertext groups evaluated
	Workers int // workers actually used
	// Instructions counts executed plan instructions per op, over all groups
	// (ENCODE once per Evaluate).
	Instructions map[planpb.Op]int64
	// Time is the time spent per op kind, summed over workers (so it can
	// exceed Wall when groups run in parallel); for ENCODE it is the wall
	// time of the shared encoding phase.
	Time map[planpb.Op]time.Duration
	Ops  OpCounts
	Wall time.Duration
	// MaxLive is the largest number of ciphertexts one group held at once.
	MaxLive int
}

// Evaluate runs the plan's program on every group of in and returns the
// plan outputs. Groups run in parallel on opt.Workers workers, each with its
// own shallow copy of the evaluator; plaintexts (ENCODE) are encoded once and
// shared read-only. Values are dropped after their last use.
func (c *Context) Evaluate(evk *EvaluationKeys, in *Ciphertexts, opt EvalOptions) (*Ciphertexts, *Stats, error) {
	start := time.Now()
	if err := c.checkEvaluationKeys(evk); err != nil {
		return nil, nil, err
	}
	if err := c.checkCiphertexts(in, Inputs); err != nil {
		return nil, nil, err
	}
	groups := c.Groups(in.samples)
	workers := opt.Workers
	if workers <= 0 {
		workers = goruntime.NumCPU()
	}
	workers = max(1, min(workers, groups))
	stats := &Stats{
		Groups:       groups,
		Workers:      workers,
		Instructions: map[planpb.Op]int64{},
		Time:         map[planpb.Op]time.Duration{},
	}

	base := hefloat.NewEvaluator(c.params, evk.keySet())

	plain, fresh, err := c.plaintexts(opt.Workers)
	if err != nil {
		return nil, nil, err
	}
	if fresh { // this call paid for the encoding
		n := int64(0)
		for _, pt := range plain {
			if pt != nil {
				n++
			}
		}
		stats.Instructions[planpb.Op_ENCODE] += n
		stats.Time[planpb.Op_ENCODE] += c.plainTime
		stats.Ops.Encodes += n
	}

	out := &Ciphertexts{fingerprint: c.fingerprint, kind: Outputs, samples: in.samples, values: make([][]*rlwe.Ciphertext, len(c.outRows))}
	for o := range out.values {
		out.values[o] = make([]*rlwe.Ciphertext, groups)
	}

	newWorker := func() *worker {
		w := &worker{c: c, plain: plain, instr: map[planpb.Op]int64{}, time: map[planpb.Op]time.Duration{}, trace: opt.Trace}
		w.eval = &countingEvaluator{Evaluator: base.ShallowCopy(), n: &w.ops}
		w.poly = hefloat.NewPolynomialEvaluator(c.params, w.eval)
		if c.NeedsBootstrapping() {
			w.btp, _ = c.bootstrapEvaluator(evk.btp) // built (and checked) below
		}
		return w
	}
	if c.NeedsBootstrapping() {
		if _, err := c.bootstrapEvaluator(evk.btp); err != nil {
			return nil, nil, err
		}
	}
	merge := func(w *worker) {
		stats.Ops.add(&w.ops)
		for op, n := range w.instr {
			stats.Instructions[op] += n
		}
		for op, d := range w.time {
			stats.Time[op] += d
		}
		stats.MaxLive = max(stats.MaxLive, w.maxLive)
	}
	// Fewer groups than workers: run each group's independent instructions
	// in parallel instead (one evaluator per goroutine). So for
	// feature-major plans, whatever the group count: a group has thousands
	// of independent instructions and hundreds of MiB of ciphertexts, so
	// groups run one after another, each on every worker (measured on
	// CryptoNets, 2 cores: 9.3 s per group against 22.9 s for two groups
	// side by side, and half the memory).
	if all := max(1, opt.Workers); (groups < workersFor(opt.Workers) || c.featureMajor()) && !opt.NoInstructionParallelism {
		all = workersFor(opt.Workers)
		ws := make([]*worker, all)
		for i := range ws {
			ws[i] = newWorker()
			ws[i].par = all // a LINEAR instruction splits its rotations over every core
		}
		for g := 0; g < groups; g++ {
			if err := c.runDAG(ws, in, out, g); err != nil {
				return nil, nil, err
			}
		}
		for _, w := range ws {
			merge(w)
		}
		stats.Workers = all
		stats.Wall = time.Since(start)
		return out, stats, nil
	}

	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		first  error
		wg     sync.WaitGroup
	)
	for range workers {
		w := newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				g := int(next.Add(1) - 1)
				if g >= groups {
					break
				}
				if err := w.run(in, out, g); err != nil {
					failed.Store(true)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			merge(w)
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	stats.Wall = time.Since(start)
	return out, stats, nil
}

// checkEvaluationKeys checks that evk fit the plan and hold the keys it needs.
func (c *Context) checkEvaluationKeys(evk *EvaluationKeys) error {
	if evk == nil {
		return fmt.Errorf("runtime: no evaluation keys")
	}
	if err := c.checkKey("evaluation keys", &evk.fingerprint); err != nil {
		return err
	}
	keys := c.plan.Keys
	if keys == nil {
		return nil
	}
	if keys.Relinearization && evk.rlk == nil {
		return fmt.Errorf("runtime: the plan needs a relinearization key, the evaluation keys lack it")
	}
	if err := c.checkBootstrapKeys(evk); err != nil {
		return err
	}
	have := evk.GaloisElements()
	for _, g := range keys.GaloisElements {
		if _, ok := slices.BinarySearch(have, g); !ok {
			return fmt.Errorf("runtime: the plan needs the Galois key for element %d, the evaluation keys lack it", g)
		}
	}
	return nil
}

// encodeAll encodes every ENCODE instruction's plaintext, in parallel.
func (c *Context) encodeAll(workers int) ([]*rlwe.Plaintext, error) {
	prog := c.plan.Program
	var idx []int
	for pc, ins := range prog {
		if ins.Op == planpb.Op_ENCODE && !c.linearOnly[ins.Result] {
			idx = append(idx, pc)
		}
	}
	plain := make([]*rlwe.Plaintext, c.plan.NumValues)
	if len(idx) == 0 {
		return plain, nil
	}
	if workers <= 0 {
		workers = goruntime.NumCPU()
	}
	workers = max(1, min(workers, len(idx)))
	base := hefloat.NewEncoder(c.params)
	slots := c.params.MaxSlots()
	errs := make([]error, len(idx))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		ecd := base.ShallowCopy()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(idx) {
					return
				}
				ins := prog[idx[k]]
				errs[k] = func() (err error) {
					defer recoverTo(&err)
					vals, err := layout.Broadcast(c.plan.Constants[ins.Constant].Values, int(ins.Batch), slots)
					if err != nil {
						return err
					}
					pt := hefloat.NewPlaintext(c.params, int(ins.Level))
					pt.Scale = rlwe.NewScale(ins.Scale)
					if err := ecd.Encode(vals, pt); err != nil {
						return err
					}
					plain[ins.Result] = pt
					return nil
				}()
				if errs[k] != nil {
					errs[k] = fmt.Errorf("runtime: instruction %d (ENCODE of constant %d %q): %w", idx[k], ins.Constant, c.plan.Constants[ins.Constant].Name, errs[k])
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return plain, nil
}

// worker evaluates groups with its own evaluator.
type worker struct {
	c     *Context
	plain []*rlwe.Plaintext
	eval  *countingEvaluator
	poly  *hefloat.PolynomialEvaluator
	lte   *hefloat.LinearTransformationEvaluator // made on first use
	par   int                                    // goroutines a LINEAR instruction may use
	// alone: no other instruction of the group runs or is ready, so a
	// ROTATE or RELINEARIZE splits its key switch over par goroutines
	alone   bool
	sub     []*hefloat.Evaluator     // their evaluators (made on first use)
	btp     *bootstrapping.Evaluator // plans that bootstrap
	ops     OpCounts
	trace   func(group, pc int, ct *rlwe.Ciphertext)
	instr   map[planpb.Op]int64
	time    map[planpb.Op]time.Duration
	maxLive int
}

func (w *worker) run(in *Ciphertexts, out *Ciphertexts, g int) error {
	c := w.c
	vals := make([]*rlwe.Ciphertext, c.plan.NumValues)
	hoisted := map[int]*rlwe.Ciphertext{} // ROTATE results computed ahead, by instruction index
	live := 0
	for r, row := range c.inRows {
		vals[row.value] = in.values[r][g]
		live++
	}
	for pc, ins := range c.plan.Program {
		if ins.Op == planpb.Op_ENCODE {
			continue
		}
		t0 := time.Now()
		var res *rlwe.Ciphertext
		var err error
		if group := c.group(pc); group != nil {
			err = w.runGroup(group, vals, hoisted)
		}
		if r, ok := hoisted[pc]; ok && err == nil {
			res = r
			delete(hoisted, pc)
		} else if err == nil {
			res, err = w.exec(ins, vals)
		}
		if err != nil {
			return fmt.Errorf("runtime: group %d: instruction %d (%v -> value %d): %w", g, pc, ins.Op, ins.Result, err)
		}
		w.time[ins.Op] += time.Since(t0)
		w.instr[ins.Op]++
		if w.trace != nil {
			w.trace(g, pc, res)
		}
		vals[ins.Result] = res
		live++
		w.maxLive = max(w.maxLive, live)
		// Liveness: drop what no later instruction or output reads.
		for _, a := range ins.Args {
			if c.lastUse[a] == pc && vals[a] != nil {
				vals[a] = nil
				live--
			}
		}
		if c.lastUse[ins.Result] == pc {
			vals[ins.Result] = nil
			live--
		}
	}
	for r, row := range c.outRows {
		out.values[r][g] = vals[row.value]
	}
	return nil
}

// runGroup computes every instruction of a group led by group[0] (see
// Context.group) into out, by instruction index.
func (w *worker) runGroup(group []int, vals []*rlwe.Ciphertext, out map[int]*rlwe.Ciphertext) error {
	if w.c.plan.Program[group[0]].Op == planpb.Op_DOT {
		return w.dotGroup(group, vals, out)
	}
	return w.rotateHoisted(group, vals, out)
}

// rotateHoisted computes every ROTATE of one value at once, sharing the
// key-switching decomposition of the input (Lattigo's RotateHoisted).
func (w *worker) rotateHoisted(group []int, vals []*rlwe.Ciphertext, out map[int]*rlwe.Ciphertext) (err error) {
	defer recoverTo(&err)
	prog := w.c.plan.Program
	ct := vals[prog[group[0]].Args[0]]
	var offsets []int
	seen := map[int]bool{}
	for _, pc := range group {
		k := int(prog[pc].Offset)
		if !seen[k] {
			seen[k] = true
			offsets = append(offsets, k)
		}
	}
	res, err := w.eval.Evaluator.RotateHoistedNew(ct, offsets)
	if err != nil {
		return err
	}
	for _, pc := range group {
		r := res[int(prog[pc].Offset)]
		if _, taken := out[pc]; taken || r == nil {
			continue
		}
		out[pc] = r
		if seen[int(prog[pc].Offset)] {
			seen[int(prog[pc].Offset)] = false
		} else {
			out[pc] = r.CopyNew() // a repeated offset: its own copy
		}
	}
	w.eval.n.Rotations += int64(len(offsets))
	w.eval.n.HoistedRotations += int64(len(offsets) - 1)
	w.eval.n.KeySwitches += int64(len(offsets))
	return nil
}

// exec runs one instruction. Operands are never modified: results are new
// ciphertexts, so inputs and shared values stay intact.
func (w *worker) exec(ins *planpb.Instruction, vals []*rlwe.Ciphertext) (res *rlwe.Ciphertext, err error) {
	defer recoverTo(&err)
	params := w.c.params
	ev := w.eval
	arg := func(i int) *rlwe.Ciphertext { return vals[ins.Args[i]] }
	switch ins.Op {
	case planpb.Op_ROTATE:
		ct := arg(0)
		if params.GaloisElement(int(ins.Offset)) == 1 {
			return ct.CopyNew(), nil
		}
		if w.alone && w.par > 1 {
			return w.rotateParallel(ct, int(ins.Offset))
		}
		res = hefloat.NewCiphertext(params, ct.Degree(), ct.Level())
		if err = ev.Rotate(ct, int(ins.Offset), res); err != nil {
			return nil, err
		}
		ev.n.Rotations++
		ev.n.KeySwitches++
		return res, nil
	case planpb.Op_ADD:
		a, b := arg(0), arg(1)
		return ev.AddNew(a, b)
	case planpb.Op_SUB:
		return ev.SubNew(arg(0), arg(1))
	case planpb.Op_ADD_PLAIN:
		return ev.AddNew(arg(0), w.plain[ins.Args[1]])
	case planpb.Op_MUL_PLAIN:
		ct := arg(0)
		pt := w.plain[ins.Args[1]]
		res = hefloat.NewCiphertext(params, ct.Degree(), min(ct.Level(), pt.Level()))
		return res, ev.Mul(ct, pt, res)
	case planpb.Op_MUL:
		a, b := arg(0), arg(1)
		res = hefloat.NewCiphertext(params, 2, min(a.Level(), b.Level()))
		return res, ev.Mul(a, b, res)
	case planpb.Op_RELINEARIZE:
		ct := arg(0)
		if w.alone && w.par > 1 {
			return w.relinearizeParallel(ct)
		}
		res = hefloat.NewCiphertext(params, 1, ct.Level())
		return res, ev.Relinearize(ct, res)
	case planpb.Op_RESCALE:
		ct := arg(0)
		res = hefloat.NewCiphertext(params, ct.Degree(), ct.Level()-1)
		return res, ev.Rescale(ct, res)
	case planpb.Op_POLY:
		ct := arg(0)
		if w.alone && w.par > 1 {
			ev.relin = w.relinearizeParallel
			defer func() { ev.relin = nil }()
		}
		poly := bignum.NewPolynomial(bignum.Chebyshev, ins.Coeffs, [2]float64{-1, 1})
		res, err = w.poly.Evaluate(ct, poly, rlwe.NewScale(ins.Scale))
		if err != nil {
			return nil, err
		}
		ev.n.Polys++
		if want := ct.Level() - int(ins.Depth); res.Level() != want {
			return nil, fmt.Errorf("polynomial of degree %d left the result at level %d, the plan expects %d (input level %d - depth %d)", len(ins.Coeffs)-1, res.Level(), want, ct.Level(), ins.Depth)
		}
		return res, nil
	case planpb.Op_BOOTSTRAP:
		return w.bootstrap(arg(0))
	case planpb.Op_LINEAR:
		return w.linear(ins, arg(0))
	case planpb.Op_DOT:
		return w.dot(ins, vals)
	}
	return nil, fmt.Errorf("op %v cannot run on ciphertexts", ins.Op)
}

// recoverTo turns a Lattigo panic into an error.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("lattigo panic: %v", r)
	}
}

// countingEvaluator wraps the hefloat evaluator and counts the operations
// that go through it, including those of the polynomial evaluator.
type countingEvaluator struct {
	*hefloat.Evaluator
	n *OpCounts
	// relin, when set, relinearizes the ct x ct products of MulRelin (the
	// polynomial evaluator's) instead of Lattigo's fused product: the
	// worker's key switch over the cores (relinearizeParallel).
	relin func(*rlwe.Ciphertext) (*rlwe.Ciphertext, error)
}

// mulRelinVia computes op0 * op1 (ciphertexts) and relinearizes with e.relin.
func (e *countingEvaluator) mulRelinVia(op0, op1 *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	tmp := hefloat.NewCiphertext(*e.Evaluator.GetParameters(), 2, min(op0.Level(), op1.Level()))
	if err := e.Evaluator.Mul(op0, op1, tmp); err != nil {
		return nil, err
	}
	return e.relin(tmp)
}

func (e *countingEvaluator) countAdd(op1 rlwe.Operand) {
	if _, ok := op1.(rlwe.ElementInterface[ring.Poly]); ok {
		e.n.Additions++
	} else {
		e.n.ScalarOps++
	}
}

func (e *countingEvaluator) countMul(op1 rlwe.Operand, relin bool) {
	switch op1 := op1.(type) {
	case *rlwe.Ciphertext:
		if op1.Degree() > 0 {
			e.n.CtCtMults++
			if relin {
				e.n.Relinearizations++
				e.n.KeySwitches++
			}
			return
		}
		e.n.CtPtMults++
	case rlwe.ElementInterface[ring.Poly]:
		e.n.CtPtMults++
	default:
		e.n.ScalarOps++
	}
}

func (e *countingEvaluator) Add(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countAdd(op1)
	return e.Evaluator.Add(op0, op1, opOut)
}

func (e *countingEvaluator) AddNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countAdd(op1)
	return e.Evaluator.AddNew(op0, op1)
}

func (e *countingEvaluator) Sub(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countAdd(op1)
	return e.Evaluator.Sub(op0, op1, opOut)
}

func (e *countingEvaluator) SubNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countAdd(op1)
	return e.Evaluator.SubNew(op0, op1)
}

func (e *countingEvaluator) Mul(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countMul(op1, false)
	return e.Evaluator.Mul(op0, op1, opOut)
}

func (e *countingEvaluator) MulNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	e.countMul(op1, false)
	return e.Evaluator.MulNew(op0, op1)
}

func (e *countingEvaluator) MulRelin(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	if ct, ok := op1.(*rlwe.Ciphertext); ok && e.relin != nil && op0.Degree() == 1 && ct.Degree() == 1 {
		e.countMul(op1, false) // relinearizeParallel counts its key switch
		r, err := e.mulRelinVia(op0, ct)
		if err != nil {
			return err
		}
		opOut.Resize(1, r.Level())
		opOut.Copy(r)
		return nil
	}
	e.countMul(op1, true)
	return e.Evaluator.MulRelin(op0, op1, opOut)
}

func (e *countingEvaluator) MulRelinNew(op0 *rlwe.Ciphertext, op1 rlwe.Operand) (*rlwe.Ciphertext, error) {
	if ct, ok := op1.(*rlwe.Ciphertext); ok && e.relin != nil && op0.Degree() == 1 && ct.Degree() == 1 {
		e.countMul(op1, false)
		return e.mulRelinVia(op0, ct)
	}
	e.countMul(op1, true)
	return e.Evaluator.MulRelinNew(op0, op1)
}

func (e *countingEvaluator) MulThenAdd(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error {
	e.countMul(op1, false)
	if _, ok := op1.(rlwe.ElementInterface[ring.Poly]); ok {
		e.n.Additions++
	}
	return e.Evaluator.MulThenAdd(op0, op1, opOut)
}

func (e *countingEvaluator) Relinearize(op0, opOut *rlwe.Ciphertext) error {
	e.n.Relinearizations++
	e.n.KeySwitches++
	return e.Evaluator.Relinearize(op0, opOut)
}

func (e *countingEvaluator) Rescale(op0, opOut *rlwe.Ciphertext) error {
	e.n.Rescales++
	return e.Evaluator.Rescale(op0, opOut)
}
