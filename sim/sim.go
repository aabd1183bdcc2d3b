// Package sim runs a plan's CKKS program on cleartext slot vectors, with a
// model of the CKKS noise, so a compiled model's accuracy can be measured on
// thousands of inputs in minutes instead of hours of encrypted evaluation.
//
// A Simulator executes the planpb instructions themselves (the plan file is
// the input, not the compiler's IR), three ways per batch of samples:
//
//   - noisy: every instruction on float64 slots, with the noise of the
//     corresponding Lattigo operation added (see NoiseModel);
//   - noiseless: the same instructions in exact arithmetic (POLY evaluates
//     its Chebyshev series exactly), which isolates the CKKS noise;
//   - reference: each POLY replaced by the exact function it approximates
//     (from the plan's activation metadata), which is the float64 model
//     itself: the fitted polynomials' error shows against it.
//
// Values are simulated over one repetition of the layout's tiled period
// (layout.Tiled): every plan value is periodic with the largest period x
// batch of the plan's layouts and constants, so rotations modulo that period
// are exact and no work is spent on the repeated copies.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/layout"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// Layer is a contiguous range of instructions reported as one row.
type Layer struct {
	Name, Kind string
	First, End int // instructions [First, End)
	// Result is the instruction whose result is the layer's output (the last
	// ciphertext-valued one), -1 if none.
	Result int
	// Poly is the instruction index of the layer's last POLY, -1 if none.
	Poly int
}

// Options configure a Simulator.
type Options struct {
	// Noise adds the CKKS noise model to the noisy run (false: the noisy
	// run equals the noiseless one).
	Noise bool
	// Model overrides the noise constants (zero value: DefaultNoise).
	Model *NoiseConstants
	// Seed makes the noise reproducible.
	Seed uint64
	// Workers run sample groups in parallel (0: all cores).
	Workers int
}

// Simulator holds a prepared plan.
type Simulator struct {
	plan   *planpb.Plan
	slots  int // simulated slots: one repetition of the largest period x batch
	fullN  int // ring degree
	batch  int
	consts [][]float64 // ENCODE results, by instruction index (nil otherwise)
	lvl    []int       // level of each instruction's result
	scale  []float64   // scale of each instruction's result
	argDeg []int       // degree of each instruction's first operand (1 or 2)
	// LINEAR instructions: the scales of the input and of the diagonals
	linScale map[int][2]float64
	inLevel  []int
	inScale  []float64
	exact    []func(float64) float64 // per instruction: the exact function of a POLY (nil: none known)
	Layers   []Layer
	live     [][]bool // per instruction: slots that reach an output (nil: not computed)
	def      []int    // per value id: the defining instruction (-1: an input)
	lastUse  []int    // per value id: the last instruction reading it (len(program): an output)
	keep     []bool   // per instruction: its result is needed for the layer statistics
	noise    *NoiseModel
	opt      Options
	// ExactReference reports whether every POLY was matched to an activation
	// (the reference run is then the float64 model; otherwise the reference
	// is the noiseless run).
	ExactReference bool
}

