package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

func newInspect() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect model.plan [--json]",
		Short: "Describe a plan: parameters, security, keys and sizes, op counts, layers, cost",
		Long: `Describe a plan file: CKKS parameters, security estimate, levels, the
evaluation keys and their sizes, ciphertext sizes, memory estimates,
instruction counts by kind, the per-layer table, fitted activations and the
estimated cost.

--json prints the same as one JSON object whose fields are documented in
docs/plan-format.md ("fhec inspect --json") and stable: fields may be added,
never renamed or removed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("plan: %w", err)
			}
			s, err := plan.FileSummary(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeSummaryJSON(w, s)
			}
			fmt.Fprintf(w, "%s: plan format %s, produced by %s, sha256 %s\n", args[0], s.FormatVersion, s.Producer, s.PlanSHA256)
			writeSummary(w, s)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object (fields documented in docs/plan-format.md)")
	return cmd
}

// writeSummaryJSON writes s as indented JSON followed by a newline.
func writeSummaryJSON(w io.Writer, s *plan.Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// describe prints what a plan does and costs.
func describe(w io.Writer, p *planpb.Plan) {
	s, err := plan.Summarize(p)
	if err != nil {
		fmt.Fprintf(w, "  (cannot summarize the plan: %v)\n", err)
		return
	}
	writeSummary(w, s)
}

// writeSummary prints a summary as text.
func writeSummary(w io.Writer, s *plan.Summary) {
	sec := fmt.Sprintf("%d-bit security claimed", s.SecurityBits)
	if s.Insecure {
		sec = "INSECURE test parameters"
	}
	est := "below 128 bits"
	if s.SecurityEstimateBits > 0 {
		est = fmt.Sprintf("%d bits", s.SecurityEstimateBits)
	}
	fmt.Fprintf(w, "  CKKS: logN %d (%d slots), log2(QP) %.1f = log2(Q) %.1f + log2(P) %.1f, %d levels, scale 2^%g\n",
		s.LogN, s.Slots, s.LogQP, s.LogQ, s.LogP, s.Levels, s.LogDefaultScale)
	fmt.Fprintf(w, "  security: %s; HE standard estimate for log2(QP) %.1f at N = 2^%d: %s (128-bit limit %.0f); %d bootstraps\n",
		sec, s.LogQP, s.LogN, est, s.HEStandardMaxLogQP, s.Bootstraps)
	for _, in := range s.Inputs {
		if in.Ciphertexts > 1 {
			fmt.Fprintf(w, "  input  %q %v: level %d, feature-major: %d ciphertexts (one per element) per group of %d samples\n", in.Name, in.Shape, in.Level, in.Ciphertexts, in.Batch)
			continue
		}
		placed := ""
		if in.Placed {
			placed = ", placed"
		}
		fmt.Fprintf(w, "  input  %q %v: level %d, %d samples per ciphertext (period %d%s)\n", in.Name, in.Shape, in.Level, in.Batch, in.Period, placed)
	}
	for _, o := range s.Outputs {
		tail := ""
		if len(o.ClientOps) > 0 {
			tail = ", then on the client: " + strings.Join(o.ClientOps, ", ")
		}
		if o.Ciphertexts > 1 {
			tail = fmt.Sprintf(", %d ciphertexts (one per element)", o.Ciphertexts) + tail
		}
		fmt.Fprintf(w, "  output %q %v: level %d%s\n", o.Name, o.Shape, o.Level, tail)
	}
	fmt.Fprintf(w, "  keys: relinearization %v, %d rotation keys; evaluation keys %s (eval.key file %s), secret key %s\n",
		s.Relinearization, s.GaloisKeys, sysmem.Bytes(s.EvalKeyBytes), sysmem.Bytes(s.EvalKeyFileBytes), sysmem.Bytes(s.SecretKeyBytes))
	for _, k := range s.Keys {
		switch k.Kind {
		case "galois":
			fmt.Fprintf(w, "    galois %-8d rotations %-12s %s\n", k.GaloisElement, intList(k.Rotations), sysmem.Bytes(k.Bytes))
		default:
			fmt.Fprintf(w, "    %-36s %s\n", k.Kind, sysmem.Bytes(k.Bytes))
		}
	}
	inCts, outCts := 0, 0
	for _, in := range s.Inputs {
		inCts += in.Ciphertexts
	}
	for _, o := range s.Outputs {
		outCts += o.Ciphertexts
	}
	if inCts > len(s.Inputs) || outCts > len(s.Outputs) {
		fmt.Fprintf(w, "  ciphertexts: input %s, output %s each; per group of %d samples: input file %s, output %s\n", sysmem.Bytes(s.CiphertextBytes), sysmem.Bytes(s.OutputCiphertextBytes),
			s.SamplesPerCiphertext, sysmem.Bytes(int64(inCts)*s.SeededCiphertextBytes), sysmem.Bytes(int64(outCts)*s.OutputCiphertextBytes))
	} else {
		fmt.Fprintf(w, "  ciphertexts: input %s (%s in an input file: seeded), output %s\n", sysmem.Bytes(s.CiphertextBytes), sysmem.Bytes(s.SeededCiphertextBytes), sysmem.Bytes(s.OutputCiphertextBytes))
	}
	fmt.Fprintf(w, "  memory (estimated): server peak %s (keys, %s of plaintexts, %s per worker), client peak %s\n",
		sysmem.Bytes(s.ServerPeakBytes), sysmem.Bytes(s.PlaintextBytes), sysmem.Bytes(s.ServerPerWorkerBytes), sysmem.Bytes(s.ClientPeakBytes))
	kinds := make([]string, 0, len(s.InstructionCounts))
	for k := range s.InstructionCounts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.InstructionCounts[k]))
	}
	fmt.Fprintf(w, "  instructions: %d (%s); %d constants, %d values\n", s.Instructions, strings.Join(parts, ", "), s.Constants, s.ConstantValues)
	c := s.OpCounts
	fmt.Fprintf(w, "  per ciphertext: %d rotations, %d ct-ct mults, %d ct-pt mults, %d rescales, %d key switches, %d bootstraps\n",
		c.Rotations, c.CtCtMults, c.CtPtMults, c.Rescales, c.KeySwitches, c.Bootstraps)
	fmt.Fprintf(w, "  estimated cost: %.3g modular multiplications per ciphertext, %d key switches\n", s.EstimatedModMults, s.EstimatedKeySwitches)
	if len(s.Layers) > 0 {
		fmt.Fprintln(w, "  layers:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "    layer\tkind\tinstr\tlevel in\tlevel out\tlog2 scale\trot\tct-pt\tct-ct\trescale\tfit error\t")
		for _, l := range s.Layers {
			fmt.Fprintf(tw, "    %s\t%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%d\t%.3g\t\n", l.Name, l.Kind, l.Instructions, l.LevelIn, l.LevelOut,
				l.LogScaleOut, l.Rotations, l.CtPtMults, l.CtCtMults, l.Rescales, l.FitMaxError)
		}
		tw.Flush()
	}
	for _, a := range s.Activations {
		fmt.Fprintf(w, "  activation %s: %s -> degree-%d polynomial on [%.4g, %.4g], max fit error %.3g\n", a.Value, a.Function, a.Degree, a.Lo, a.Hi, a.FitMaxError)
	}
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, s.Properties[k])
	}
}

func intList(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
