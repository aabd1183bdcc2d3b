// Package fhec compiles trained ONNX models into plans that run on CKKS
// ciphertexts, and runs them: the Go API that the fhec command is a thin
// shell over.
//
// The flow, as a client and a server see it:
//
//	compiled, _ := fhec.Compile(modelBytes, fhec.CompileOptions{Calibration: &samples})
//	sk, evk, _ := fhec.KeyGen(compiled.Plan)            // client: sk stays here
//	ct, _ := fhec.Encrypt(compiled.Plan, sk, x)         // client
//	out, stats, _ := fhec.Evaluate(compiled.Plan, evk, ct, fhec.EvalOptions{}) // server: evaluation keys only
//	y, _ := fhec.Decrypt(compiled.Plan, sk, out)        // client
package fhec

import (
	"fmt"
	"io"
	"strconv"

	"github.com/fhec/fhec/backend/cpu"
	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/internal/tensorio"
	"github.com/fhec/fhec/internal/vec"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/passes"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
	"github.com/fhec/fhec/sim"
)

// Tensor is a dense float64 tensor in row-major order.
type Tensor = tensorio.Tensor

// CompileOptions control compilation.
type CompileOptions struct {
	// Calibration holds representative inputs, shaped [N, ...model input
	// without its batch dim] (or one sample in the model's input shape).
	// Activation ranges are measured on them. Nil: documented default ranges
	// and a warning.
	Calibration *Tensor
	// ActivationDegree is the polynomial degree for ReLU. 0 chooses it: the
	// lowest degree that meets Precision, raised to the largest of
	// AutoDegrees that needs no larger CKKS ring (accuracy for free in ring
	// size).
	ActivationDegree int
	// Precision is the activation fit target (see passes.Context.Precision;
	// 0: passes.DefaultReluPrecision for ReLU, the smooth tolerance otherwise).
	Precision float64
	// RangeMargin and RangeFloor tune activation ranges (see passes.Context).
	RangeMargin, RangeFloor float64
	// Batch is the number of samples per ciphertext (0: as many as fit, for
	// throughput; 1: latency mode, where dense layers use the free slots).
	Batch int
	// FeatureMajor packs one ciphertext per input element, each holding that
	// element of N/2 samples (4096 at logN 13): dense layers and convolutions
	// become weighted sums of ciphertexts, with no rotation and no Galois
	// key. The highest throughput for large batches, the worst latency for
	// a few samples; Batch is then ignored.
	FeatureMajor bool
	// Insecure allows parameters below 128-bit security (tests only; the plan says so).
	// Programs too deep for secure parameters without bootstrapping get small
	// insecure bootstrapping parameters (seconds per bootstrap).
	Insecure bool
	// Security is the classical security target: 128 (0), 192 or 256 bits.
	Security int
	// Costs are the operation costs that weigh the packing choices, per ring
	// degree (nil: costmodel.Default). `fhec bench --calibrate` measures a
	// machine's; the plan's metadata names the table used.
	Costs *costmodel.Table
	// DumpAfter names passes after which the IR is written to Dump ("all": every pass).
	DumpAfter []string
	Dump      io.Writer
}

// Compiled is the result of Compile.
type Compiled struct {
	Plan        *planpb.Plan
	Warnings    []string
	Activations []passes.ActivationFit
	Params      *passes.Params
	// PredictedErrors bounds, per output, the deviation from the exact model
	// that the fitted polynomials can cause (CKKS noise comes on top).
	PredictedErrors []float64
	// IR is the final ckks-level function (for inspection and simulation).
	IR *ir.Func
}

// Compile lowers an ONNX model to a CPU plan.
func Compile(model []byte, opt CompileOptions) (*Compiled, error) {
	f, err := frontend.Load(model, frontend.Options{})
	if err != nil {
		return nil, err
	}
	return CompileFunc(f, opt)
}

// AutoDegrees are the ReLU degrees tried when CompileOptions.ActivationDegree is 0.
var AutoDegrees = []int{63, 31}

// AccurateDegrees are tried, in order, when the fitted ReLUs change the
// model's decisions on the calibration samples (see argmaxAgreement).
var AccurateDegrees = []int{127}

// MinArgmaxAgreement is the share of calibration samples on which the
// fitted model must pick the exact model's largest output; below it a
// higher degree is tried, taken when it agrees more at no more bootstraps
// and the same ring, and otherwise suggested in a warning with its cost.
const MinArgmaxAgreement = 0.99

