// Package cuda lowers a ckks-level plan to a GPU kernel schedule: for each
// instruction the sequence of kernel launches (runtime/cuda kernels) with the
// buffers they read and write, and a static memory plan that reuses buffers
// by liveness.
//
// The schedule mirrors what Lattigo does for each plan op, so that the
// kernels reproduce its ciphertexts bit for bit:
//
//	ADD, SUB        one add/sub launch per polynomial
//	ADD_PLAIN       add on polynomial 0, device copy of polynomial 1
//	MUL_PLAIN       one fused MForm+Montgomery launch (all polynomials)
//	MUL             one fused tensor launch (degree 2, no relinearization)
//	RESCALE         per polynomial: INTT of the last limb (logN stages),
//	                prep, NTT of the other limbs (logN stages), finish
//	ROTATE          hybrid key switch of c1 (+ c0), then the NTT-domain
//	                automorphism of both (rlwe.Evaluator.Automorphism); a
//	                rotation by 0 is a copy
//	RELINEARIZE     hybrid key switch of c2, added to (c0, c1)
//	LINEAR          Lattigo's double-hoisted baby-step giant-step product
//	                (one decomposition of c1, hoisted lazy automorphisms in
//	                QP per baby step, lazy products with the QP diagonals,
//	                per giant step a ModDown and a key switch kept in QP,
//	                ModDown of the result)
//	POLY            runs on the host (Lattigo's polynomial evaluator)
//
// A key switch at nl Q limbs with np P limbs (Lattigo's GadgetProduct):
// INTT of the input, then per digit (ceil(nl/np) of them) a decomposition
// launch, the NTT of its nl+np limbs and one inner-product launch; then per
// output polynomial ModDown: INTT of the P limbs, basis extension, NTT,
// finish (fused with the ciphertext addition).
package cuda

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	rt "github.com/fhec/fhec/runtime/cuda"
)

// Host steps of the schedule (no kernel).
const (
	KHostPoly = "host:poly_evaluator" // POLY, by Lattigo on the host
)

// Launch is one kernel launch, or Count identical-shape launches (the logN
// stages of an NTT).
type Launch struct {
	Kernel string
	Count  int
	// Threads per launch.
	Threads int
	// Buffers the launch writes (first) and reads, as memory-plan ids;
	// -1 is the scratch buffer.
	Writes []int
	Reads  []int
}

// Step is one plan instruction's launches.
type Step struct {
	PC       int
	Op       planpb.Op
	Result   uint32
	Level    int
	Degree   int
	Launches []Launch
}

// Buffer is one device allocation of the static memory plan.
type Buffer struct {
	ID    int
	Words int
	// Values assigned to this buffer, in program order.
	Values []uint32
}

// Schedule is a plan's kernel schedule and memory plan.
type Schedule struct {
	LogN, NQ, NP int
	Steps        []Step
	// Buffers holds ciphertexts; plaintexts (ENCODE, uploaded once per
	// evaluation) live in Plaintexts, one buffer each.
	Buffers    []Buffer
	Plaintexts map[uint32]int // value -> words
	// ValueBuffer maps each ciphertext value to its buffer id.
	ValueBuffer map[uint32]int
	// ScratchWords is the size of the one scratch buffer.
	ScratchWords int
	// NaiveBuffers is the number of ciphertext values (one buffer each
	// without reuse); NaiveWords their total size.
	NaiveBuffers, NaiveWords int
	// Missing lists kernels the schedule uses that runtime/cuda lacks.
	Missing []string
	// HostSteps counts instructions left to the host (POLY).
	HostSteps int
}

type valueInfo struct {
	level, degree int
	plain         bool
}

