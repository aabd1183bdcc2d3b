package passes

import (
	"fmt"
	"math"
	"sync"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/he/hefloat/bootstrapping"
	"github.com/tuneinsight/lattigo/v5/ring"

	"github.com/fhec/fhec/ir"
)

// BootstrapCircuit is the shape of Lattigo's bootstrapping circuit that
// parameter selection picks (one prime per level of the linear transforms).
type BootstrapCircuit struct {
	LogN            int
	LogP            []int
	CoeffsToSlots   []int // log2 of the prime of each level
	SlotsToCoeffs   []int
	EvalModLogScale int
	EphemeralWeight int // sparse-secret encapsulation (eprint 2022/024)
	LogMessageRatio int
	K, Mod1Degree   int
	DoubleAngle     int
	Mod1InvDegree   int
}

// Bootstrapping constants: the residual chain under bootstrapping has
// q0 = 2^60 (room for the message ratio and the values' magnitude) and a
// 2^40 scale (the precision of the bootstrapped values is about 2^-20).
const (
	bootstrapQ0       = 60
	bootstrapLogScale = 40
	// minBootstrapLogScale: the least scale between bootstraps tried when
	// a smaller one fits more steps per bootstrap (CKKS noise about
	// 2^(logN/2+4) stays below 2^-20 of it at 2^16).
	minBootstrapLogScale = 32
	// insecureBootstrapLogN: the ring of insecure test bootstrapping (about a
	// second per bootstrap on one core).
	insecureBootstrapLogN = 11
)

// secureCircuit is Lattigo's default circuit for full slots at 2^16
// (N16QP1767H32768H32 without its residual chain): CoeffsToSlots 4 x 56,
// SlotsToCoeffs 3 x 39, EvalMod at 2^60 (cosine of degree 30, 3 double
// angles, K = 16), ephemeral secret of weight 32, message ratio 2^8.
func secureCircuit(logN int) BootstrapCircuit {
	return BootstrapCircuit{LogN: logN, LogP: []int{61, 61, 61, 61, 61}, CoeffsToSlots: []int{56, 56, 56, 56}, SlotsToCoeffs: []int{39, 39, 39},
		EvalModLogScale: 60, EphemeralWeight: 32, LogMessageRatio: 8, K: 16, Mod1Degree: 30, DoubleAngle: 3}
}

// insecureCircuit is a small test circuit: two levels per linear transform,
// and a message ratio raised by 16-logN bits as Lattigo's own tests do for
// small rings (same precision with fewer slots).
func insecureCircuit(logN int) BootstrapCircuit {
	c := secureCircuit(logN)
	c.LogP = []int{61, 61}
	c.CoeffsToSlots = []int{56, 56}
	c.SlotsToCoeffs = []int{39, 39}
	c.LogMessageRatio = 8 + max(0, 16-logN)
	return c
}

// Literal is the Lattigo literal of the circuit over the given residual parameters.
func (b BootstrapCircuit) Literal(residual hefloat.Parameters) bootstrapping.ParametersLiteral {
	one := func(v []int) [][]int {
		out := make([][]int, len(v))
		for i, x := range v {
			out[i] = []int{x}
		}
		return out
	}
	p := func(v int) *int { return &v }
	return bootstrapping.ParametersLiteral{LogN: p(b.LogN), LogP: b.LogP, Xs: residual.Xs(), Xe: residual.Xe(), LogSlots: p(residual.LogMaxSlots()),
		CoeffsToSlotsFactorizationDepthAndLogScales: one(b.CoeffsToSlots), SlotsToCoeffsFactorizationDepthAndLogScales: one(b.SlotsToCoeffs),
		EvalModLogScale: p(b.EvalModLogScale), EphemeralSecretWeight: p(b.EphemeralWeight), Mod1Type: hefloat.CosDiscrete,
		LogMessageRatio: p(b.LogMessageRatio), K: p(b.K), Mod1Degree: p(b.Mod1Degree), DoubleAngle: p(b.DoubleAngle), Mod1InvDegree: p(b.Mod1InvDegree)}
}

// bootstrapParams builds the residual parameters with L levels and the
// bootstrapping parameters on top of them.
func bootstrapParams(circ BootstrapCircuit, levels, logScale int) (hefloat.Parameters, bootstrapping.Parameters, error) {
	logQ := []int{bootstrapQ0}
	for i := 0; i < levels; i++ {
		logQ = append(logQ, logScale)
	}
	// residual key-switching primes: about sqrt(#q) of them keeps the keys small
	nP := max(1, int(math.Ceil(math.Sqrt(float64(levels+1)))))
	logP := make([]int, nP)
	for i := range logP {
		logP[i] = 61
	}
	res, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{LogN: circ.LogN, LogQ: logQ, LogP: logP,
		LogDefaultScale: logScale, Xs: ring.Ternary{P: 2.0 / 3}})
	if err != nil {
		return hefloat.Parameters{}, bootstrapping.Parameters{}, err
	}
	bp, err := bootstrapping.NewParametersFromLiteral(res, circ.Literal(res))
	return res, bp, err
}