// CompileFunc compiles a tensor-level IR function (as the frontend makes it).
// f is not modified.
func CompileFunc(f *ir.Func, opt CompileOptions) (*Compiled, error) {
	if opt.ActivationDegree != 0 || !hasActivation(f) {
		return compileOnce(f, opt)
	}
	base, err := compileOnce(f, opt)
	if err != nil {
		return nil, err
	}
	chosen := base
	redo := false // the chosen compilation did not dump
	for _, d := range AutoDegrees {
		if d <= minReluDegree(base.Activations) {
			break // every ReLU is already fitted at degree d or more
		}
		o := opt
		o.ActivationDegree = d
		o.DumpAfter = nil
		if c, err := compileOnce(f, o); err == nil && c.Params.LogN <= base.Params.LogN && bootstraps(c) <= bootstraps(base) {
			chosen, redo = c, true
			break
		}
	}
	// Accuracy: a decision the fitted polynomials change is a wrong answer.
	agree, err := argmaxAgreement(chosen, f, opt)
	if err != nil {
		return nil, err
	}
	var advice string
	for _, d := range AccurateDegrees {
		if agree < 0 || agree >= MinArgmaxAgreement || d <= minReluDegree(chosen.Activations) {
			break
		}
		o := opt
		o.ActivationDegree = d
		o.DumpAfter = nil
		c, err := compileOnce(f, o)
		if err != nil || c.Params.LogN > chosen.Params.LogN {
			continue
		}
		a, err := argmaxAgreement(c, f, opt)
		if err != nil {
			return nil, err
		}
		if a <= agree {
			continue
		}
		if bootstraps(c) <= bootstraps(chosen) {
			chosen, agree, redo, advice = c, a, true, ""
			continue
		}
		advice = fmt.Sprintf("; --degree %d agrees on %.1f%% at %d bootstraps instead of %d", d, 100*a, bootstraps(c), bootstraps(chosen))
	}
	if agree >= 0 && agree < MinArgmaxAgreement {
		chosen.Warnings = append(chosen.Warnings, fmt.Sprintf("the fitted activations (degree %d) pick the exact model's largest output on %.1f%% of the calibration samples%s",
			minReluDegree(chosen.Activations), 100*agree, advice))
	}
	if redo && opt.Dump != nil && len(opt.DumpAfter) > 0 {
		o := opt
		o.ActivationDegree = minReluDegree(chosen.Activations)
		return compileOnce(f, o) // once more, dumping
	}
	return chosen, nil
}

// maxAgreementSamples bounds the calibration samples argmaxAgreement reads.
const maxAgreementSamples = 256

// argmaxAgreement is the share of calibration samples on which the compiled
// program without CKKS noise (the fitted polynomials only, simulated) picks
// the same largest element as the exact model, in every output of two or
// more values; -1 when there is nothing to measure (no calibration data, no
// such output, or an activation the simulator cannot match).
func argmaxAgreement(c *Compiled, f *ir.Func, opt CompileOptions) (float64, error) {
	if opt.Calibration == nil {
		return -1, nil
	}
	vector := false
	for _, o := range c.Plan.Outputs {
		vector = vector || plan.OutputLen(o) >= 2
	}
	if !vector {
		return -1, nil
	}
	samples, err := SplitBatch(*opt.Calibration, f.Params[0].Type.Shape)
	if err != nil {
		return 0, fmt.Errorf("calibration data: %w", err)
	}
	if len(samples) > maxAgreementSamples {
		samples = samples[:maxAgreementSamples]
	}
	s, err := sim.New(c.Plan, sim.Options{})
	if err != nil {
		return 0, err
	}
	if !s.ExactReference {
		return -1, nil
	}
	in := make([][][]float64, len(samples))
	for i, x := range samples {
		in[i] = [][]float64{x}
	}
	r, err := s.Simulate(in)
	if err != nil {
		return 0, err
	}
	agree := 0
	for i := range samples {
		same := true
		for o := range r.Noiseless {
			if len(r.Noiseless[o][i]) >= 2 {
				same = same && vec.Argmax(r.Noiseless[o][i]) == vec.Argmax(r.Reference[o][i])
			}
		}
		if same {
			agree++
		}
	}
	return float64(agree) / float64(len(samples)), nil
}

// minReluDegree is the lowest degree of the fitted ReLUs (0: none).
func minReluDegree(acts []passes.ActivationFit) int {
	m := 0
	for _, a := range acts {
		if a.Function == "relu" && (m == 0 || a.Degree < m) {
			m = a.Degree
		}
	}
	return m
}