// Build lowers p's program.
func Build(p *planpb.Plan) (*Schedule, error) {
	if p.Params == nil {
		return nil, fmt.Errorf("cuda backend: plan has no params")
	}
	logN := int(p.Params.LogN)
	N := 1 << logN
	nq, np := len(p.Params.Q), len(p.Params.P)
	s := &Schedule{LogN: logN, NQ: nq, NP: np, Plaintexts: map[uint32]int{}, ValueBuffer: map[uint32]int{}}
	info := make([]*valueInfo, p.NumValues)
	for _, in := range p.Inputs {
		if len(in.ElementValues) > 0 {
			return nil, fmt.Errorf("cuda backend: input %q is feature-major (one ciphertext per element): such plans run on the CPU backend only; use --backend cpu", in.Name)
		}
		if in.Value >= p.NumValues {
			return nil, fmt.Errorf("cuda backend: input value %d out of range", in.Value)
		}
		info[in.Value] = &valueInfo{level: int(in.Level), degree: 1}
	}
	// Liveness: last reading instruction; outputs live to the end.
	last := make([]int, p.NumValues)
	for i := range last {
		last[i] = -1
	}
	for pc, ins := range p.Program {
		for _, a := range ins.Args {
			if a >= p.NumValues {
				return nil, fmt.Errorf("cuda backend: instruction %d reads value %d out of range", pc, a)
			}
			last[a] = pc
		}
	}
	for _, o := range p.Outputs {
		last[o.Value] = len(p.Program)
	}

	// Static memory plan: best fit among free buffers, growing one when none
	// is large enough; a result never shares a buffer with its arguments.
	var free []int
	alloc := func(v uint32, words int) int {
		best := -1
		for _, id := range free {
			if s.Buffers[id].Words >= words && (best < 0 || s.Buffers[id].Words < s.Buffers[best].Words) {
				best = id
			}
		}
		if best < 0 {
			for _, id := range free {
				if best < 0 || s.Buffers[id].Words > s.Buffers[best].Words {
					best = id
				}
			}
		}
		if best < 0 {
			best = len(s.Buffers)
			s.Buffers = append(s.Buffers, Buffer{ID: best})
		} else {
			free = slices.DeleteFunc(free, func(id int) bool { return id == best })
		}
		b := &s.Buffers[best]
		b.Words = max(b.Words, words)
		b.Values = append(b.Values, v)
		s.ValueBuffer[v] = best
		s.NaiveBuffers++
		s.NaiveWords += words
		return best
	}
	ctWords := func(vi *valueInfo) int { return (vi.degree + 1) * (vi.level + 1) * N }
	for _, in := range p.Inputs {
		alloc(in.Value, ctWords(info[in.Value]))
	}
	missing := map[string]bool{}
	buf := func(v uint32) int {
		if info[v] != nil && info[v].plain {
			return -2 - int(v) // plaintexts: not in the ciphertext memory plan
		}
		return s.ValueBuffer[v]
	}

	for pc, ins := range p.Program {
		arg := func(i int) (*valueInfo, error) {
			if i >= len(ins.Args) || info[ins.Args[i]] == nil {
				return nil, fmt.Errorf("cuda backend: instruction %d (%v): argument %d undefined", pc, ins.Op, i)
			}
			return info[ins.Args[i]], nil
		}
		var res valueInfo
		var err error
		var a, b *valueInfo
		switch ins.Op {
		case planpb.Op_ENCODE:
			res = valueInfo{level: int(ins.Level), plain: true}
		case planpb.Op_ROTATE, planpb.Op_RESCALE, planpb.Op_RELINEARIZE, planpb.Op_POLY, planpb.Op_LINEAR:
			if a, err = arg(0); err != nil {
				return nil, err
			}
			res = valueInfo{level: a.level, degree: a.degree}
			switch ins.Op {
			case planpb.Op_RESCALE:
				if a.level < 1 {
					return nil, fmt.Errorf("cuda backend: instruction %d rescales at level 0", pc)
				}
				res.level--
			case planpb.Op_RELINEARIZE:
				res.degree = 1
			case planpb.Op_POLY:
				res = valueInfo{level: a.level - int(ins.Depth), degree: 1}
			case planpb.Op_LINEAR:
				res.degree = 1
				if len(ins.Args) > 1 && info[ins.Args[1]] != nil {
					res.level = min(a.level, info[ins.Args[1]].level)
				}
			}
		case planpb.Op_ADD, planpb.Op_SUB, planpb.Op_ADD_PLAIN, planpb.Op_MUL_PLAIN, planpb.Op_MUL:
			if a, err = arg(0); err != nil {
				return nil, err
			}
			if b, err = arg(1); err != nil {
				return nil, err
			}
			res = valueInfo{level: min(a.level, b.level), degree: max(a.degree, b.degree)}
			if ins.Op == planpb.Op_MUL {
				res.degree = a.degree + b.degree
				if a.degree != 1 || b.degree != 1 {
					return nil, fmt.Errorf("cuda backend: instruction %d: MUL of degrees %d and %d (only 1 x 1)", pc, a.degree, b.degree)
				}
			}
		default:
			return nil, fmt.Errorf("cuda backend: instruction %d: unsupported op %v", pc, ins.Op)
		}
		if ins.Result >= p.NumValues {
			return nil, fmt.Errorf("cuda backend: instruction %d writes value %d out of range", pc, ins.Result)
		}
		info[ins.Result] = &res
		if res.plain {
			s.Plaintexts[ins.Result] = (res.level + 1) * N
			continue
		}
		out := alloc(ins.Result, ctWords(&res))
		st := Step{PC: pc, Op: ins.Op, Result: ins.Result, Level: res.level, Degree: res.degree}
		nl := res.level + 1
		elem := nl * N
		half := nl * N / 2
		add := func(l Launch) {
			if l.Count == 0 {
				l.Count = 1
			}
			st.Launches = append(st.Launches, l)
		}
		x := buf(ins.Args[0])
		switch ins.Op {
		case planpb.Op_ADD, planpb.Op_SUB:
			k := rt.KAdd
			if ins.Op == planpb.Op_SUB {
				k = rt.KSub
			}
			add(Launch{Kernel: k, Count: res.degree + 1, Threads: elem, Writes: []int{out}, Reads: []int{x, buf(ins.Args[1])}})
		case planpb.Op_ADD_PLAIN:
			add(Launch{Kernel: rt.KAdd, Threads: elem, Writes: []int{out}, Reads: []int{x, buf(ins.Args[1])}})
			add(Launch{Kernel: rt.KCopy, Count: res.degree, Threads: elem, Writes: []int{out}, Reads: []int{x}})
		case planpb.Op_MUL_PLAIN:
			add(Launch{Kernel: rt.KMulPlain, Threads: elem, Writes: []int{out}, Reads: []int{x, buf(ins.Args[1])}})
		case planpb.Op_MUL:
			add(Launch{Kernel: rt.KTensor, Threads: elem, Writes: []int{out}, Reads: []int{x, buf(ins.Args[1])}})
		case planpb.Op_RESCALE:
			s.ScratchWords = max(s.ScratchWords, (a.level+1)*N)
			for range res.degree + 1 {
				add(Launch{Kernel: rt.KNTTInverseStage, Count: logN, Threads: N / 2, Writes: []int{-1}, Reads: []int{x}})
				add(Launch{Kernel: rt.KRescalePrep, Threads: elem, Writes: []int{-1}, Reads: []int{-1}})
				add(Launch{Kernel: rt.KNTTForwardStage, Count: logN, Threads: half, Writes: []int{-1}, Reads: []int{-1}})
				add(Launch{Kernel: rt.KRescaleFinish, Threads: elem, Writes: []int{out}, Reads: []int{x, -1}})
			}
		case planpb.Op_ROTATE, planpb.Op_RELINEARIZE:
			if ins.Op == planpb.Op_ROTATE && ins.Offset%int64(N/2) == 0 { // Galois element 1
				add(Launch{Kernel: rt.KCopy, Threads: (res.degree + 1) * elem, Writes: []int{out}, Reads: []int{x}})
				break
			}
			if np == 0 {
				return nil, fmt.Errorf("cuda backend: instruction %d (%v): key switching needs P moduli", pc, ins.Op)
			}
			ks := keySwitch(N, nl, np, nq, out, x)
			s.ScratchWords = max(s.ScratchWords, ks.scratch)
			for _, l := range ks.launches {
				add(l)
			}
			if ins.Op == planpb.Op_ROTATE {
				add(Launch{Kernel: rt.KAutomorphismNTT, Count: 2, Threads: elem, Writes: []int{out}, Reads: []int{-1}})
			}
		case planpb.Op_POLY:
			add(Launch{Kernel: KHostPoly, Threads: 0, Writes: []int{out}, Reads: []int{x}})
			s.HostSteps++
		case planpb.Op_LINEAR:
			if np == 0 {
				return nil, fmt.Errorf("cuda backend: instruction %d (LINEAR): key switching needs P moduli", pc)
			}
			lp, err := linear(N, nl, np, N/2, ins, out, x)
			if err != nil {
				return nil, fmt.Errorf("cuda backend: instruction %d (LINEAR): %w", pc, err)
			}
			s.ScratchWords = max(s.ScratchWords, lp.scratch)
			for _, l := range lp.launches {
				add(l)
			}
		}
		for _, l := range st.Launches {
			if !known(l.Kernel) {
				missing[l.Kernel] = true
			}
		}
		s.Steps = append(s.Steps, st)
		// Free what dies here (after the result was placed).
		for _, v := range slices.Compact(slices.Sorted(slices.Values(ins.Args))) {
			if last[v] == pc && !info[v].plain {
				free = append(free, s.ValueBuffer[v])
			}
		}
		if last[ins.Result] == pc || last[ins.Result] == -1 {
			free = append(free, out)
		}
	}
	for k := range missing {
		s.Missing = append(s.Missing, k)
	}
	slices.Sort(s.Missing)
	return s, nil
}

