package main

import (
	"encoding/json"
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/tensorio"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/sim"
)

func newSimulate() *cobra.Command {
	var labelsPath string
	var noNoise, asJSON bool
	var seed uint64
	var workers int
	cmd := &cobra.Command{
		Use:   "simulate model.plan x.npy [--labels y.npy]",
		Short: "Run a plan on cleartext slots with a CKKS noise model: per-layer error, accuracy",
		Long: `Simulate runs the plan's CKKS program on cleartext slot vectors, with a
model of the CKKS noise (encoding, encryption, rescale, key switching,
polynomial evaluation, bootstrapping; calibrated against Lattigo v5), and
compares it with the float64 reference: the same program with every fitted
polynomial replaced by the function it approximates (the model itself).

It prints, per layer, the largest error against the reference and the part
of it that is CKKS noise, the largest polynomial input |t| (the polynomials
are fitted on [-1, 1]: an input beyond it is evaluated anyway and the
result degrades quickly, as a degree-d Chebyshev series grows like
(|t| + sqrt(t^2 - 1))^d), how many inputs left [-1, 1], the largest output
error, and with --labels the accuracy (argmax) of the reference and of the
simulation.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			x, err := tensorio.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("inputs: %w", err)
			}
			if len(p.Inputs) != 1 {
				return fmt.Errorf("the plan has %d inputs; simulate takes plans with one", len(p.Inputs))
			}
			shape := make([]int, len(p.Inputs[0].Shape))
			for i, d := range p.Inputs[0].Shape {
				shape[i] = int(d)
			}
			flat, err := fhec.SplitBatch(x, shape)
			if err != nil {
				return fmt.Errorf("inputs: %w", err)
			}
			var labels []int
			if labelsPath != "" {
				y, err := tensorio.ReadFile(labelsPath)
				if err != nil {
					return fmt.Errorf("labels: %w", err)
				}
				if len(y.Data) != len(flat) {
					return fmt.Errorf("labels: %d labels for %d samples", len(y.Data), len(flat))
				}
				for _, v := range y.Data {
					labels = append(labels, int(v))
				}
			}
			s, err := sim.New(p, sim.Options{Noise: !noNoise, Seed: seed, Workers: workers})
			if err != nil {
				return err
			}
			samples := make([][][]float64, len(flat))
			for i, v := range flat {
				samples[i] = [][]float64{v}
			}
			start := time.Now()
			r, err := s.Simulate(samples)
			if err != nil {
				return err
			}
			rep := report(s, r, labels)
			rep.Seconds = time.Since(start).Seconds()
			w := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				_, err = w.Write(append(b, '\n'))
				return err
			}
			ref := "the float64 model (fitted polynomials replaced by their functions)"
			if !rep.ExactReference {
				ref = "the noiseless program (the activations could not be matched to the plan's metadata)"
			}
			fmt.Fprintf(w, "simulated %d samples in %.1fs (%d slots per group, batch %d); reference: %s\n", rep.Samples, rep.Seconds, s.Slots(), s.Batch(), ref)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "  layer\tkind\tmax error\tof which noise\tmax |poly input|\tinputs out of [-1,1]\t")
			for _, l := range rep.Layers {
				fmt.Fprintf(tw, "  %s\t%s\t%.3g\t%.3g\t%.3g\t%d\t\n", l.Name, l.Kind, l.MaxError, l.MaxNoise, l.MaxPolyInput, l.OutOfRange)
			}
			tw.Flush()
			fmt.Fprintf(w, "  output: max error %.3g (CKKS noise %.3g); samples with a polynomial input out of range: %d\n", rep.MaxOutputError, rep.MaxOutputNoise, rep.OutOfRangeSamples)
			if labels != nil {
				fmt.Fprintf(w, "  accuracy: reference %.2f%%, simulated %.2f%% (%d samples); argmax agreement %.2f%%\n", rep.ReferenceAccuracy, rep.SimulatedAccuracy, rep.Samples, rep.Agreement)
			} else {
				fmt.Fprintf(w, "  argmax agreement with the reference: %.2f%%\n", rep.Agreement)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&labelsPath, "labels", "", "integer class labels, one per sample (.npy, .pb, .json): prints the accuracy")
	cmd.Flags().BoolVar(&noNoise, "no-noise", false, "leave out the CKKS noise model (fitted polynomials only)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the noise model")
	cmd.Flags().IntVar(&workers, "workers", 0, "sample groups simulated in parallel (default: all cores)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return cmd
}

type simLayer struct {
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	MaxError     float64 `json:"max_error"`
	MaxNoise     float64 `json:"max_noise"`
	MaxPolyInput float64 `json:"max_poly_input"`
	OutOfRange   int64   `json:"out_of_range"`
}

type simReport struct {
	Samples           int        `json:"samples"`
	Seconds           float64    `json:"seconds"`
	ExactReference    bool       `json:"exact_reference"`
	Layers            []simLayer `json:"layers"`
	MaxOutputError    float64    `json:"max_output_error"`
	MaxOutputNoise    float64    `json:"max_output_noise"`
	OutOfRangeSamples int        `json:"out_of_range_samples"`
	Agreement         float64    `json:"argmax_agreement_percent"`
	ReferenceAccuracy float64    `json:"reference_accuracy_percent,omitempty"`
	SimulatedAccuracy float64    `json:"simulated_accuracy_percent,omitempty"`
}

func report(s *sim.Simulator, r *sim.Run, labels []int) *simReport {
	rep := &simReport{ExactReference: s.ExactReference, OutOfRangeSamples: r.OutOfRangeSamples}
	for i, l := range s.Layers {
		rep.Layers = append(rep.Layers, simLayer{Name: l.Name, Kind: l.Kind, MaxError: r.LayerError[i], MaxNoise: r.LayerNoise[i],
			MaxPolyInput: r.LayerMaxInput[i], OutOfRange: r.LayerOutOfRange[i]})
	}
	if len(r.Noisy) == 0 {
		return rep
	}
	n := len(r.Noisy[0])
	rep.Samples = n
	agree, okRef, okSim := 0, 0, 0
	for i := 0; i < n; i++ {
		got, ref, clean := r.Noisy[0][i], r.Reference[0][i], r.Noiseless[0][i]
		for k := range got {
			rep.MaxOutputError = math.Max(rep.MaxOutputError, math.Abs(got[k]-ref[k]))
			rep.MaxOutputNoise = math.Max(rep.MaxOutputNoise, math.Abs(got[k]-clean[k]))
		}
		a, b := vec.Argmax(got), vec.Argmax(ref)
		if a == b {
			agree++
		}
		if labels != nil {
			if a == labels[i] {
				okSim++
			}
			if b == labels[i] {
				okRef++
			}
		}
	}
	pct := func(k int) float64 { return 100 * float64(k) / float64(max(n, 1)) }
	rep.Agreement = pct(agree)
	if labels != nil {
		rep.ReferenceAccuracy, rep.SimulatedAccuracy = pct(okRef), pct(okSim)
	}
	return rep
}