// bootstraps is the number of bootstraps a compiled program runs.
func bootstraps(c *Compiled) int {
	if b := c.Params.Bootstrap; b != nil {
		return b.Count
	}
	return 0
}

func hasActivation(f *ir.Func) bool {
	for _, op := range f.Ops {
		if op.Code == "relu" {
			return true
		}
	}
	return false
}

func compileOnce(orig *ir.Func, opt CompileOptions) (*Compiled, error) {
	f, err := ir.Parse(ir.Print(orig)) // a private copy: passes rewrite in place
	if err != nil {
		return nil, err
	}
	if len(f.Params) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; fhec supports models with one input", len(f.Params))
	}
	if f.Params[0].Type.NumElements() == 0 {
		return nil, fmt.Errorf("input %%%s has no elements (shape %v)", f.Params[0].Name, f.Params[0].Type.Shape)
	}
	ctx := &passes.Context{ActivationDegree: opt.ActivationDegree, Precision: opt.Precision, Insecure: opt.Insecure, Security: opt.Security,
		RangeMargin: opt.RangeMargin, RangeFloor: opt.RangeFloor, Batch: opt.Batch, FeatureMajor: opt.FeatureMajor, Costs: opt.Costs}
	if opt.Calibration != nil {
		samples, err := SplitBatch(*opt.Calibration, f.Params[0].Type.Shape)
		if err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
		for _, s := range samples {
			ctx.Calibration = append(ctx.Calibration, []ir.Array{{Shape: f.Params[0].Type.Shape, Data: s}})
		}
	}
	pl := &passes.Pipeline{Passes: passes.Standard(), DumpAfter: opt.DumpAfter, Dump: opt.Dump}
	if err := pl.Run(f, ctx); err != nil {
		return nil, err
	}
	var acts []cpu.Activation
	for _, a := range ctx.Activations {
		acts = append(acts, cpu.Activation{Value: a.Value, Function: a.Function, Lo: a.Lo, Hi: a.Hi, Degree: a.Degree, MaxError: a.MaxError})
	}
	props := map[string]string{
		"depth":               strconv.Itoa(ctx.Params.Depth),
		"batch":               strconv.Itoa(ctx.Params.Batch),
		"calibration_samples": strconv.Itoa(len(ctx.Calibration)),
	}
	if b := ctx.Params.Bootstrap; b != nil {
		props["bootstraps"] = strconv.Itoa(b.Count)
		props["bootstrap_lower_bound"] = strconv.Itoa(b.LowerBound)
		props["bootstrap_levels"] = strconv.Itoa(b.Levels)
	}
	if opt.Costs != nil {
		props["cost_table"] = opt.Costs.Machine
	}
	for i, e := range ctx.PredictedErrors {
		props[fmt.Sprintf("output%d_fit_error_bound", i)] = strconv.FormatFloat(e, 'g', 4, 64)
	}
	p, err := cpu.Emit(f, cpu.Options{Activations: acts, Properties: props, Insecure: opt.Insecure})
	if err != nil {
		return nil, err
	}
	return &Compiled{Plan: p, Warnings: ctx.Warnings, Activations: ctx.Activations, Params: ctx.Params, IR: f,
		PredictedErrors: ctx.PredictedErrors}, nil
}

// SplitBatch splits a tensor into flattened samples for a model input of the
// given shape. Accepted: exactly the input shape (one sample), or
// [batch, ...shape without its leading 1], or [batch, ...shape].
func SplitBatch(t Tensor, inShape []int) ([][]float64, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	per := ir.NumElements(inShape)
	want := inShape
	if len(want) > 0 && want[0] == 1 {
		want = want[1:]
	}
	switch {
	case sameDims(t.Shape, inShape):
		return [][]float64{t.Data}, nil
	case len(t.Shape) >= 1 && (sameDims(t.Shape[1:], want) || sameDims(t.Shape[1:], inShape)):
		n := t.Shape[0]
		if n == 0 {
			return nil, fmt.Errorf("no samples (shape %v)", t.Shape)
		}
		out := make([][]float64, n)
		for i := range out {
			out[i] = t.Data[i*per : (i+1)*per]
		}
		return out, nil
	}
	return nil, fmt.Errorf("shape %v does not match the model input %v: want [batch, %s] or %v",
		t.Shape, inShape, ir.ShapeString(want), inShape)
}

func sameDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
