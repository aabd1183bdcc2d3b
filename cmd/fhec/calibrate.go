package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/runtime"
)

// runCalibrate is `fhec bench --calibrate`: it measures the operation costs
// at each ring degree and writes them as a cost table.
func runCalibrate(cmd *cobra.Command, logNs []int, reps int, insecure bool, out string, asJSON bool) error {
	if len(logNs) == 0 {
		return fmt.Errorf("--logn: no ring degree to calibrate")
	}
	tab := &costmodel.Table{Version: costmodel.Version, Machine: machine()}
	for _, logN := range logNs {
		stop := spinner(cmd.ErrOrStderr(), fmt.Sprintf("calibrating logN %d", logN))
		e, err := runtime.Calibrate(runtime.CalibrateOptions{LogN: logN, Reps: reps, Insecure: insecure})
		stop()
		if err != nil {
			return err
		}
		tab.Entries = append(tab.Entries, e)
	}
	if err := tab.Write(out); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if asJSON {
		b, err := json.Marshal(tab)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", b)
		return nil
	}
	def := costmodel.Default().At(13)
	fmt.Fprintf(w, "%s: one core, ms (in brackets: relative to a rotation; the shipped table: giant %.2f, baby %.2f, diagonal %.3f)\n",
		tab.Machine, def.Weights().GiantStep, def.Weights().BabyStep, def.Weights().PtMult)
	fmt.Fprintf(w, "%5s %6s %9s %16s %16s %16s %9s %8s %7s\n", "logN", "levels", "rotation", "giant step", "baby step", "diagonal", "ct*ct", "rescale", "add")
	for _, e := range tab.Entries {
		r := e.Weights()
		fmt.Fprintf(w, "%5d %6d %9.2f %8.2f (%.2f) %8.2f (%.2f) %8.3f (%.3f) %9.2f %8.2f %7.3f\n",
			e.LogN, e.Levels, e.Rotation, e.GiantStep, r.GiantStep, e.BabyStep, r.BabyStep, e.PtMult, r.PtMult, e.CtMult, e.Rescale, e.Add)
	}
	fmt.Fprintf(w, "wrote %s: use it with fhec compile --costs %s\n", out, out)
	return nil
}

// machine describes this machine for the cost table: CPU model, cores, Go.
func machine() string {
	model := goruntime.GOARCH
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", model, goruntime.NumCPU(), goruntime.Version())
}
