package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils"

	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// A LINEAR instruction runs as a Lattigo linear transformation: its
// diagonals are encoded once (in the extended basis QP, pre-rotated by
// their giant step) and evaluated by Lattigo's double-hoisted baby-step
// giant-step product: one key-switching decomposition of the input for all
// baby steps, products accumulated in QP, one mod-down per giant step.

// LinearOnly marks the ENCODE results that only LINEAR instructions read as
// diagonals: they are encoded inside the linear transformation, not alone
// (the CUDA executor skips them too).
func LinearOnly(p *planpb.Plan) map[uint32]bool {
	readers := map[uint32]int{}
	byLinear := map[uint32]int{}
	for _, ins := range p.Program {
		for j, a := range ins.Args {
			readers[a]++
			if ins.Op == planpb.Op_LINEAR && j > 0 {
				byLinear[a]++
			}
		}
	}
	only := map[uint32]bool{}
	for v, n := range byLinear {
		if readers[v] == n {
			only[v] = true
		}
	}
	return only
}

// encodeLinear builds the linear transformation of every LINEAR
// instruction, keyed by its result value (EncodeLinear, each on workers
// encoders).
func (c *Context) encodeLinear(workers int) (map[int]hefloat.LinearTransformation, error) {
	lts := map[int]hefloat.LinearTransformation{}
	for pc, ins := range c.plan.Program {
		if ins.Op != planpb.Op_LINEAR {
			continue
		}
		lt, err := EncodeLinear(c.params, c.plan, c.encodeOf, ins, workers)
		if err != nil {
			return nil, fmt.Errorf("runtime: instruction %d (LINEAR): %w", pc, err)
		}
		lts[int(ins.Result)] = lt
	}
	return lts, nil
}

// EncodeLinear builds the Lattigo linear transformation of a LINEAR
// instruction of plan p (encodeOf maps a value to its ENCODE instruction, or
// nil): the diagonals broadcast as their ENCODEs say, at the first one's
// level and scale (all must share them), in QP, each pre-rotated by its
// giant step, with the plan's baby-step size. The CPU runtime and the CUDA
// executor both encode with it, so their products agree bit for bit. The
// giant steps' diagonals are encoded on workers encoders (0: every core).
func EncodeLinear(params hefloat.Parameters, p *planpb.Plan, encodeOf func(uint32) *planpb.Instruction, ins *planpb.Instruction, workers int) (lt hefloat.LinearTransformation, err error) {
	slots := params.MaxSlots()
	if len(ins.Args) < 2 || len(ins.Offsets) != len(ins.Args)-1 {
		return lt, fmt.Errorf("%d arguments and %d offsets", len(ins.Args), len(ins.Offsets))
	}
	n1 := int(ins.N1)
	if n1 < 1 || n1&(n1-1) != 0 {
		return lt, fmt.Errorf("baby-step size %d is not a power of two", n1)
	}
	enc0 := encodeOf(ins.Args[1])
	if enc0 == nil {
		return lt, fmt.Errorf("diagonal value %d is not an ENCODE result", ins.Args[1])
	}
	level, scale := int(enc0.Level), enc0.Scale
	diags := hefloat.Diagonals[float64]{}
	for j, a := range ins.Args[1:] {
		enc := encodeOf(a)
		if enc == nil || int(enc.Constant) >= len(p.Constants) {
			return lt, fmt.Errorf("diagonal value %d is not an ENCODE result", a)
		}
		if int(enc.Level) != level || enc.Scale != scale {
			return lt, fmt.Errorf("diagonals at different levels or scales (%d/%v and %d/%v)", level, scale, enc.Level, enc.Scale)
		}
		vals, err := layout.Broadcast(p.Constants[enc.Constant].Values, int(enc.Batch), slots)
		if err != nil {
			return lt, fmt.Errorf("diagonal %d: %w", j, err)
		}
		diags[int(((ins.Offsets[j]%int64(slots))+int64(slots))%int64(slots))] = vals
	}
	index, _, _ := he.BSGSIndex(diags.DiagonalsIndexList(), slots, n1)
	ringQP := params.RingQP().AtLevel(level, params.MaxLevelP())
	lt = linearShell(params, n1, level, scale)
	type job struct {
		sub  hefloat.LinearTransformation // the diagonals of one giant step
		diag hefloat.Diagonals[float64]
	}
	var jobs []job
	for _, g := range utils.GetSortedKeys(index) {
		sub := lt
		sub.MetaData = lt.MetaData.CopyNew() // the encoder writes its scale: one copy per job (else a data race)
		sub.Vec = map[int]ringqp.Poly{}
		d := hefloat.Diagonals[float64]{}
		for _, b := range index[g] {
			q := ringQP.NewPoly()
			lt.Vec[g+b], sub.Vec[g+b], d[g+b] = q, q, diags[g+b]
		}
		jobs = append(jobs, job{sub: sub, diag: d})
	}
	if workers <= 0 {
		workers = goruntime.NumCPU()
	}
	base := hefloat.NewEncoder(params)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	ch := make(chan int)
	for range max(1, min(workers, len(jobs))) {
		ecd := base.ShallowCopy()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				errs[k] = func() (err error) {
					defer recoverTo(&err)
					// the sub-transformation shares its polynomials with the whole one
					return hefloat.EncodeLinearTransformation(ecd, jobs[k].diag, jobs[k].sub)
				}()
			}
		}()
	}
	for k := range jobs {
		ch <- k
	}
	close(ch)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return lt, fmt.Errorf("encoding its diagonals: %w", err)
		}
	}
	return lt, nil
}