// New prepares a plan for simulation.
func New(p *planpb.Plan, opt Options) (*Simulator, error) {
	if p.GetParams() == nil || len(p.Inputs) == 0 || len(p.Outputs) == 0 {
		return nil, fmt.Errorf("sim: the plan has no parameters, inputs or outputs")
	}
	s := &Simulator{plan: p, opt: opt, fullN: 1 << p.Params.LogN}
	full := s.fullN / 2
	period := 1
	for _, in := range p.Inputs {
		l := in.Layout
		period = max(period, int(l.Period)*int(l.Batch))
		s.batch = int(l.Batch)
	}
	for _, o := range p.Outputs {
		period = max(period, int(o.Layout.Period)*int(o.Layout.Batch))
	}
	for _, ins := range p.Program {
		if ins.Op == planpb.Op_ENCODE {
			if int(ins.Constant) >= len(p.Constants) {
				return nil, fmt.Errorf("sim: ENCODE of constant %d: the plan has %d", ins.Constant, len(p.Constants))
			}
			period = max(period, len(p.Constants[ins.Constant].Values)*int(max(ins.Batch, 1)))
		}
	}
	if period > full || full%period != 0 {
		period = full
	}
	s.slots = period
	nv := int(p.NumValues)
	// Levels and scales of every value, by value id, then by instruction.
	vlvl := make([]int, nv)
	vscale := make([]float64, nv)
	vdeg := make([]int, nv)
	for _, in := range p.Inputs {
		for _, v := range elementValues(in.Value, in.ElementValues) {
			if int(v) >= nv {
				return nil, fmt.Errorf("sim: input %q: value %d out of range", in.Name, v)
			}
			vlvl[v], vscale[v], vdeg[v] = int(in.Level), in.Scale, 1
		}
		s.inLevel = append(s.inLevel, int(in.Level))
		s.inScale = append(s.inScale, in.Scale)
	}
	q := p.Params.Q
	s.def = make([]int, nv)
	for i := range s.def {
		s.def[i] = -1
	}
	s.consts = make([][]float64, len(p.Program))
	s.lvl = make([]int, len(p.Program))
	s.scale = make([]float64, len(p.Program))
	s.argDeg = make([]int, len(p.Program))
	for pc, ins := range p.Program {
		a := ins.Args
		for _, v := range a {
			if int(v) >= nv {
				return nil, fmt.Errorf("sim: instruction %d: operand %d out of range", pc, v)
			}
		}
		if int(ins.Result) >= nv {
			return nil, fmt.Errorf("sim: instruction %d: result %d out of range", pc, ins.Result)
		}
		deg := 1
		if len(a) > 0 {
			s.argDeg[pc] = max(1, vdeg[a[0]])
			for _, v := range a {
				deg = max(deg, vdeg[v])
			}
		}
		switch ins.Op {
		case planpb.Op_MUL:
			deg = 2
		case planpb.Op_RELINEARIZE, planpb.Op_POLY, planpb.Op_BOOTSTRAP, planpb.Op_LINEAR, planpb.Op_ROTATE:
			deg = 1
		case planpb.Op_ENCODE:
			deg = 0
		}
		vdeg[ins.Result] = deg
		switch ins.Op {
		case planpb.Op_ENCODE:
			v, err := layout.Broadcast(p.Constants[ins.Constant].Values, int(max(ins.Batch, 1)), s.slots)
			if err != nil {
				return nil, fmt.Errorf("sim: instruction %d: %w", pc, err)
			}
			s.consts[pc] = v
			vlvl[ins.Result], vscale[ins.Result] = int(ins.Level), ins.Scale
		case planpb.Op_ROTATE, planpb.Op_RELINEARIZE:
			vlvl[ins.Result], vscale[ins.Result] = vlvl[a[0]], vscale[a[0]]
		case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN:
			vlvl[ins.Result], vscale[ins.Result] = min(vlvl[a[0]], vlvl[a[1]]), vscale[a[0]]
		case planpb.Op_MUL, planpb.Op_MUL_PLAIN:
			vlvl[ins.Result], vscale[ins.Result] = min(vlvl[a[0]], vlvl[a[1]]), vscale[a[0]]*vscale[a[1]]
		case planpb.Op_RESCALE:
			l := vlvl[a[0]]
			if l < 1 || l >= len(q) {
				return nil, fmt.Errorf("sim: instruction %d: RESCALE at level %d", pc, l)
			}
			vlvl[ins.Result], vscale[ins.Result] = l-1, vscale[a[0]]/float64(q[l])
		case planpb.Op_POLY:
			vlvl[ins.Result], vscale[ins.Result] = vlvl[a[0]]-int(ins.Depth), ins.Scale
		case planpb.Op_LINEAR:
			if len(a) < 2 {
				return nil, fmt.Errorf("sim: instruction %d: LINEAR with %d operands", pc, len(a))
			}
			vlvl[ins.Result], vscale[ins.Result] = vlvl[a[0]], vscale[a[0]]*vscale[a[1]]
			if s.linScale == nil {
				s.linScale = map[int][2]float64{}
			}
			s.linScale[pc] = [2]float64{vscale[a[0]], vscale[a[1]]}
		case planpb.Op_DOT:
			if len(a) == 0 || len(ins.Coeffs) != len(a) {
				return nil, fmt.Errorf("sim: instruction %d: DOT with %d operands and %d coefficients", pc, len(a), len(ins.Coeffs))
			}
			vlvl[ins.Result], vscale[ins.Result] = vlvl[a[0]], vscale[a[0]]*ins.Scale
		case planpb.Op_BOOTSTRAP:
			lvl := len(q) - 1
			if b := p.Params.GetBootstrapping(); b != nil {
				lvl = int(b.OutputLevel)
			}
			vlvl[ins.Result], vscale[ins.Result] = lvl, math.Exp2(p.Params.LogDefaultScale)
		default:
			return nil, fmt.Errorf("sim: instruction %d: op %v is not simulated", pc, ins.Op)
		}
		s.lvl[pc], s.scale[pc] = vlvl[ins.Result], vscale[ins.Result]
		if int(ins.Result) < nv {
			s.def[ins.Result] = pc
		}
	}
	s.lastUse = make([]int, nv)
	for pc, ins := range p.Program {
		for _, a := range ins.Args {
			if int(a) < nv {
				s.lastUse[a] = pc
			}
		}
	}
	for _, o := range p.Outputs {
		for _, v := range elementValues(o.Value, o.ElementValues) {
			if int(v) >= nv {
				return nil, fmt.Errorf("sim: output %q: value %d out of range", o.Name, v)
			}
			s.lastUse[v] = len(p.Program)
		}
	}
	s.matchActivations()
	s.groupLayers()
	s.keep = make([]bool, len(p.Program))
	for _, l := range s.Layers {
		if l.Result >= 0 {
			s.keep[l.Result] = true
		}
	}
	for _, ins := range p.Program {
		if ins.Op == planpb.Op_POLY {
			if d := s.def[ins.Args[0]]; d >= 0 {
				s.keep[d] = true
			}
		}
	}
	s.computeLive()
	nc := DefaultNoise
	if opt.Model != nil {
		nc = *opt.Model
	}
	s.noise = newNoiseModel(p.Params, nc)
	return s, nil
}

