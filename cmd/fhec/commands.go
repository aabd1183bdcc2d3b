package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/internal/tensorio"
	"github.com/fhec/fhec/passes"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/runtime"
)

func newCompile() *cobra.Command {
	var out, calib, dumpIR, costs string
	var dumpAfter []string
	var degree, batch int
	var featureMajor bool
	var precision float64
	var insecure bool
	var security int
	cmd := &cobra.Command{
		Use:   "compile model.onnx -o model.plan [--calibration x.npy]",
		Short: "Compile an ONNX model into a plan",
		Long: `Compile an ONNX model into a plan file for the CPU runtime.

Activations (ReLU) become polynomials fitted on the ranges the calibration
inputs produce (--calibration: .npy, .pb or .json, shaped [N, ...model input
without its batch dim]). Without calibration data a default range of
[-8, 8] is assumed, and a warning says so. CKKS parameters are chosen at
128-bit security unless --insecure (tests only).

Passes, for --dump-after: ` + strings.Join(passes.Names(passes.Standard()), ", ") + `, all.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			model, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".plan"
			}
			opt := fhec.CompileOptions{ActivationDegree: degree, Precision: precision, Insecure: insecure, Batch: batch, FeatureMajor: featureMajor, Security: security, DumpAfter: dumpAfter, Dump: cmd.OutOrStdout()}
			if calib != "" {
				t, err := tensorio.ReadFile(calib)
				if err != nil {
					return fmt.Errorf("calibration: %w", err)
				}
				opt.Calibration = &t
			}
			var costsUsed string
			if opt.Costs, costsUsed, err = loadCosts(costs); err != nil {
				return fmt.Errorf("--costs: %w", err)
			}
			start := time.Now()
			c, err := fhec.Compile(model, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			for _, w := range c.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "fhec: warning:", w)
			}
			if err := plan.WriteFile(out, c.Plan); err != nil {
				return err
			}
			if dumpIR != "" {
				if err := os.WriteFile(dumpIR, []byte(printIR(c)), 0o644); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "compiled %s -> %s in %s\n", args[0], out, time.Since(start).Round(time.Millisecond))
			if costsUsed != "" {
				fmt.Fprintf(w, "  packing weighed with the cost table %s (%s)\n", costsUsed, opt.Costs.Machine)
			}
			describe(w, c.Plan)
			if err := checkMemory(c.Plan, "key generation", sysmem.ClientPeak, false); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "fhec: warning: on this machine,", err)
			} else if err := checkMemory(c.Plan, "evaluation", sysmem.ServerPeak, false); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "fhec: warning: on this machine,", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "plan file to write (default: model name with .plan)")
	cmd.Flags().StringVar(&calib, "calibration", "", "representative inputs for activation ranges (.npy, .pb, .json)")
	cmd.Flags().IntVar(&degree, "degree", 0, "polynomial degree of the fitted activations (0: the lowest meeting --precision, raised while the ring size allows)")
	cmd.Flags().Float64Var(&precision, "precision", 0, "fit error target of the activations, relative to their range (0: the default target)")
	cmd.Flags().IntVar(&batch, "batch", 0, "samples per ciphertext: 0 = as many as fit (throughput), 1 = latency mode")
	cmd.Flags().BoolVar(&featureMajor, "feature-major", false, "one ciphertext per input element holding N/2 samples: no rotations, highest throughput for thousands of samples")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow parameters below 128-bit security (tests only)")
	cmd.Flags().IntVar(&security, "security", 128, "classical security level in bits: 128, 192 or 256 (HomomorphicEncryption.org table)")
	cmd.Flags().StringVar(&costs, "costs", "", "cost table to weigh packing choices with (default: the one fhec bench --calibrate wrote to the user config dir if any, else the shipped one; 'shipped': the shipped one)")
	cmd.Flags().StringSliceVar(&dumpAfter, "dump-after", nil, "print the IR after these passes (or 'all')")
	cmd.Flags().StringVar(&dumpIR, "dump-ir", "", "write the final ckks-level IR text to this file")
	return cmd
}

func newKeygen() *cobra.Command {
	var out string
	var skipMemory bool
	cmd := &cobra.Command{
		Use:   "keygen model.plan -o keys/",
		Short: "Generate keys: keys/secret.key (client only) and keys/eval.key (server)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("keygen needs -o DIR")
			}
			r, err := fhec.LoadRuntime(args[0])
			if err != nil {
				return err
			}
			if err := checkMemory(r.Plan(), "key generation", sysmem.ClientPeak, skipMemory); err != nil {
				return err
			}
			start := time.Now()
			stop := spinner(cmd.ErrOrStderr(), fmt.Sprintf("generating keys (%d rotation keys)", len(r.Plan().Keys.GetGaloisElements())))
			var progress runtime.Progress
			if r.NeedsBootstrapping() {
				stop() // a progress bar instead
				stop = func() { fmt.Fprintln(cmd.ErrOrStderr()) }
				progress = bootstrapProgress(cmd.ErrOrStderr())
			}
			sk, evk, err := r.KeyGenWithProgress(progress)
			stop()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			skPath, evkPath := filepath.Join(out, "secret.key"), filepath.Join(out, "eval.key")
			if err := writeSecret(skPath, sk); err != nil {
				return err
			}
			if err := runtime.WriteFile(evkPath, evk); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "keys in %s (%s): %s (client only, keep private), %s (%s, for the server)\n",
				out, time.Since(start).Round(time.Millisecond), skPath, evkPath, fileSize(evkPath))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "directory for secret.key and eval.key")
	cmd.Flags().BoolVar(&skipMemory, "skip-memory-check", false, "generate the keys even when their estimated size exceeds the available memory")
	return cmd
}

// writeSecret writes the secret key readable by its owner only.
func writeSecret(path string, sk *fhec.SecretKey) error {
	b, err := sk.MarshalBinary()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func newEncrypt() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "encrypt model.plan --key keys/secret.key x.npy -o x.ct",
		Short: "Encrypt inputs [batch, ...model input without its batch dim] (.npy, .pb, .json)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" || out == "" {
				return fmt.Errorf("encrypt needs --key and -o")
			}
			r, sk, err := loadClient(args[0], key)
			if err != nil {
				return err
			}
			x, err := tensorio.ReadFile(args[1])
			if err != nil {
				return err
			}
			start := time.Now()
			ct, err := r.EncryptTensor(sk, x)
			if err != nil {
				return err
			}
			if err := runtime.WriteFile(out, ct); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "encrypted %d samples into %d ciphertexts -> %s (%s, %s)\n",
				ct.Samples(), r.Groups(ct.Samples())*ct.Rows(), out, fileSize(out), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "secret key (from keygen)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "ciphertext file to write")
	return cmd
}

// loadServer reads what `run` evaluates: the plan, the evaluation keys and
// the input ciphertexts (out: the output path, which must be given).
func loadServer(planPath, evkPath, ctPath, out string, skipMemory bool) (*fhec.Runtime, *fhec.EvaluationKeys, *fhec.Ciphertexts, error) {
	if evkPath == "" || out == "" {
		return nil, nil, nil, fmt.Errorf("run needs --eval-key and -o")
	}
	r, err := fhec.LoadRuntime(planPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkMemory(r.Plan(), "evaluation", sysmem.ServerPeak, skipMemory); err != nil {
		return nil, nil, nil, err
	}
	evk, err := r.ReadEvaluationKeys(evkPath)
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := r.ReadCiphertexts(ctPath)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, evk, in, nil
}

func newRun() *cobra.Command {
	var evkPath, out string
	var workers int
	var skipMemory bool
	cmd := &cobra.Command{
		Use:   "run model.plan --eval-key keys/eval.key x.ct -o y.ct",
		Short: "Evaluate the plan on encrypted inputs (server side: evaluation keys only)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, evk, in, err := loadServer(args[0], evkPath, args[1], out, skipMemory)
			if err != nil {
				return err
			}
			res, st, err := r.Evaluate(evk, in, fhec.EvalOptions{Workers: workers})
			if err != nil {
				return err
			}
			if err := runtime.WriteFile(out, res); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "evaluated %d samples (%d groups of %d input ciphertexts, %d workers) in %s -> %s\n", in.Samples(), st.Groups, in.Rows(), st.Workers, st.Wall.Round(time.Millisecond), out)
			printCounts(w, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&evkPath, "eval-key", "", "evaluation keys (from keygen)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "result ciphertext file to write")
	cmd.Flags().IntVar(&workers, "workers", 0, "ciphertexts evaluated in parallel (default: all cores)")
	cmd.Flags().BoolVar(&skipMemory, "skip-memory-check", false, "evaluate even when the estimated peak memory exceeds the available memory")
	return cmd
}

func printCounts(w io.Writer, st *fhec.Stats) {
	o := st.Ops
	fmt.Fprintf(w, "  ops: %d rotations, %d ct-ct mults, %d ct-pt mults, %d rescales, %d relinearizations, %d key switches, %d bootstraps\n",
		o.Rotations, o.CtCtMults, o.CtPtMults, o.Rescales, o.Relinearizations, o.KeySwitches, o.Bootstraps)
}

// loadClient loads a plan and the client's secret key made for it.
func loadClient(planPath, keyPath string) (*fhec.Runtime, *fhec.SecretKey, error) {
	r, err := fhec.LoadRuntime(planPath)
	if err != nil {
		return nil, nil, err
	}
	sk, err := r.ReadSecretKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	return r, sk, nil
}

func newDecrypt() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "decrypt model.plan --key keys/secret.key y.ct -o y.npy",
		Short: "Decrypt results into [batch, ...output without its batch dim] (.npy float64, .pb, .json)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" || out == "" {
				return fmt.Errorf("decrypt needs --key and -o")
			}
			r, sk, err := loadClient(args[0], key)
			if err != nil {
				return err
			}
			ct, err := r.ReadCiphertexts(args[1])
			if err != nil {
				return err
			}
			y, err := r.DecryptTensor(sk, ct)
			if err != nil {
				return err
			}
			if err := tensorio.WriteFile(out, y); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "decrypted %v -> %s\n", y.Shape, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "secret key (from keygen)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output tensor file (.npy, .pb, .json)")
	return cmd
}

func fileSize(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return sysmem.Bytes(st.Size())
}
