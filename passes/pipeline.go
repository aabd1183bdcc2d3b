// Package passes holds fhec's IR-to-IR transformations. Each pass lives in
// its own file whose doc comment says what it requires and what it
// guarantees. A Pipeline runs passes in order, verifies the IR after each,
// and can dump the IR text after any of them.
package passes

import (
	"fmt"
	"io"
	"strings"

	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/ir"
)

// Pass is one transformation.
type Pass interface {
	Name() string
	Run(f *ir.Func, c *Context) error
}

// Context carries the compilation options and what passes learn about the
// program for the ones that follow (and for the compile report).
type Context struct {
	// Calibration holds sample inputs for range analysis: Calibration[i] is one
	// sample per function parameter, in parameter order. Empty: default ranges.
	Calibration [][]ir.Array
	// ActivationDegree is the polynomial degree used for ReLU and smooth
	// activations (0: the lowest degree that meets Precision).
	ActivationDegree int
	// Precision is the fit target: max |f - p| on the fitted interval,
	// relative to the range R for ReLU and to max |f| (at least 1) for
	// smooth activations (0: DefaultReluPrecision for ReLU, SmoothTolerance
	// for the others).
	Precision float64
	// DefaultRange is the input range assumed for activations without
	// calibration data (0: [-DefaultActivationRange, DefaultActivationRange]).
	DefaultRange float64
	// RangeMargin widens calibrated ranges by this fraction of their width on
	// each side, for inputs a little beyond those seen (0: DefaultRangeMargin).
	RangeMargin float64
	// RangeFloor: no element's activation range is taken smaller than this
	// fraction of its layer's largest (0: chosen per layer from the
	// calibration data, see passes.LOOTolerance; 1: layer-wide ranges).
	RangeFloor float64
	// SmoothTolerance is the fit error target for smooth activations
	// (sigmoid, tanh, GELU, ...), relative to their largest magnitude on the
	// interval (0: DefaultSmoothTolerance).
	SmoothTolerance float64
	// Batch is the number of samples packed per ciphertext (rounded up to a
	// power of two). 0: as many as fit (throughput); 1: latency mode, where
	// dense layers use the free slots to split their rows.
	Batch int
	// FeatureMajor packs one ciphertext per tensor element, each holding
	// that element of N/2 samples (see lower_feature_major.go): dense layers
	// become weighted sums of ciphertexts with no rotation, the highest
	// throughput for large batches, the worst latency for one sample. Batch
	// is then N/2.
	FeatureMajor bool
	// Insecure allows parameters below 128-bit security (tests only); deep
	// programs then get small insecure bootstrapping parameters.
	Insecure bool
	// Security is the classical security target in bits: 128 (0), 192 or 256.
	Security int
	// MinLogN forces a minimum ring degree (0: smallest secure one).
	MinLogN int
	// Costs are the operation costs that weigh packing choices, per ring
	// degree (nil: costmodel.Default; `fhec bench --calibrate` measures a
	// machine's).
	Costs *costmodel.Table

	// Warnings collects non-fatal findings for the user.
	Warnings []string
	// Activations records every fitted activation (for the report and the plan).
	Activations []ActivationFit
	// PredictedErrors bounds each result's deviation caused by the fits.
	PredictedErrors []float64
	// Params is the result of parameter selection.
	Params *Params
}

// packingCosts are the weights of the cost table's entry nearest logN.
func (c *Context) packingCosts(logN int) packingCosts {
	if c == nil || c.Costs == nil {
		return defaultCosts
	}
	return packingCosts{c.Costs.At(logN).Weights()}
}

// Warn records a warning.
func (c *Context) Warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// Pipeline runs passes in order.
type Pipeline struct {
	Passes []Pass
	// DumpAfter names passes after which the IR text is written to Dump
	// ("all" for every pass).
	DumpAfter []string
	Dump      io.Writer
}

// Run runs every pass, verifying the IR after each.
func (p *Pipeline) Run(f *ir.Func, c *Context) error {
	if err := ir.Verify(f); err != nil {
		return fmt.Errorf("input IR: %w", err)
	}
	for _, pass := range p.Passes {
		if err := pass.Run(f, c); err != nil {
			return fmt.Errorf("pass %s: %w", pass.Name(), err)
		}
		if err := ir.Verify(f); err != nil {
			return fmt.Errorf("after pass %s: %w", pass.Name(), err)
		}
		if p.Dump != nil && p.dumps(pass.Name()) {
			fmt.Fprintf(p.Dump, "// ----- IR after %s -----\n%s\n", pass.Name(), ir.PrintWith(f, ir.PrintOptions{ElideConsts: true}))
		}
	}
	return nil
}

func (p *Pipeline) dumps(name string) bool {
	for _, d := range p.DumpAfter {
		if d == "all" || strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// Standard returns the default compilation pipeline, from the frontend's
// tensor-level IR to ckks-level IR ready for a backend.
func Standard() []Pass {
	return []Pass{
		FoldConstants{},
		ClientTail{},
		Canonicalize{},
		ExpandMaxPool{},
		Calibrate{},
		LiftLinear{},
		FitActivations{},
		NormalizePoly{},
		FuseLinear{},
		PredictError{},
		SelectParams{},
		LowerToCKKS{},
		ManageScales{},
	}
}

// Names lists the passes of a pipeline (for --dump-after help).
func Names(ps []Pass) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}
