package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/plan"
)

// benchResult is what `fhec bench --json` prints (documented in README).
type benchResult struct {
	Plan             string  `json:"plan"`
	LogN             int     `json:"logN"`
	SamplesPerCt     int     `json:"samples_per_ciphertext"`
	Workers          int     `json:"workers"`
	LatencyMs        float64 `json:"latency_ms"`        // one sample, server-side evaluation, median
	ThroughputPerS   float64 `json:"throughput_per_s"`  // samples per second, full ciphertexts on all workers
	Rotations        int64   `json:"rotations"`         // per ciphertext evaluation
	HoistedRotations int64   `json:"hoisted_rotations"` // of which shared a decomposition
	RotationsLower   int64   `json:"rotations_lower_bound"`
	CtCtMults        int64   `json:"ct_ct_mults"`
	CtPtMults        int64   `json:"ct_pt_mults"`
	Rescales         int64   `json:"rescales"`
	KeySwitches      int64   `json:"key_switches"`
	Bootstraps       int64   `json:"bootstraps"`
	PeakBytes        uint64  `json:"peak_bytes"` // Go heap in use at its peak while evaluating
	KeygenMs         float64 `json:"keygen_ms"`
	EncodeMs         float64 `json:"encode_ms"` // plaintexts, once per plan
}