// known: implemented kernels and host steps.
func known(k string) bool {
	return strings.HasPrefix(k, "host:") || slices.Contains(rt.Kernels, k)
}

type ksPlan struct {
	launches []Launch
	scratch  int
}

// keySwitch: Lattigo's hybrid key switch (GadgetProduct) at nl Q limbs
// with np P limbs, as runtime/cuda.Context.GadgetProduct launches it; the
// scratch is Context.KeySwitchScratchWords (chain of nq Q limbs).
func keySwitch(N, nl, np, nq, out, in int) ksPlan {
	l := append(decompose(N, nl, np, in, 1), dot(N, nl, np, 1)...)
	l = append(l, modDown(N, nl, np, 2, out, in)...)
	return ksPlan{launches: l, scratch: (3*(nq+np) + 3*nq) * N}
}

// decompose: the INTT of the input (nl limbs, read from in), then per
// digit a decomposition launch and the NTT of its nl+np limbs, times
// repeat (Context.Decompose / DecomposeNTT).
func decompose(N, nl, np, in, repeat int) []Launch {
	dnum := (nl + np - 1) / np
	qp := nl + np
	logN := logOf(N)
	var ext, cp int // digits by basis extension, digits of one limb
	for i := range dnum {
		if min(nl, (i+1)*np)-i*np > 1 {
			ext++
		} else {
			cp++
		}
	}
	var l []Launch
	l = append(l, Launch{Kernel: rt.KNTTInverseStage, Count: repeat * logN, Threads: nl * N / 2, Writes: []int{-1}, Reads: []int{in}})
	if cp > 0 {
		l = append(l, Launch{Kernel: rt.KDecomposeCopy, Count: repeat * cp, Threads: qp * N, Writes: []int{-1}, Reads: []int{-1}})
	}
	if ext > 0 {
		l = append(l, Launch{Kernel: rt.KDecomposeExt, Count: repeat * ext, Threads: qp * N, Writes: []int{-1}, Reads: []int{-1}})
	}
	return append(l, Launch{Kernel: rt.KNTTForwardStage, Count: repeat * dnum * logN, Threads: qp * N / 2, Writes: []int{-1}, Reads: []int{-1}})
}

