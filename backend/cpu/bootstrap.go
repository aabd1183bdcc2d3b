package cpu

import (
	"fmt"

	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// emitBootstrapping copies the bootstrapping parameters that parameter
// selection recorded (function attributes bootstrap_level, btp_*) into the
// plan, and the bootstrapping circuit's Galois elements into its key set
// when the program bootstraps.
func emitBootstrapping(f *ir.Func, p *planpb.Plan) error {
	level := f.BootstrapLevel()
	if level < 0 {
		if p.Keys.Bootstrapping {
			return fmt.Errorf("the program bootstraps but no bootstrapping parameters were selected")
		}
		return nil
	}
	u32 := func(name string) []uint32 {
		var out []uint32
		for _, v := range f.Ints(name) {
			out = append(out, uint32(v))
		}
		return out
	}
	factors := func(name string) []*planpb.BootstrappingFactor {
		var out []*planpb.BootstrappingFactor
		for _, v := range u32(name) {
			out = append(out, &planpb.BootstrappingFactor{LogScales: []uint32{v}})
		}
		return out
	}
	k := u32("btp_params")
	if len(k) != 7 {
		return fmt.Errorf("function attribute btp_params has %d values, want 7", len(k))
	}
	p.Params.Bootstrapping = &planpb.Bootstrapping{
		LogN: uint32(f.Int64("btp_log_n", 0)), LogP: u32("btp_log_p"),
		CoeffsToSlots: factors("btp_c2s"), SlotsToCoeffs: factors("btp_s2c"),
		EvalModLogScale: k[0], EphemeralSecretWeight: k[1], LogMessageRatio: k[2], K: k[3], Mod1Degree: k[4], DoubleAngle: k[5], Mod1InvDegree: k[6],
		OutputLevel: uint32(level),
	}
	if !p.Keys.Bootstrapping {
		return nil
	}
	bp, err := plan.BootstrappingParameters(p.Params)
	if err != nil {
		return err
	}
	p.Keys.BootstrappingGaloisElements = plan.BootstrappingGaloisElements(bp)
	return nil
}
