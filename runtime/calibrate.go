package runtime

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"gonum.org/v1/gonum/mat"

	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/plan"
)

// CalibrateOptions configure Calibrate.
type CalibrateOptions struct {
	// LogN is the ring degree to measure.
	LogN int
	// Reps: timed repetitions of each measurement, whose median is kept (0: 9).
	Reps int
	// Insecure allows a chain beyond 128-bit security, for ring degrees
	// too small to hold one at it (tests).
	Insecure bool
	// Progress, if set, is told each finished round of measurements.
	Progress func(done, total int)
}

// calibrationShapes are the (baby steps, giant steps) of the linear
// transforms whose times the linear-transform costs are fitted to: n1 = b
// and b*g consecutive diagonals give b-1 hoisted baby rotations and g-1
// giant ones. Their offsets need 18 rotation keys.
var calibrationShapes = [][2]int{{1, 4}, {1, 8}, {4, 1}, {8, 1}, {4, 4}, {8, 4}, {4, 8}, {8, 8}}

// maxCalibrationLevels bounds the chain measured: the key-switching costs
// grow with the level, their ratios much less, and a full chain at logN 16
// would need gigabytes of keys.
const maxCalibrationLevels = 6

// Calibrate measures on one core what each CKKS operation costs at ring
// degree o.LogN, with the evaluator the runtime uses, at the top level of a
// chain of 40-bit primes (as many as 128-bit security allows, at most
// maxCalibrationLevels, on a 50-bit base prime, with one 50-bit
// key-switching prime): a rotation, a ciphertext product with
// relinearization, a rescale, an addition, a diagonal of Lattigo's
// double-hoisted linear transform (its product and accumulation in QP); and
// the marginal costs of a baby step and a giant step there, fitted by least
// squares to transforms of several shapes.
func Calibrate(o CalibrateOptions) (costmodel.Entry, error) {
	if o.LogN < 10 || o.LogN > 17 {
		return costmodel.Entry{}, fmt.Errorf("calibrate: logN %d outside [10, 17]", o.LogN)
	}
	if o.Reps <= 0 {
		o.Reps = 9
	}
	levels := min(maxCalibrationLevels, int((plan.MaxLogQP(128, o.LogN)-100)/40))
	if levels < 1 {
		if !o.Insecure {
			return costmodel.Entry{}, fmt.Errorf("calibrate: logN %d holds no chain of one level at 128-bit security (the smallest is logN 13); measuring it needs --insecure", o.LogN)
		}
		levels = 2
	}
	logQ := []int{50}
	for range levels {
		logQ = append(logQ, 40)
	}
	params, err := hefloat.NewParametersFromLiteral(hefloat.ParametersLiteral{LogN: o.LogN, LogQ: logQ, LogP: []int{50}, LogDefaultScale: 40})
	if err != nil {
		return costmodel.Entry{}, fmt.Errorf("calibrate: %w", err)
	}
	slots := params.MaxSlots()
	level := params.MaxLevel()

	// The shapes' diagonals and the rotations they need (and 1, the fold).
	diags := make([]hefloat.Diagonals[float64], len(calibrationShapes))
	rotations := map[int]bool{1: true} // nonzero rotation offsets
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() []float64 {
		v := make([]float64, slots)
		for i := range v {
			v[i] = rng.Float64()*2 - 1
		}
		return v
	}
	for k, s := range calibrationShapes {
		diags[k] = hefloat.Diagonals[float64]{}
		for i := range s[0] * s[1] {
			diags[k][i] = random()
		}
		_, babies, giants := he.BSGSIndex(diags[k].DiagonalsIndexList(), slots, s[0])
		for _, r := range append(babies, giants...) {
			if r != 0 {
				rotations[r] = true
			}
		}
	}
	galEls := params.GaloisElements(slices.Sorted(maps.Keys(rotations)))

	kgen := rlwe.NewKeyGenerator(params)
	sk := kgen.GenSecretKeyNew()
	evk := rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(sk), kgen.GenGaloisKeysNew(galEls, sk)...)
	ecd := hefloat.NewEncoder(params)
	eval := hefloat.NewEvaluator(params, evk)
	lte := hefloat.NewLinearTransformationEvaluator(eval)

	pt := hefloat.NewPlaintext(params, level)
	if err := ecd.Encode(random(), pt); err != nil {
		return costmodel.Entry{}, fmt.Errorf("calibrate: %w", err)
	}
	ct, err := rlwe.NewEncryptor(params, sk).EncryptNew(pt)
	if err != nil {
		return costmodel.Entry{}, fmt.Errorf("calibrate: %w", err)
	}
	out := hefloat.NewCiphertext(params, 1, level)
	prod := hefloat.NewCiphertext(params, 1, level)

	// A diagonal of a double-hoisted linear transform: the product of a
	// rotated ciphertext's two polynomials and the plaintext diagonal,
	// accumulated in QP without reduction (Lattigo's inner loop); timed 64
	// at a time, for the clock's sake.
	ringQP := params.RingQP().AtLevel(level, params.MaxLevelP())
	diagPt, diagC0, diagC1, acc0, acc1 := ringQP.NewPoly(), ringQP.NewPoly(), ringQP.NewPoly(), ringQP.NewPoly(), ringQP.NewPoly()
	const diagonalsTimed = 64
	e := costmodel.Entry{LogN: o.LogN, Levels: levels}
	times := make([]float64, len(calibrationShapes)) // the linear transforms'
	type measurement struct {
		into *float64 // the median time, in ms
		per  float64  // ops per timed run
		op   func() error
	}
	ms := []measurement{
		{&e.Rotation, 1, func() error { return eval.Rotate(ct, 1, out) }},
		{&e.CtMult, 1, func() error { return eval.MulRelin(ct, ct, prod) }},
		{&e.PtMult, diagonalsTimed, func() error {
			for range diagonalsTimed {
				ringQP.MulCoeffsMontgomeryLazyThenAddLazy(diagPt, diagC0, acc0)
				ringQP.MulCoeffsMontgomeryLazyThenAddLazy(diagPt, diagC1, acc1)
			}
			return nil
		}},
		{&e.Rescale, 1, func() error { return eval.Rescale(prod, out) }},
		{&e.Add, 1, func() error { return eval.Add(ct, ct, out) }},
	}
	for k, s := range calibrationShapes {
		lt, err := NewLinearTransformation(params, ecd, diags[k], s[0], level, float64(params.Q()[level]))
		if err != nil {
			return costmodel.Entry{}, fmt.Errorf("calibrate: %w", err)
		}
		ms = append(ms, measurement{&times[k], 1, func() error { return lte.Evaluate(ct, lt, out) }})
	}
	// Rounds of every op in turn, the first untimed (warm caches, lazily
	// built tables): a machine whose speed drifts slows all alike, and the
	// ratios the compiler uses hold better than separate runs' would.
	ts := make([][]float64, len(ms))
	for round := range o.Reps + 1 {
		for k, m := range ms {
			t0 := time.Now()
			if err := m.op(); err != nil {
				return costmodel.Entry{}, fmt.Errorf("calibrate: %w", err)
			}
			if round > 0 {
				ts[k] = append(ts[k], float64(time.Since(t0).Nanoseconds())/1e6/m.per)
			}
		}
		if o.Progress != nil {
			o.Progress(round+1, o.Reps+1)
		}
	}
	for k, m := range ms {
		slices.Sort(ts[k])
		*m.into = ts[k][len(ts[k])/2]
	}
	if e.BabyStep, e.GiantStep, err = fitLinearCosts(calibrationShapes, times, e.PtMult); err != nil {
		return costmodel.Entry{}, fmt.Errorf("calibrate: logN %d: %w", o.LogN, err)
	}
	return e, nil
}