// dot: the inner products of the digits with a key, times repeat.
func dot(N, nl, np, repeat int) []Launch {
	dnum := (nl + np - 1) / np
	return []Launch{{Kernel: rt.KKeySwitchDot, Count: repeat * dnum, Threads: (nl + np) * N, Writes: []int{-1}, Reads: []int{-1}}}
}

// modDown: count ModDownQPtoQNTT (INTT of the P limbs, basis extension,
// NTT, finish), the finish writing out.
func modDown(N, nl, np, count, out, in int) []Launch {
	logN := logOf(N)
	return []Launch{
		{Kernel: rt.KNTTInverseStage, Count: count * logN, Threads: np * N / 2, Writes: []int{-1}, Reads: []int{-1}},
		{Kernel: rt.KModDownExt, Count: count, Threads: nl * N, Writes: []int{-1}, Reads: []int{-1}},
		{Kernel: rt.KNTTForwardStage, Count: count * logN, Threads: nl * N / 2, Writes: []int{-1}, Reads: []int{-1}},
		{Kernel: rt.KModDownFinish, Count: count, Threads: nl * N, Writes: []int{out}, Reads: []int{-1, in}},
	}
}

// linear: Lattigo's double-hoisted BSGS (runtime/cuda.Context.Linear) at
// nl Q limbs with np P limbs: P·c0 and P·c1; one decomposition of c1; per
// non-zero baby step the hoisted key product and its automorphism (with
// P·c0 added); one lazy product launch per diagonal; per non-zero giant
// step a ModDown, a key switch kept in QP, and per giant step one
// accumulation launch; ModDown of both result polynomials. The scratch is
// what Context.Linear allocates for the call.
func linear(N, nl, np, slots int, ins *planpb.Instruction, out, in int) (ksPlan, error) {
	n1 := int(ins.N1)
	if n1 < 1 || n1&(n1-1) != 0 || n1 > slots {
		return ksPlan{}, fmt.Errorf("baby step %d", n1)
	}
	giants, babies := plan.BSGSSplit(ins.Offsets, slots, n1)
	diags := map[int64]bool{}
	for _, o := range ins.Offsets {
		diags[((o%int64(slots))+int64(slots))%int64(slots)] = true
	}
	nzG, nzB := len(giants), len(babies)
	if giants[0] == 0 {
		nzG--
	}
	if babies[0] == 0 {
		nzB--
	}
	qp := nl + np
	dnum := (nl + np - 1) / np
	l := []Launch{{Kernel: rt.KMulScalarMont, Count: 2, Threads: nl * N, Writes: []int{-1}, Reads: []int{in}}}
	l = append(l, decompose(N, nl, np, in, 1)...)
	if nzB > 0 {
		l = append(l, dot(N, nl, np, nzB)...)
		l = append(l, Launch{Kernel: rt.KLinearGiant, Count: nzB, Threads: qp * N, Writes: []int{-1}, Reads: []int{-1}})
	}
	l = append(l, Launch{Kernel: rt.KLinearMAC, Count: len(diags), Threads: qp * N, Writes: []int{-1}, Reads: []int{-1}})
	if nzG > 0 {
		l = append(l, modDown(N, nl, np, nzG, -1, -1)...)
		l = append(l, decompose(N, nl, np, -1, nzG)...)
		l = append(l, dot(N, nl, np, nzG)...)
	}
	l = append(l, Launch{Kernel: rt.KLinearGiant, Count: len(giants), Threads: qp * N, Writes: []int{-1}, Reads: []int{-1}})
	l = append(l, modDown(N, nl, np, 2, out, -1)...)
	scratch := (2*nl + dnum*qp + 2*nzB*qp + 6*qp + 2*nl + np) * N
	return ksPlan{launches: l, scratch: scratch}, nil
}

