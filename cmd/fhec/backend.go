package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec"
	cudabackend "github.com/fhec/fhec/backend/cuda"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/runtime"
	cudart "github.com/fhec/fhec/runtime/cuda"
)

// addBackendFlags gives `compile`, `run` and `bench` a --backend flag (cpu, cuda).
//
//	compile --backend cuda   also lowers the plan to a kernel schedule and
//	                         records it in the plan's metadata (no GPU needed)
//	run --backend cuda       runs the plan on the GPU kernels (same output
//	                         bytes as the CPU); without a CUDA driver it fails
//	                         with "no CUDA driver found: ...; use --backend cpu"
//	bench --backend cuda     single-sample latency on the GPU kernels, beside
//	                         the CPU runtime's (same keys, same ciphertext)
func addBackendFlags(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "compile":
			wrapBackend(cmd, compileCUDA)
		case "run":
			wrapBackend(cmd, runCUDA)
		case "bench":
			wrapBackend(cmd, benchCUDA)
		}
	}
}

func wrapBackend(cmd *cobra.Command, cuda func(cmd *cobra.Command, args []string, cpu func() error) error) {
	var backend string
	cmd.Flags().StringVar(&backend, "backend", "cpu", "execution backend: cpu (Lattigo) or cuda (NVIDIA GPU kernels)")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch strings.ToLower(backend) {
		case "cpu", "":
			return run(cmd, args)
		case "cuda":
			return cuda(cmd, args, func() error { return run(cmd, args) })
		}
		return fmt.Errorf("unknown --backend %q (cpu or cuda)", backend)
	}
}

// compileCUDA compiles as for the CPU, then adds the kernel schedule.
func compileCUDA(cmd *cobra.Command, args []string, cpu func() error) error {
	if err := cpu(); err != nil {
		return err
	}
	out, _ := cmd.Flags().GetString("output")
	if out == "" {
		out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".plan"
	}
	p, err := plan.ReadFile(out)
	if err != nil {
		return err
	}
	s, err := cudabackend.Build(p)
	if err != nil {
		return err
	}
	cudabackend.Attach(p, s)
	if err := plan.WriteFile(out, p); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), s.Summary())
	return nil
}

// runCUDA opens the GPU first, so that a machine without one fails clearly
// before any work; then runs the plan instruction by instruction on the
// kernels (POLY on the host), with the CPU runtime's results.
func runCUDA(cmd *cobra.Command, args []string, cpu func() error) error {
	dev, err := cudart.OpenDriver(0)
	if err != nil {
		return err
	}
	defer dev.Close()
	evkPath, _ := cmd.Flags().GetString("eval-key")
	out, _ := cmd.Flags().GetString("output")
	skipMemory, _ := cmd.Flags().GetBool("skip-memory-check")
	r, evk, in, err := loadServer(args[0], evkPath, args[1], out, skipMemory)
	if err != nil {
		return err
	}
	start := time.Now()
	res, st, err := cudart.Evaluate(dev, r.Context, evk, in)
	if err != nil {
		return fmt.Errorf("cuda backend on %s: %w", dev.Name(), err)
	}
	if err := runtime.WriteFile(out, res); err != nil {
		return err
	}
	launches := 0
	for _, n := range st.Launches {
		launches += n
	}
	fmt.Fprintf(cmd.OutOrStdout(), "evaluated %d samples on %s in %s -> %s (%d kernel launches; %d POLY and %d LINEAR on the host)\n",
		in.Samples(), dev.Name(), time.Since(start).Round(time.Millisecond), out, launches, st.HostPolys, st.HostLinears)
	return nil
}

// benchCUDA opens the GPU first (a machine without one fails clearly), then
// times the plan on one ciphertext holding one sample on the kernels and on
// the CPU runtime, side by side.
func benchCUDA(cmd *cobra.Command, args []string, _ func() error) error {
	dev, err := cudart.OpenDriver(0)
	if err != nil {
		return err
	}
	defer dev.Close()
	reps, _ := cmd.Flags().GetInt("reps")
	reps = max(reps, 1)
	p, err := plan.ReadFile(args[0])
	if err != nil {
		return err
	}
	r, err := fhec.NewRuntime(p)
	if err != nil {
		return err
	}
	sk, evk, err := r.KeyGen()
	if err != nil {
		return err
	}
	x := make([]float64, plan.InputLen(p.Inputs[0]))
	for i := range x {
		x[i] = float64(i%7)/7 - 0.5
	}
	in, err := r.Encrypt(sk, [][][]float64{{x}})
	if err != nil {
		return err
	}
	median := func(f func() error) (time.Duration, error) {
		var ts []time.Duration
		for i := 0; i < reps; i++ {
			t0 := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			ts = append(ts, time.Since(t0))
		}
		slices.Sort(ts)
		return ts[len(ts)/2], nil
	}
	var st *cudart.ExecStats
	gpu, err := median(func() error {
		_, s, err := cudart.Evaluate(dev, r.Context, evk, in)
		st = s
		return err
	})
	if err != nil {
		return fmt.Errorf("cuda backend on %s: %w", dev.Name(), err)
	}
	cpu, err := median(func() error {
		_, _, err := r.Evaluate(evk, in, fhec.EvalOptions{})
		return err
	})
	if err != nil {
		return err
	}
	launches := 0
	for _, n := range st.Launches {
		launches += n
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s on %s: latency (1 sample) %.2f ms on the GPU, %.2f ms on the CPU (median of %d); %d kernel launches, %d POLY on the host\n",
		args[0], dev.Name(), float64(gpu.Microseconds())/1000, float64(cpu.Microseconds())/1000, reps, launches, st.HostPolys)
	return nil
}