// Slots is the number of slots simulated per group (one repetition).
func (s *Simulator) Slots() int { return s.slots }

// Batch is the number of samples per ciphertext.
func (s *Simulator) Batch() int { return s.batch }

// elementValues lists the values holding a plan input or output: one per
// element under feature-major packing (plan format 1.3), else `value`.
func elementValues(value uint32, elements []uint32) []uint32 {
	if len(elements) > 0 {
		return elements
	}
	return []uint32{value}
}

// sampleLen is the number of values per sample of a plan input or output:
// its elements under feature-major packing, else the layout's Len.
func sampleLen(l *planpb.Layout, elements []uint32) int {
	if len(elements) > 0 {
		return len(elements)
	}
	return int(l.Len)
}

// matchActivations pairs the plan's fitted activations (degree > 0, in
// order) with its POLY instructions (in order, same degree) and records the
// exact function each approximates on [-1, 1].
func (s *Simulator) matchActivations() {
	var acts []*planpb.Activation
	for _, a := range s.plan.GetMetadata().GetActivations() {
		if a.Degree > 0 {
			acts = append(acts, a)
		}
	}
	var polys []int
	for pc, ins := range s.plan.Program {
		if ins.Op == planpb.Op_POLY {
			polys = append(polys, pc)
		}
	}
	s.exact = make([]func(float64) float64, len(s.plan.Program))
	if len(acts) != len(polys) {
		return
	}
	for i, pc := range polys {
		a := acts[i]
		if int(a.Degree) != len(s.plan.Program[pc].Coeffs)-1 {
			s.exact = make([]func(float64) float64, len(s.plan.Program))
			return
		}
		fn := ExactFunction(a)
		if fn == nil {
			s.exact = make([]func(float64) float64, len(s.plan.Program))
			return
		}
		// The compiler may fold a constant output scaling into the
		// coefficients (FuseLinear): recover it by least squares.
		k := foldedScale(fn, s.plan.Program[pc].Coeffs)
		s.exact[pc] = func(t float64) float64 { return k * fn(t) }
	}
	s.ExactReference = true
}

