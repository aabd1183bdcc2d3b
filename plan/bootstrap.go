package plan

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/he/hefloat"
	"github.com/tuneinsight/lattigo/v5/he/hefloat/bootstrapping"

	"github.com/fhec/fhec/plan/planpb"
)

// MaxLogQP is the largest log2(QP) the HE standard allows for a claim of
// `bits` (128, 192 or 256) classical security at ring degree 2^logN; 0 when
// the claim or the ring degree is unknown (tables: validate.go, summary.go).
func MaxLogQP(bits, logN int) float64 {
	switch {
	case bits >= 256:
		return heStandard256[logN]
	case bits >= 192:
		return heStandard192[logN]
	case bits >= 128:
		return heStandard128[logN]
	}
	return 0
}

// BootstrappingLiteral is the Lattigo literal a plan's Bootstrapping describes.
func BootstrappingLiteral(b *planpb.Bootstrapping, residual hefloat.Parameters) bootstrapping.ParametersLiteral {
	ints := func(v []uint32) []int {
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out
	}
	factors := func(fs []*planpb.BootstrappingFactor) [][]int {
		out := make([][]int, len(fs))
		for i, f := range fs {
			out[i] = ints(f.GetLogScales())
		}
		return out
	}
	p := func(v uint32) *int { x := int(v); return &x }
	logSlots := residual.LogMaxSlots()
	return bootstrapping.ParametersLiteral{
		LogN:     p(b.LogN),
		LogP:     ints(b.LogP),
		Xs:       residual.Xs(),
		Xe:       residual.Xe(),
		LogSlots: &logSlots,
		CoeffsToSlotsFactorizationDepthAndLogScales: factors(b.CoeffsToSlots),
		SlotsToCoeffsFactorizationDepthAndLogScales: factors(b.SlotsToCoeffs),
		EvalModLogScale:       p(b.EvalModLogScale),
		EphemeralSecretWeight: p(b.EphemeralSecretWeight),
		Mod1Type:              hefloat.CosDiscrete,
		LogMessageRatio:       p(b.LogMessageRatio),
		K:                     p(b.K),
		Mod1Degree:            p(b.Mod1Degree),
		DoubleAngle:           p(b.DoubleAngle),
		Mod1InvDegree:         p(b.Mod1InvDegree),
	}
}

// BootstrappingParameters builds Lattigo's bootstrapping parameters from a
// plan's Params (whose bootstrapping field must be set) and checks them: ring
// degree, output level, and the security claim over the circuit's modulus.
func BootstrappingParameters(p *planpb.Params) (bootstrapping.Parameters, error) {
	residual, err := CKKSParameters(p)
	if err != nil {
		return bootstrapping.Parameters{}, err
	}
	return bootstrappingParameters(p, residual)
}

func bootstrappingParameters(p *planpb.Params, residual hefloat.Parameters) (bootstrapping.Parameters, error) {
	b := p.GetBootstrapping()
	if b == nil {
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params: no bootstrapping parameters", ErrInvalid)
	}
	switch {
	case b.LogN != p.LogN:
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: log_n %d differs from params.log_n %d (ring switching is not supported)", ErrInvalid, b.LogN, p.LogN)
	case int(b.OutputLevel) != residual.MaxLevel():
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: output_level %d, the residual max level is %d", ErrInvalid, b.OutputLevel, residual.MaxLevel())
	case len(b.LogP) == 0 || len(b.CoeffsToSlots) == 0 || len(b.SlotsToCoeffs) == 0 || b.EvalModLogScale == 0 || b.K == 0 || b.Mod1Degree == 0:
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: log_p, coeffs_to_slots, slots_to_coeffs, eval_mod_log_scale, k and mod1_degree must be set", ErrInvalid)
	case len(b.LogP)+len(b.CoeffsToSlots)+len(b.SlotsToCoeffs)+len(p.Q) > 96:
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: too many primes", ErrInvalid)
	}
	for _, fs := range [][]*planpb.BootstrappingFactor{b.CoeffsToSlots, b.SlotsToCoeffs} {
		for _, f := range fs {
			if len(f.GetLogScales()) == 0 || len(f.GetLogScales()) > 4 || slices.ContainsFunc(f.GetLogScales(), func(s uint32) bool { return s < 20 || s > 61 }) {
				return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: a factor's log scales %v are not 1 to 4 sizes in [20, 61]", ErrInvalid, f.GetLogScales())
			}
		}
	}
	if b.EvalModLogScale > 61 || b.LogMessageRatio > 30 || b.K > 64 || b.Mod1Degree > 255 || b.DoubleAngle > 8 || b.Mod1InvDegree > 31 || slices.ContainsFunc(b.LogP, func(s uint32) bool { return s < 20 || s > 61 }) {
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping: a size is out of range", ErrInvalid)
	}
	var bp bootstrapping.Parameters
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("lattigo panic: %v", r)
			}
		}()
		bp, err = bootstrapping.NewParametersFromLiteral(residual, BootstrappingLiteral(b, residual))
		return err
	}()
	if err != nil {
		return bootstrapping.Parameters{}, fmt.Errorf("%w: params.bootstrapping rejected by Lattigo: %v", ErrInvalid, err)
	}
	if !p.Insecure {
		if max := MaxLogQP(int(p.SecurityBits), int(p.LogN)); bp.BootstrappingParameters.LogQP() > max {
			return bootstrapping.Parameters{}, fmt.Errorf("%w: params: claim %d-bit security but the bootstrapping circuit's log2(QP) = %.1f exceeds the %.0f bits the HE standard allows for N = 2^%d; mark them insecure or shrink the modulus", ErrInvalid, p.SecurityBits, bp.BootstrappingParameters.LogQP(), max, p.LogN)
		}
	}
	return bp, nil
}

// BootstrappingGaloisElements are the Galois elements of the bootstrapping
// circuit's keys, sorted ascending: those of its linear transformations and
// the conjugation (what bootstrapping.Parameters.GenEvaluationKeys makes).
func BootstrappingGaloisElements(bp bootstrapping.Parameters) []uint64 {
	params := bp.BootstrappingParameters
	gal := append(bp.GaloisElements(params), params.GaloisElementForComplexConjugation())
	slices.Sort(gal)
	return slices.Compact(gal)
}

// checkBootstrapping checks params.bootstrapping and keys.bootstrapping and
// returns the level BOOTSTRAP results are at, or -1 when the plan cannot
// bootstrap.
func checkBootstrapping(p *planpb.Plan, residual hefloat.Parameters) (int, error) {
	keys := p.GetKeys()
	if p.Params.GetBootstrapping() == nil {
		if keys.GetBootstrapping() || len(keys.GetBootstrappingGaloisElements()) > 0 {
			return -1, fmt.Errorf("%w: keys: bootstrapping keys requested without params.bootstrapping", ErrInvalid)
		}
		return -1, nil
	}
	bp, err := bootstrappingParameters(p.Params, residual)
	if err != nil {
		return -1, err
	}
	if !keys.GetBootstrapping() {
		return -1, nil
	}
	if want := BootstrappingGaloisElements(bp); !slices.Equal(want, keys.GetBootstrappingGaloisElements()) {
		return -1, fmt.Errorf("%w: keys: bootstrapping_galois_elements (%d) are not the circuit's %d elements", ErrInvalid, len(keys.GetBootstrappingGaloisElements()), len(want))
	}
	return int(p.Params.Bootstrapping.OutputLevel), nil
}