// maxBootstrapLevels is the largest residual level count whose
// bootstrapping circuit stays within budget bits of log2(QP), or 0.
func maxBootstrapLevels(circ BootstrapCircuit, budget float64, logScale int) (int, error) {
	fixed := float64(bootstrapQ0 + circ.EvalModLogScale*(ir.PolyDepth(circ.Mod1Degree)+circ.DoubleAngle+1))
	for _, v := range append(append(append([]int{}, circ.LogP...), circ.CoeffsToSlots...), circ.SlotsToCoeffs...) {
		fixed += float64(v)
	}
	for l := min(48, int((budget-fixed)/float64(logScale))+2); l >= 1; l-- {
		_, bp, err := bootstrapParams(circ, l, logScale)
		if err != nil {
			return 0, err
		}
		if bp.BootstrappingParameters.LogQP() <= budget {
			return l, nil
		}
	}
	return 0, nil
}

// bootstrapLevelsCache holds maxBootstrapLevels by circuit, budget and
// scale: each call builds Lattigo parameters, and every compilation of a
// deep model asks for the same few.
var bootstrapLevelsCache sync.Map

// bootstrapScale chooses the scale between bootstraps: the largest whose
// residual levels hold the most steps of need levels (an activation with
// its dense layer, maxStepDepth) per bootstrap, and those levels. Levels no
// step fills are wasted: with degree-127 ReLUs (8 levels a step) 2^40
// leaves 14 levels, one step, and 2^35 leaves 16, two steps, and about
// half the bootstraps.
func bootstrapScale(circ BootstrapCircuit, budget float64, need int) (logScale, levels int, err error) {
	for s := bootstrapLogScale; s >= minBootstrapLogScale; s-- {
		key := fmt.Sprint(circ, budget, s)
		v, ok := bootstrapLevelsCache.Load(key)
		if !ok {
			l, err := maxBootstrapLevels(circ, budget, s)
			if err != nil {
				return 0, 0, err
			}
			v, _ = bootstrapLevelsCache.LoadOrStore(key, l)
		}
		l := v.(int)
		if logScale == 0 || l/need > levels/need {
			logScale, levels = s, l
		}
	}
	return logScale, levels, nil
}

// selectBootstrapped chooses parameters with bootstrapping: the secure
// circuit at 2^16 with as many residual levels as the security budget
// leaves, or, insecure, a small ring with the same number of levels.
func selectBootstrapped(f *ir.Func, depth, period, target int, insecure bool) (*Params, error) {
	const logN = 16
	budget := float64(MaxLogQP[target][logN])
	circ := secureCircuit(logN)
	need := maxStepDepth(f)
	logScale, levels, err := bootstrapScale(circ, budget, need)
	if err != nil {
		return nil, fmt.Errorf("bootstrapping parameters: %w", err)
	}
	if levels < need {
		return nil, fmt.Errorf("depth %d needs bootstrapping, and %d-bit bootstrapping parameters (N = 2^16, log2(QP) <= %.0f) leave %d levels between bootstraps, but one activation with its dense layer needs %d: lower the activation degree (--degree 15), or the security level (--security), or use --insecure for tests", depth, target, budget, levels, need)
	}
	if 1<<(logN-1) < period {
		return nil, fmt.Errorf("vectors of %d slots exceed the %d slots of N = 2^16", period, 1<<(logN-1))
	}
	if insecure {
		circ = insecureCircuit(max(insecureBootstrapLogN, bitsLen(period)))
	}
	res, bp, err := bootstrapParams(circ, levels, logScale)
	if err != nil {
		return nil, fmt.Errorf("bootstrapping parameters: %w", err)
	}
	logQP := bp.BootstrappingParameters.LogQP()
	sec := 0
	if !insecure {
		if logQP > budget || res.LogQP() > budget {
			return nil, fmt.Errorf("internal error: bootstrapping parameters of log2(QP) %.1f exceed the %d-bit budget %.0f", logQP, target, budget)
		}
		sec = target
	}
	lb := 0
	if depth > levels {
		lb = (depth - levels + levels - 1) / levels
	}
	slots := res.MaxSlots()
	return &Params{LogN: circ.LogN, Q: res.Q(), P: res.P(), LogScale: logScale, Batch: slots / period, Depth: depth,
		LogQP: math.Max(logQP, res.LogQP()), Security: sec,
		Bootstrap: &BootstrapInfo{Circuit: circ, Levels: levels, LogQP: logQP, LowerBound: lb}}, nil
}

func bitsLen(period int) int {
	n := 1
	for 1<<n < 2*period {
		n++
	}
	return n
}