// ExactFunction returns the function a fitted POLY approximates, as a
// function of its input t in [-1, 1]: relu(t) for ReLU (fitted through its
// positive homogeneity, the ranges are folded into the neighbouring layers),
// f(lo + (t+1)(hi-lo)/2) for the functions fitted on their interval [lo, hi].
// Nil for an unknown function.
func ExactFunction(a *planpb.Activation) func(float64) float64 {
	if a.Function == "relu" {
		return func(t float64) float64 { return math.Max(t, 0) }
	}
	fn, err := ir.ElementwiseFunc(&ir.Op{Code: a.Function, Attrs: map[string]ir.Attr{}})
	if err != nil {
		return nil
	}
	lo, hi := a.Lo, a.Hi
	return func(t float64) float64 { return fn(lo + (t+1)*(hi-lo)/2) }
}

// foldedScale returns the k minimizing sum (p(t) - k f(t))^2 over a grid of
// [-1, 1].
func foldedScale(fn func(float64) float64, coeffs []float64) float64 {
	num, den := 0.0, 0.0
	for i := 0; i <= 2048; i++ {
		t := -1 + float64(i)/1024
		f := fn(t)
		num += f * ir.ChebyshevEval(coeffs, t)
		den += f * f
	}
	if den == 0 {
		return 1
	}
	return num / den
}

// groupLayers uses the plan's per-layer metadata when its instruction
// counts cover the program in order, else cuts after every POLY.
func (s *Simulator) groupLayers() {
	prog := s.plan.Program
	mk := func(name, kind string, first, end int) Layer {
		l := Layer{Name: name, Kind: kind, First: first, End: end, Result: -1, Poly: -1}
		for pc := first; pc < end; pc++ {
			if prog[pc].Op != planpb.Op_ENCODE {
				l.Result = pc
			}
			if prog[pc].Op == planpb.Op_POLY {
				l.Poly = pc
			}
		}
		return l
	}
	if md := s.plan.GetMetadata().GetLayers(); len(md) > 0 {
		total := 0
		for _, l := range md {
			total += int(l.Instructions)
		}
		if total == len(prog) {
			first := 0
			for _, l := range md {
				end := first + int(l.Instructions)
				s.Layers = append(s.Layers, mk(l.Name, l.Kind, first, end))
				first = end
			}
			return
		}
	}
	first := 0
	for pc, ins := range prog {
		if ins.Op == planpb.Op_POLY || pc == len(prog)-1 {
			kind := "linear"
			if ins.Op == planpb.Op_POLY {
				kind = "activation"
			}
			s.Layers = append(s.Layers, mk(fmt.Sprintf("#%d", len(s.Layers)+1), kind, first, pc+1))
			first = pc + 1
		}
	}
}

