package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		var set func(int)
		stop := func() {}
		e, err := runtime.Calibrate(runtime.CalibrateOptions{LogN: logN, Reps: reps, Insecure: insecure,
			Progress: func(done, total int) {
				if set == nil {
					set, stop = progress(cmd.ErrOrStderr(), fmt.Sprintf("calibrating logN %d (rounds of every op)", logN), total)
				}
				set(done)
			}})
		stop()
		if err != nil {
			return err
		}
		tab.Entries = append(tab.Entries, e)
	}
	if out == "" {
		path, err := defaultCostsPath()
		if err != nil {
			return fmt.Errorf("no user config directory for the cost table (%v): name a file with -o", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		out = path
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
	if def, err := defaultCostsPath(); err == nil && out == def {
		fmt.Fprintf(w, "wrote %s: fhec compile uses it from now on (--costs shipped: the shipped table)\n", out)
	} else {
		fmt.Fprintf(w, "wrote %s: use it with fhec compile --costs %s\n", out, out)
	}
	return nil
}

// defaultCostsPath is where bench --calibrate writes its table and where
// compile looks for one: fhec/costs.json in the user's config directory.
func defaultCostsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "fhec", "costs.json"), nil
}

// loadCosts reads the cost table compile --costs names: a file, "shipped"
// (nil: the shipped table), or, with no name, the calibrated table in the
// user config directory if there is one. It returns the path it read.
func loadCosts(name string) (*costmodel.Table, string, error) {
	switch name {
	case "shipped":
		return nil, "", nil
	case "":
		path, err := defaultCostsPath()
		if err != nil {
			return nil, "", nil // no config directory: the shipped table
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
		name = path
	}
	t, err := costmodel.Read(name)
	if err != nil {
		return nil, "", err
	}
	return t, name, nil
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