// linearShell is a linear transform with baby-step size n1 at level and
// scale, with no diagonals yet.
func linearShell(params hefloat.Parameters, n1, level int, scale float64) hefloat.LinearTransformation {
	return hefloat.LinearTransformation{
		MetaData: &rlwe.MetaData{
			PlaintextMetaData:  rlwe.PlaintextMetaData{LogDimensions: params.LogMaxDimensions(), Scale: rlwe.NewScale(scale), IsBatched: true},
			CiphertextMetaData: rlwe.CiphertextMetaData{IsNTT: true, IsMontgomery: true},
		},
		N1:    n1,
		Level: level,
		Vec:   map[int]ringqp.Poly{},
	}
}

// NewLinearTransformation encodes diagonals (slot offset -> values) as a
// linear transform with baby-step size n1 at level and scale, in QP as the
// runtime evaluates a plan's LINEAR (on one goroutine: EncodeLinear splits
// a plan's over workers).
func NewLinearTransformation(params hefloat.Parameters, ecd *hefloat.Encoder, diags hefloat.Diagonals[float64], n1, level int, scale float64) (lt hefloat.LinearTransformation, err error) {
	defer recoverTo(&err)
	lt = linearShell(params, n1, level, scale)
	ringQP := params.RingQP().AtLevel(level, params.MaxLevelP())
	for _, i := range diags.DiagonalsIndexList() {
		lt.Vec[i] = ringQP.NewPoly()
	}
	return lt, hefloat.EncodeLinearTransformation(ecd, diags, lt)
}

// encodeOf returns the ENCODE instruction that defines value v, or nil.
func (c *Context) encodeOf(v uint32) *planpb.Instruction {
	if int(v) >= len(c.def) || c.def[v] < 0 {
		return nil
	}
	if ins := c.plan.Program[c.def[v]]; ins.Op == planpb.Op_ENCODE {
		return ins
	}
	return nil
}

// linear evaluates a LINEAR instruction, on w.par goroutines when the
// worker has more than one (the baby steps, then the giant steps, split
// over shallow copies of the evaluator).
func (w *worker) linear(ins *planpb.Instruction, ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	lt, ok := w.c.lin[int(ins.Result)]
	if !ok {
		return nil, fmt.Errorf("linear transformation not prepared")
	}
	res := hefloat.NewCiphertext(w.c.params, 1, min(ct.Level(), lt.Level))
	var err error
	if w.par > 1 {
		err = w.linearParallel(ct, lt, res)
	} else {
		if w.lte == nil {
			w.lte = hefloat.NewLinearTransformationEvaluator(w.eval.Evaluator)
		}
		err = w.lte.Evaluate(ct, lt, res)
	}
	if err != nil {
		return nil, err
	}
	giants, babies := plan.LinearRotations(ins, w.c.params.MaxSlots())
	n := w.eval.n
	n.Rotations += int64(len(giants) + len(babies))
	n.HoistedRotations += int64(len(babies))
	n.KeySwitches += int64(len(giants) + len(babies))
	n.CtPtMults += int64(len(ins.Offsets))
	return res, nil
}