// computeLive marks, for every instruction result, the slots that flow into
// an output slot the client reads (layout.Unpack): errors are measured
// there only (other slots hold padding or rotation leftovers).
func (s *Simulator) computeLive() {
	prog := s.plan.Program
	n := s.slots
	byValue := map[uint32][]bool{}
	get := func(v uint32) []bool {
		b := byValue[v]
		if b == nil {
			b = make([]bool, n)
			byValue[v] = b
		}
		return b
	}
	for _, o := range s.plan.Outputs {
		l := o.Layout
		t := plan.TiledLayout(l)
		for _, v := range elementValues(o.Value, o.ElementValues) {
			b := get(v)
			for f := 0; f < int(l.Len); f++ {
				for k := 0; k < int(l.Batch); k++ {
					b[(t.Pos(f)*int(l.Batch)+k)%n] = true
				}
			}
		}
	}
	s.live = make([][]bool, len(prog))
	for pc := len(prog) - 1; pc >= 0; pc-- {
		ins := prog[pc]
		out := byValue[ins.Result]
		if out == nil || ins.Op == planpb.Op_ENCODE {
			continue
		}
		s.live[pc] = out
		switch ins.Op {
		case planpb.Op_ROTATE:
			in := get(ins.Args[0])
			k := mod(int(ins.Offset), n)
			for i, ok := range out {
				if ok {
					in[(i+k)%n] = true
				}
			}
		case planpb.Op_LINEAR:
			in := get(ins.Args[0])
			for _, off := range ins.Offsets {
				k := mod(int(off), n)
				for i, ok := range out {
					if ok {
						in[(i+k)%n] = true
					}
				}
			}
		default:
			for _, a := range ins.Args {
				if prog := s.isPlain(a); prog {
					continue
				}
				in := get(a)
				for i, ok := range out {
					if ok {
						in[i] = true
					}
				}
			}
		}
	}
}

func (s *Simulator) isPlain(v uint32) bool {
	d := s.def[v]
	return d >= 0 && s.consts[d] != nil
}

func mod(a, n int) int {
	a %= n
	if a < 0 {
		a += n
	}
	return a
}

// Run is the result of simulating samples.
type Run struct {
	// Outputs[o][s] is output o of sample s: noisy, noiseless and reference.
	Noisy, Noiseless, Reference [][][]float64
	// Per layer (Simulator.Layers): the largest |noisy - reference| and
	// |noisy - noiseless| over the layer result's live slots and all samples.
	LayerError, LayerNoise []float64
	// LayerOutOfRange counts the live slots whose POLY input (noisy run)
	// left [-1, 1], per layer; OutOfRangeSamples counts samples with any.
	LayerOutOfRange   []int64
	OutOfRangeSamples int
	// LayerMaxInput is the largest |POLY input| seen per layer (live slots).
	LayerMaxInput []float64
}

// Simulate runs samples[s][i] (sample s, plan input i, flattened: Len
// values, or one per element of a feature-major input) through the
// program. Outputs are per sample likewise.
func (s *Simulator) Simulate(samples [][][]float64) (*Run, error) {
	p := s.plan
	for i, x := range samples {
		if len(x) != len(p.Inputs) {
			return nil, fmt.Errorf("sim: sample %d has %d inputs, the plan takes %d", i, len(x), len(p.Inputs))
		}
		for k, in := range p.Inputs {
			if want := sampleLen(in.Layout, in.ElementValues); len(x[k]) != want {
				return nil, fmt.Errorf("sim: sample %d input %q has %d values, want %d", i, in.Name, len(x[k]), want)
			}
		}
	}
	groups := (len(samples) + s.batch - 1) / s.batch
	r := &Run{
		LayerError: make([]float64, len(s.Layers)), LayerNoise: make([]float64, len(s.Layers)),
		LayerOutOfRange: make([]int64, len(s.Layers)), LayerMaxInput: make([]float64, len(s.Layers)),
	}
	for _, out := range [](*[][][]float64){&r.Noisy, &r.Noiseless, &r.Reference} {
		*out = make([][][]float64, len(p.Outputs))
		for o := range *out {
			(*out)[o] = make([][]float64, len(samples))
		}
	}
	oor := make([]bool, len(samples))
	workers := s.opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(1, min(workers, groups))
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range next {
				lo, hi := g*s.batch, min((g+1)*s.batch, len(samples))
				gr, err := s.group(samples[lo:hi], g)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					for o := range p.Outputs {
						for k := lo; k < hi; k++ {
							r.Noisy[o][k] = gr.outs[0][o][k-lo]
							r.Noiseless[o][k] = gr.outs[1][o][k-lo]
							r.Reference[o][k] = gr.outs[2][o][k-lo]
						}
					}
					for l := range s.Layers {
						r.LayerError[l] = math.Max(r.LayerError[l], gr.layerErr[l])
						r.LayerNoise[l] = math.Max(r.LayerNoise[l], gr.layerNoise[l])
						r.LayerOutOfRange[l] += gr.oor[l]
						r.LayerMaxInput[l] = math.Max(r.LayerMaxInput[l], gr.maxIn[l])
					}
					for k := lo; k < hi; k++ {
						oor[k] = gr.sampleOOR[k-lo]
					}
				}
				mu.Unlock()
			}
		}()
	}
	for g := 0; g < groups; g++ {
		next <- g
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for _, b := range oor {
		if b {
			r.OutOfRangeSamples++
		}
	}
	return r, nil
}