func logOf(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}

// Launches returns the total number of kernel launches per evaluation.
func (s *Schedule) Launches() int {
	n := 0
	for _, st := range s.Steps {
		for _, l := range st.Launches {
			if !strings.HasPrefix(l.Kernel, "host:") {
				n += l.Count
			}
		}
	}
	return n
}

// Words returns the memory plan's ciphertext words (buffers + scratch).
func (s *Schedule) Words() int {
	w := s.ScratchWords
	for _, b := range s.Buffers {
		w += b.Words
	}
	return w
}

// Summary is a one-line description.
func (s *Schedule) Summary() string {
	msg := fmt.Sprintf("cuda schedule: %d steps, %d kernel launches; memory plan: %d ciphertext buffers (%.1f MiB + %.1f MiB scratch) for %d values (%.1f MiB without reuse)",
		len(s.Steps), s.Launches(), len(s.Buffers), mib(s.Words()-s.ScratchWords), mib(s.ScratchWords), s.NaiveBuffers, mib(s.NaiveWords))
	if s.HostSteps > 0 {
		msg += fmt.Sprintf("; %d POLY steps on the host", s.HostSteps)
	}
	if len(s.Missing) > 0 {
		msg += "; kernels not yet implemented: " + strings.Join(s.Missing, ", ")
	}
	return msg
}

func mib(words int) float64 { return float64(8*words) / (1 << 20) }

// Text is the schedule as text: one line per step, then the buffers.
func (s *Schedule) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", s.Summary())
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "%d %v v%d level=%d degree=%d buf=%d:", st.PC, st.Op, st.Result, st.Level, st.Degree, s.ValueBuffer[st.Result])
		for _, l := range st.Launches {
			fmt.Fprintf(&b, " %s", l.Kernel)
			if l.Count > 1 {
				fmt.Fprintf(&b, "x%d", l.Count)
			}
		}
		b.WriteByte('\n')
	}
	for _, bf := range s.Buffers {
		fmt.Fprintf(&b, "buffer %d: %d words, values %v\n", bf.ID, bf.Words, bf.Values)
	}
	return b.String()
}

// Attach records the schedule in the plan's metadata properties
// ("backend" = "cuda", "cuda.schedule" = Text()).
func Attach(p *planpb.Plan, s *Schedule) {
	if p.Metadata == nil {
		p.Metadata = &planpb.Metadata{}
	}
	if p.Metadata.Properties == nil {
		p.Metadata.Properties = map[string]string{}
	}
	p.Metadata.Properties["backend"] = "cuda"
	p.Metadata.Properties["cuda.schedule"] = s.Text()
}