// linearParallel is Lattigo's double-hoisted evaluation
// (he.EvaluateLinearTransformationsMany) with the work split: one
// decomposition of the input, the hoisted baby-step rotations divided over
// the goroutines (each reads the shared decomposition), then the giant-step
// groups divided over them, each goroutine's partial sum finished (one
// mod-down) and the partial sums added.
func (w *worker) linearParallel(ct *rlwe.Ciphertext, lt hefloat.LinearTransformation, res *rlwe.Ciphertext) (err error) {
	defer recoverTo(&err)
	params := w.c.params
	for len(w.sub) < w.par {
		w.sub = append(w.sub, w.eval.Evaluator.ShallowCopy())
	}
	level := res.Level()
	index, _, rotN2 := he.LinearTransformation(lt).BSGSIndex()
	par := w.par
	decomp := w.sub[0].GetBuffDecompQP()
	decomposeParallel(params, w.sub[:par], level, ct, decomp)

	run := func(n int, f func(k int) error) error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for k := 0; k < n; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer recoverTo(&errs[k])
				errs[k] = f(k)
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}

	// Baby steps: rotation r goes to goroutine i mod par.
	parts := make([]map[int]*rlwe.Element[ringqp.Poly], par)
	if err := run(par, func(k int) error {
		var rots []int
		for i, r := range rotN2 {
			if i%par == k && r != 0 {
				rots = append(rots, r)
			}
		}
		parts[k] = map[int]*rlwe.Element[ringqp.Poly]{}
		return he.GetPreRotatedCiphertextForDiagonalMatrixMultiplication(level, w.sub[k], ct, decomp, rots, parts[k])
	}); err != nil {
		return err
	}
	preRot := map[int]*rlwe.Element[ringqp.Poly]{}
	for _, m := range parts {
		for r, e := range m {
			preRot[r] = e
		}
	}

	// Giant steps: greedy by work (diagonals plus a key switch each).
	giants := utils.GetSortedKeys(index)
	load := make([]int, par)
	subs := make([]hefloat.LinearTransformation, par)
	for k := range subs {
		subs[k] = lt
		subs[k].Vec = map[int]ringqp.Poly{}
	}
	for i := len(giants) - 1; i >= 0; i-- {
		g := giants[i]
		k := 0
		for j := range load {
			if load[j] < load[k] {
				k = j
			}
		}
		load[k] += len(index[g]) + 8
		for _, b := range index[g] {
			subs[k].Vec[g+b] = lt.Vec[g+b]
		}
	}
	outs := make([]*rlwe.Ciphertext, par)
	if err := run(par, func(k int) error {
		if len(subs[k].Vec) == 0 {
			return nil
		}
		outs[k] = hefloat.NewCiphertext(params, 1, level)
		return he.MultiplyByDiagMatrixBSGS(w.sub[k], ct, he.LinearTransformation(subs[k]), preRot, outs[k])
	}); err != nil {
		return err
	}
	first := true
	for _, o := range outs {
		if o == nil {
			continue
		}
		if first {
			res.Copy(o)
			first = false
			continue
		}
		if err := w.sub[0].Add(res, o, res); err != nil {
			return err
		}
	}
	return nil
}

// decomposeParallel is DecomposeNTT (the RNS digits of ct's second
// polynomial, each extended to QP in the NTT domain, into decomp) with the
// digits split over evs: each digit is independent and the same operations
// as Lattigo's, so decomp holds the same values.
func decomposeParallel(params hefloat.Parameters, evs []*hefloat.Evaluator, level int, ct *rlwe.Ciphertext, decomp []ringqp.Poly) {
	levelP := params.MaxLevelP()
	ringQ := params.RingQ().AtLevel(level)
	c2 := ct.Value[1]
	var cNTT, cInv ring.Poly
	if ct.IsNTT {
		cNTT, cInv = c2, ringQ.NewPoly()
		ringQ.INTT(cNTT, cInv)
	} else {
		cNTT, cInv = ringQ.NewPoly(), c2
		ringQ.NTT(cInv, cNTT)
	}
	digits := params.BaseRNSDecompositionVectorSize(level, levelP)
	par := max(1, min(len(evs), digits))
	fanOut(par, func(k int) {
		for i := k; i < digits; i += par {
			evs[k].DecomposeSingleNTT(level, levelP, params.PCount(), i, cNTT, cInv, decomp[i].Q, decomp[i].P)
		}
	})
}