type groupResult struct {
	outs                 [3][][][]float64 // run, output, sample
	layerErr, layerNoise []float64
	oor                  []int64
	maxIn                []float64
	sampleOOR            []bool
}

const (
	runNoisy = iota
	runNoiseless
	runReference
)

// group simulates one ciphertext's worth of samples three ways.
func (s *Simulator) group(samples [][][]float64, g int) (*groupResult, error) {
	p := s.plan
	gr := &groupResult{layerErr: make([]float64, len(s.Layers)), layerNoise: make([]float64, len(s.Layers)),
		oor: make([]int64, len(s.Layers)), maxIn: make([]float64, len(s.Layers)), sampleOOR: make([]bool, len(samples))}
	var results [3][][]float64 // per run, per instruction
	for run := 0; run < 3; run++ {
		vals := make([][]float64, p.NumValues)
		for i, in := range p.Inputs {
			if len(in.ElementValues) > 0 { // feature-major: sample b in slot b
				for f, id := range in.ElementValues {
					v := make([]float64, s.slots)
					for b := range samples {
						v[b] = samples[b][i][f]
					}
					vals[id] = v
				}
				continue
			}
			t := plan.TiledLayout(in.Layout)
			xs := make([][]float64, len(samples))
			for k := range samples {
				xs[k] = samples[k][i]
			}
			v, err := t.Pack(xs, s.slots)
			if err != nil {
				return nil, fmt.Errorf("sim: input %q: %w", in.Name, err)
			}
			vals[in.Value] = v
		}
		var rng *rand.Rand
		if run == runNoisy && s.opt.Noise {
			rng = rand.New(rand.NewPCG(s.opt.Seed, uint64(g)+1))
			for i, in := range p.Inputs {
				for _, v := range elementValues(in.Value, in.ElementValues) {
					s.noise.fresh(rng, vals[v], s.inScale[i])
				}
			}
		}
		res := make([][]float64, len(p.Program))
		for pc, ins := range p.Program {
			var out []float64
			if ins.Op == planpb.Op_ENCODE {
				out = s.consts[pc]
			} else {
				var err error
				out, err = s.exec(pc, ins, vals, rng, run)
				if err != nil {
					return nil, err
				}
			}
			vals[ins.Result] = out
			if s.keep[pc] {
				res[pc] = out
			}
			for _, a := range ins.Args { // free what no later instruction reads
				if s.lastUse[a] == pc {
					vals[a] = nil
				}
			}
		}
		results[run] = res
		for o, out := range p.Outputs {
			if gr.outs[run] == nil {
				gr.outs[run] = make([][][]float64, len(p.Outputs))
			}
			if len(out.ElementValues) > 0 { // feature-major: sample b in slot b
				u := make([][]float64, len(samples))
				for b := range u {
					u[b] = make([]float64, len(out.ElementValues))
				}
				for f, id := range out.ElementValues {
					v := vals[id]
					if v == nil {
						return nil, fmt.Errorf("sim: output %q element %d is not computed", out.Name, f)
					}
					for b := range u {
						u[b][f] = v[b]
					}
				}
				gr.outs[run][o] = u
				continue
			}
			t := plan.TiledLayout(out.Layout)
			v := vals[out.Value]
			if v == nil {
				return nil, fmt.Errorf("sim: output %q is not computed", out.Name)
			}
			u, err := t.Unpack(v, len(samples))
			if err != nil {
				return nil, fmt.Errorf("sim: output %q: %w", out.Name, err)
			}
			gr.outs[run][o] = u
		}
	}
	for l, layer := range s.Layers {
		if layer.Result >= 0 {
			live := s.live[layer.Result]
			a, b, c := results[runNoisy][layer.Result], results[runNoiseless][layer.Result], results[runReference][layer.Result]
			for i := range a {
				if live != nil && !live[i] || i%s.batch >= len(samples) {
					continue
				}
				gr.layerErr[l] = math.Max(gr.layerErr[l], math.Abs(a[i]-c[i]))
				gr.layerNoise[l] = math.Max(gr.layerNoise[l], math.Abs(a[i]-b[i]))
			}
		}
		for pc := layer.First; pc < layer.End; pc++ {
			ins := p.Program[pc]
			if ins.Op != planpb.Op_POLY {
				continue
			}
			live := s.live[pc]
			var in []float64
			if d := s.defOf(ins.Args[0], pc); d >= 0 {
				in = results[runNoisy][d]
			}
			for i, x := range in {
				if live != nil && !live[i] || i%s.batch >= len(samples) {
					continue
				}
				gr.maxIn[l] = math.Max(gr.maxIn[l], math.Abs(x))
				if math.Abs(x) > 1 {
					gr.oor[l]++
					gr.sampleOOR[i%s.batch] = true
				}
			}
		}
	}
	return gr, nil
}