// fitLinearCosts fits the times of linear transforms of the given (baby
// steps, giant steps) shapes, b*g diagonals each, to
//
//	T = fixed + baby (b-1) + giant (g-1) + diagonal b*g
//
// by least squares, with the cost of a diagonal measured apart (with it
// fitted too, its small share of the times made it the first victim of a
// busy machine), and returns the marginal costs of a baby and a giant step.
// A cost that is not positive means the times were too noisy to tell them
// apart.
func fitLinearCosts(shapes [][2]int, times []float64, diagonal float64) (baby, giant float64, err error) {
	a := mat.NewDense(len(shapes), 3, nil)
	t := mat.NewVecDense(len(shapes), nil)
	for k, s := range shapes {
		a.SetRow(k, []float64{1, float64(s[0] - 1), float64(s[1] - 1)})
		t.SetVec(k, times[k]-diagonal*float64(s[0]*s[1]))
	}
	var c mat.VecDense
	if err := c.SolveVec(a, t); err != nil {
		return 0, 0, fmt.Errorf("fitting the linear-transform costs: %w", err)
	}
	baby, giant = c.AtVec(1), c.AtVec(2)
	for _, v := range []struct {
		name string
		x    float64
	}{{"baby step", baby}, {"giant step", giant}} {
		if !(v.x > 0) || math.IsInf(v.x, 0) {
			return 0, 0, fmt.Errorf("the fitted cost of a %s is %.3g ms: the machine was too busy to measure; run it again on a quiet machine or with more --reps", v.name, v.x)
		}
	}
	return baby, giant, nil
}