// maxStepDepth is the most levels that must be available after a bootstrap:
// a polynomial's depth plus the levels up to the next polynomial input (a
// dense layer) or result.
func maxStepDepth(f *ir.Func) int {
	need := needAfter(f)
	m := 1
	for _, op := range f.Ops {
		if op.Code == "poly" && op.Result().Type.Secret {
			m = max(m, ir.PolyDepth(len(op.Floats("coeffs"))-1)+need[op.Result()])
		}
	}
	return m
}

// opCost is the levels a secret tensor-level op consumes once lowered.
func opCost(op *ir.Op) int {
	switch op.Code {
	case "linear", "mul":
		return 1
	case "poly":
		return ir.PolyDepth(len(op.Floats("coeffs")) - 1)
	}
	return 0
}

// needAfter[v] is the levels v must hold so that every path from it reaches
// a polynomial input (where a bootstrap may go) or a result.
func needAfter(f *ir.Func) map[*ir.Value]int {
	need := map[*ir.Value]int{}
	for i := len(f.Ops) - 1; i >= 0; i-- {
		op := f.Ops[i]
		r := op.Result()
		if !r.Type.Secret {
			continue
		}
		n := opCost(op) + need[r]
		if op.Code == "poly" {
			n = 0 // its input may be bootstrapped
		}
		for _, a := range op.Args {
			if a.Type.Secret {
				need[a] = max(need[a], n)
			}
		}
	}
	return need
}

// PlaceBootstraps marks where a tensor-level program bootstraps, given the
// levels fresh ciphertexts (inputs and bootstrap results) hold. Bootstraps
// go on the inputs of polynomial activations, which lie in [-1, 1] (as
// bootstrapping needs) once normalize-poly and fuse-linear ran: a poly gets
// the attribute bootstrap = 1 when its input is short of the poly's depth
// plus the levels up to the next polynomial input. That is "as late as
// possible", optimal on chains (each bootstrap restores the same levels);
// the bootstrapped value is shared by every poly that reads it.
//
// Requires: tensor-level IR with the FHE-supported ops of DepthAndPeriod.
// Guarantees: every op's levels are available; returns the bootstrap count.
func PlaceBootstraps(f *ir.Func, levels int) (int, error) {
	need := needAfter(f)
	left := map[*ir.Value]int{}
	for _, p := range f.Params {
		left[p] = levels
	}
	boots := map[*ir.Value]bool{}
	count := 0
	for _, op := range f.Ops {
		r := op.Result()
		if !r.Type.Secret {
			continue
		}
		in := math.MaxInt
		for _, a := range op.Args {
			if a.Type.Secret {
				in = min(in, left[a])
			}
		}
		cost := opCost(op)
		if op.Code == "poly" {
			x := op.Args[0]
			if cost+need[r] > levels {
				return 0, fmt.Errorf("poly %%%s needs %d levels up to the next activation, bootstrapping leaves %d: lower the activation degree", r.Name, cost+need[r], levels)
			}
			if boots[x] || in < cost+need[r] {
				if !boots[x] {
					boots[x] = true
					count++
				}
				op.Attrs["bootstrap"] = int64(1)
				in = levels
			}
		}
		if in < cost {
			return 0, fmt.Errorf("%s %%%s: out of levels (%d left, needs %d) with no bootstrap point before it (bootstraps go on activation inputs)", op.Code, r.Name, in, cost)
		}
		left[r] = in - cost
	}
	return count, nil
}

// PlaceBootstrapsPass runs PlaceBootstraps on its own (SelectParams runs it
// when it chooses bootstrapping parameters).
type PlaceBootstrapsPass struct{}

func (PlaceBootstrapsPass) Name() string { return "place-bootstraps" }

func (PlaceBootstrapsPass) Run(f *ir.Func, c *Context) error {
	if l := f.BootstrapLevel(); l > 0 {
		_, err := PlaceBootstraps(f, l)
		return err
	}
	return nil
}

// setCircuitAttrs records the bootstrapping parameters as function attributes
// (bootstrap_level and btp_*), which the backend copies into the plan.
func setCircuitAttrs(f *ir.Func, b *BootstrapInfo) {
	i64 := func(v []int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	c := b.Circuit
	f.Attrs["bootstrap_level"] = int64(b.Levels)
	f.Attrs["btp_log_n"] = int64(c.LogN)
	f.Attrs["btp_log_p"] = i64(c.LogP)
	f.Attrs["btp_c2s"] = i64(c.CoeffsToSlots)
	f.Attrs["btp_s2c"] = i64(c.SlotsToCoeffs)
	f.Attrs["btp_params"] = []int64{int64(c.EvalModLogScale), int64(c.EphemeralWeight), int64(c.LogMessageRatio), int64(c.K), int64(c.Mod1Degree), int64(c.DoubleAngle), int64(c.Mod1InvDegree)}
	f.Attrs["btp_lower_bound"] = int64(b.LowerBound)
}