// defOf returns the instruction that defines value v (-1: an input).
func (s *Simulator) defOf(v uint32, _ int) int { return s.def[v] }

func (s *Simulator) exec(pc int, ins *planpb.Instruction, vals [][]float64, rng *rand.Rand, run int) ([]float64, error) {
	args := make([][]float64, len(ins.Args))
	for i, a := range ins.Args {
		if int(a) >= len(vals) || vals[a] == nil {
			return nil, fmt.Errorf("sim: instruction %d: operand %d (value %d) is not computed", pc, i, a)
		}
		args[i] = vals[a]
	}
	n := s.slots
	out := make([]float64, n)
	nm := s.noise
	switch ins.Op {
	case planpb.Op_ROTATE:
		k := mod(int(ins.Offset), n)
		copy(out, args[0][k:])
		copy(out[n-k:], args[0][:k])
		if rng != nil {
			nm.keySwitch(rng, out, s.scale[pc])
		}
	case planpb.Op_ADD:
		for i := range out {
			out[i] = args[0][i] + args[1][i]
		}
	case planpb.Op_SUB:
		for i := range out {
			out[i] = args[0][i] - args[1][i]
		}
	case planpb.Op_ADD_PLAIN:
		for i := range out {
			out[i] = args[0][i] + args[1][i]
		}
		if rng != nil {
			nm.encode(rng, out, s.scale[pc])
		}
	case planpb.Op_MUL_PLAIN:
		var ptScale float64
		if d := s.defOf(ins.Args[1], pc); d >= 0 {
			ptScale = s.scale[d]
		}
		for i := range out {
			out[i] = args[0][i] * args[1][i]
		}
		if rng != nil && ptScale > 0 {
			nm.plainMul(rng, out, args[0], ptScale)
		}
	case planpb.Op_MUL:
		for i := range out {
			out[i] = args[0][i] * args[1][i]
		}
	case planpb.Op_LINEAR:
		s.linear(pc, ins, args, out, rng)
	case planpb.Op_BOOTSTRAP:
		copy(out, args[0])
		if rng != nil {
			addNormal(rng, out, nm.C.Bootstrap)
		}
	case planpb.Op_RELINEARIZE:
		copy(out, args[0])
		if rng != nil {
			nm.keySwitch(rng, out, s.scale[pc])
		}
	case planpb.Op_RESCALE:
		copy(out, args[0])
		if rng != nil {
			if s.argDeg[pc] == 2 {
				nm.rescale2(rng, out, s.scale[pc])
			} else {
				nm.rescale(rng, out, s.scale[pc])
			}
		}
	case planpb.Op_DOT:
		s.dot(ins, args, out, rng != nil)
	case planpb.Op_POLY:
		if run == runReference && s.exact[pc] != nil {
			fn := s.exact[pc]
			for i, x := range args[0] {
				out[i] = fn(x)
			}
			break
		}
		for i, x := range args[0] {
			out[i] = ir.ChebyshevEval(ins.Coeffs, x)
		}
		if rng != nil {
			nm.poly(rng, out, ins.Coeffs, s.scale[pc])
		}
	default:
		return nil, fmt.Errorf("sim: instruction %d: op %v is not simulated", pc, ins.Op)
	}
	return out, nil
}