func newBench() *cobra.Command {
	var asJSON, calibrate, insecure, skipMemory bool
	var reps, workers int
	var logNs []int
	var costsOut string
	cmd := &cobra.Command{
		Use:   "bench model.plan [--json] | bench --calibrate [--logn 13,14,15] [-o costs.json]",
		Short: "Measure a plan: single-sample latency, batched throughput, op counts, peak memory",
		Long: `Generates keys in memory, encrypts random inputs and evaluates the plan:
latency is the median server-side time for one ciphertext holding one sample
(the plan's instructions spread over all workers); throughput evaluates one
full ciphertext per worker at once (feature-major plans: each group of N/2
samples on all workers, one group after another; --reps defaults to 1 there,
since one sample costs a whole group) and counts samples per second. Op counts
are per ciphertext evaluation, with a lower bound on rotations for the plan's
dense layers (2*sqrt(D)-2 for D diagonals, baby-step giant-step).

With --calibrate (and no plan) it measures instead what each CKKS operation
costs on this machine, on one core, at each ring degree of --logn: a
rotation, a ciphertext product, a rescale, an addition, and a baby step, a
giant step and a diagonal of a hoisted linear transform. It writes them as a
cost table, by default to fhec/costs.json in the user config directory
(~/.config on Linux), where fhec compile finds it: its packing choices then
weigh this machine's costs instead of the shipped ones (-o FILE writes
elsewhere, for compile --costs FILE).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if calibrate && len(args) > 0 {
				return fmt.Errorf("--calibrate measures this machine, not a plan: drop %q", args[0])
			}
			if calibrate {
				return nil
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if calibrate {
				return runCalibrate(cmd, logNs, reps, insecure, costsOut, asJSON)
			}
			for _, f := range []string{"logn", "output", "insecure"} {
				if cmd.Flags().Changed(f) {
					return fmt.Errorf("--%s goes with --calibrate", f)
				}
			}
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, err := fhec.NewRuntime(p)
			if err != nil {
				return err
			}
			// keys, plaintexts and workers in one process: the server's peak
			if err := checkMemory(p, "benchmarking", sysmem.ServerPeak, skipMemory); err != nil {
				return err
			}
			if workers <= 0 {
				workers = goruntime.NumCPU()
			}
			res := benchResult{Plan: args[0], LogN: int(p.Params.LogN), SamplesPerCt: r.Batch(), Workers: workers}
			featureMajor := len(p.Inputs) > 0 && len(p.Inputs[0].ElementValues) > 0
			if featureMajor && !cmd.Flags().Changed("reps") {
				reps = 1 // one sample costs a whole group: seconds
			}
			t0 := time.Now()
			sk, evk, err := r.KeyGen()
			if err != nil {
				return err
			}
			res.KeygenMs = ms(time.Since(t0))
			t0 = time.Now()
			if err := r.Prepare(workers); err != nil {
				return err
			}
			res.EncodeMs = ms(time.Since(t0))
			in := p.Inputs[0]
			rng := rand.New(rand.NewPCG(1, 2))
			sample := func(n int) fhec.Tensor {
				per := plan.InputLen(in)
				t := fhec.Tensor{Shape: []int{n, per}}
				for i := 0; i < n*per; i++ {
					t.Data = append(t.Data, rng.Float64()*2-1)
				}
				return t
			}
			one, err := r.Encrypt(sk, [][][]float64{split(sample(1), 1)})
			if err != nil {
				return err
			}
			// peak heap while evaluating
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var m goruntime.MemStats
				for {
					goruntime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			var times []time.Duration
			var st *fhec.Stats
			for i := 0; i < reps; i++ {
				_, s, err := r.Evaluate(evk, one, fhec.EvalOptions{Workers: workers})
				if err != nil {
					return err
				}
				st = s
				times = append(times, s.Wall)
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			res.LatencyMs = ms(times[len(times)/2])
			o := st.Ops
			res.Rotations, res.HoistedRotations, res.CtCtMults, res.CtPtMults = o.Rotations, o.HoistedRotations, o.CtCtMults, o.CtPtMults
			res.Rescales, res.KeySwitches = o.Rescales, o.KeySwitches
			res.Bootstraps = o.Bootstraps
			for _, l := range p.Metadata.GetLayers() {
				if d := float64(l.CtPtMults); d > 1 && !featureMajor { // feature-major layers need no rotation
					res.RotationsLower += int64(2*math.Ceil(math.Sqrt(d)) - 2)
				}
			}
			full := r.Batch() * workers
			many, err := r.Encrypt(sk, [][][]float64{split(sample(full), full)})
			if err != nil {
				return err
			}
			// the runtime's own choice: a ciphertext per worker, or for
			// feature-major plans each group on every worker
			_, s, err := r.Evaluate(evk, many, fhec.EvalOptions{Workers: workers})
			if err != nil {
				return err
			}
			res.ThroughputPerS = float64(full) / s.Wall.Seconds()
			close(stop)
			wg.Wait()
			res.PeakBytes = peak.Load()
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintf(w, "%s: logN %d, %d samples per ciphertext, %d workers\n", args[0], res.LogN, res.SamplesPerCt, workers)
			fmt.Fprintf(w, "  latency (1 sample, server): %.1f ms (median of %d)\n", res.LatencyMs, reps)
			fmt.Fprintf(w, "  throughput: %.1f samples/s (%d samples in %s)\n", res.ThroughputPerS, full, s.Wall.Round(time.Millisecond))
			fmt.Fprintf(w, "  per ciphertext: %d rotations (%d hoisted; lower bound %d), %d ct-ct mults, %d ct-pt mults, %d rescales, %d key switches, %d bootstraps\n",
				res.Rotations, res.HoistedRotations, res.RotationsLower, res.CtCtMults, res.CtPtMults, res.Rescales, res.KeySwitches, res.Bootstraps)
			fmt.Fprintf(w, "  keygen %.0f ms, plaintext encoding %.0f ms (once per plan), peak heap %s\n", res.KeygenMs, res.EncodeMs, sysmem.Bytes(int64(res.PeakBytes)))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&reps, "reps", 5, "latency repetitions (with --calibrate: of each measurement)")
	cmd.Flags().IntVar(&workers, "workers", 0, "workers (default: all cores)")
	cmd.Flags().BoolVar(&skipMemory, "skip-memory-check", false, "run even when the estimated peak memory exceeds the available memory")
	cmd.Flags().BoolVar(&calibrate, "calibrate", false, "measure this machine's operation costs and write a cost table for compile --costs")
	cmd.Flags().IntSliceVar(&logNs, "logn", []int{13, 14, 15}, "ring degrees to calibrate")
	cmd.Flags().StringVarP(&costsOut, "output", "o", "", "cost table to write (with --calibrate; default: fhec/costs.json in the user config dir, which compile reads)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "calibrate ring degrees too small for a 128-bit chain (tests)")
	return cmd
}

func split(t fhec.Tensor, n int) [][]float64 {
	per := len(t.Data) / n
	out := make([][]float64, n)
	for i := range out {
		out[i] = t.Data[i*per : (i+1)*per]
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