// linear simulates a LINEAR instruction: sum_k rot(x, offsets[k]) * d_k.
// Noise as Lattigo's double-hoisted evaluation makes it: each baby-step
// rotation adds key-switching noise at the input scale (the rotated copies
// are shared by every giant step), each product the diagonal's encoding
// error, and each giant-step rotation key-switching noise at the output
// scale.
func (s *Simulator) linear(pc int, ins *planpb.Instruction, args [][]float64, out []float64, rng *rand.Rand) {
	n := s.slots
	x := args[0]
	sc := s.linScale[pc]
	full := s.fullN / 2
	n1 := max(1, int(ins.N1))
	babyNoise := map[int][]float64{}
	giants := map[int]bool{}
	rot := make([]float64, n)
	// The encoding errors of the diagonals are independent: their sum is
	// drawn once per slot, with variance sum_j rot_j^2 * EncodeStd^2.
	var sq []float64
	if rng != nil {
		sq = make([]float64, n)
	}
	for j, off := range ins.Offsets {
		k := mod(int(off), n)
		copy(rot, x[k:])
		copy(rot[n-k:], x[:k])
		kf := mod(int(off), full)
		baby, giant := kf&(n1-1), (kf/n1)*n1
		giants[giant] = true
		d := args[j+1]
		if rng != nil && baby != 0 {
			e := babyNoise[baby]
			if e == nil {
				e = make([]float64, n)
				s.noise.keySwitch(rng, e, sc[0])
				babyNoise[baby] = e
			}
			for i := range rot {
				rot[i] += e[i]
			}
		}
		for i := range out {
			out[i] += rot[i] * d[i]
		}
		for i := range sq {
			sq[i] += rot[i] * rot[i]
		}
	}
	if rng != nil {
		for i := range sq {
			sq[i] = math.Sqrt(sq[i])
		}
		s.noise.plainMul(rng, out, sq, sc[1])
		for g := range giants {
			if g != 0 {
				s.noise.keySwitch(rng, out, s.scale[pc])
			}
		}
	}
}

// dot simulates a DOT instruction: sum_k c_k x_k + bias. The runtime
// multiplies by the integers w_k = round(c_k W) at weight scale W and adds
// round(bias S W) at scale S W: the noisy run uses those rounded values
// (w_k / W, a value error, not a random one) and adds no noise of its own,
// since an integer multiple of a ciphertext carries |w_k| times its noise,
// which the noisy operands already hold (summed in variance over the
// independent terms). The noiseless and reference runs use c_k and bias.
func (s *Simulator) dot(ins *planpb.Instruction, args [][]float64, out []float64, rounded bool) {
	for k, x := range args {
		c := ins.Coeffs[k]
		if rounded {
			c = math.Round(c*ins.Scale) / ins.Scale
		}
		if c == 0 {
			continue
		}
		for i := range out {
			out[i] += c * x[i]
		}
	}
	bias := ins.Bias
	if rounded && bias != 0 {
		// The argument scale S is the plan's (float64) tracking of it.
		if sw := s.argScale(ins) * ins.Scale; sw > 0 && !math.IsInf(sw, 0) {
			bias = math.Round(bias*sw) / sw
		}
	}
	for i := range out {
		out[i] += bias
	}
}

// argScale is the scale of a DOT's operands (that of its result over W).
func (s *Simulator) argScale(ins *planpb.Instruction) float64 {
	if d := s.def[ins.Result]; d >= 0 {
		return s.scale[d] / ins.Scale
	}
	return 0
}
