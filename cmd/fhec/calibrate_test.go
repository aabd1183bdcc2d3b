package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhec/fhec/costmodel"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// TestCompileWithCosts: compile --costs weighs the packing choices with the
// table given. A table where a baby step costs as much as a giant step
// balances a 64x64 layer's baby-step giant-step split (8 x 8 diagonals)
// where the shipped one, with baby steps a seventh of a giant step, leans to
// baby steps (16 x 4); the same for the 64 -> 4 layer. With 64 samples per
// ciphertext the diagonals are 64 slots apart (n1 in slots: 64 times the
// diagonals). The plan names the table; a bad table is an error that names
// the file and the fault.
func TestCompileWithCosts(t *testing.T) {
	dir := t.TempDir()
	p := func(s string) string { return filepath.Join(dir, s) }
	m, err := onnxbuild.NewRandomMLP(5, []int{64, 64, 4}, "square")
	must(t, err)
	model, err := m.Marshal()
	must(t, err)
	must(t, os.WriteFile(p("m.onnx"), model, 0o644))
	balanced := costmodel.Default()
	balanced.Machine = "test: baby steps as dear as giant steps"
	balanced.Entries[0].BabyStep = balanced.Entries[0].GiantStep
	must(t, balanced.Write(p("costs.json")))
	n1s := func(path string) []uint32 {
		pl, err := plan.ReadFile(path)
		must(t, err)
		var n1 []uint32
		for _, ins := range pl.Program {
			if ins.Op == planpb.Op_LINEAR {
				n1 = append(n1, ins.N1)
			}
		}
		return n1
	}
	for _, args := range [][]string{
		{"compile", p("m.onnx"), "-o", p("default.plan"), "--batch", "64"},
		{"compile", p("m.onnx"), "-o", p("costs.plan"), "--batch", "64", "--costs", p("costs.json")},
	} {
		if out, err := cli(args...); err != nil {
			t.Fatalf("fhec %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if got, want := n1s(p("default.plan")), []uint32{16 * 64, 4 * 64}; !slices.Equal(got, want) {
		t.Errorf("default table: LINEAR baby steps %v, want %v", got, want)
	}
	if got, want := n1s(p("costs.plan")), []uint32{8 * 64, 2 * 64}; !slices.Equal(got, want) {
		t.Errorf("balanced table: LINEAR baby steps %v, want %v", got, want)
	}
	pl, err := plan.ReadFile(p("costs.plan"))
	must(t, err)
	if got := pl.Metadata.GetProperties()["cost_table"]; got != balanced.Machine {
		t.Errorf("plan property cost_table = %q, want %q", got, balanced.Machine)
	}

	// --costs shipped is the default table; with no --costs, compile reads
	// the table that bench --calibrate wrote to the user config directory.
	if out, err := cli("compile", p("m.onnx"), "-o", p("shipped.plan"), "--batch", "64", "--costs", "shipped"); err != nil || strings.Contains(out, "cost table") {
		t.Fatalf("--costs shipped: %v\n%s", err, out)
	}
	if got, want := n1s(p("shipped.plan")), n1s(p("default.plan")); !slices.Equal(got, want) {
		t.Errorf("--costs shipped: LINEAR baby steps %v, want the default %v", got, want)
	}
	def, err := defaultCostsPath()
	must(t, err)
	for try := 1; ; try++ {
		out, err := cli("bench", "--calibrate", "--logn", "11", "--insecure", "--reps", "3")
		if err != nil && strings.Contains(err.Error(), "too busy") && try < 3 {
			continue // a busy machine spoilt the fit: measure again, as a user would
		}
		if err != nil || !strings.Contains(out, "wrote "+def+": fhec compile uses it") {
			t.Fatalf("bench --calibrate: %v\n%s", err, out)
		}
		break
	}
	defer os.Remove(def)
	calibrated, err := costmodel.Read(def)
	must(t, err)
	if len(calibrated.Entries) != 1 || calibrated.Entries[0].LogN != 11 {
		t.Errorf("calibrated table: %+v, want one entry at logN 11", calibrated.Entries)
	}
	must(t, balanced.Write(def)) // a known table in the default place
	out, err := cli("compile", p("m.onnx"), "-o", p("found.plan"), "--batch", "64")
	if err != nil || !strings.Contains(out, "packing weighed with the cost table "+def) {
		t.Fatalf("compile with a calibrated table in the config dir: %v\n%s", err, out)
	}
	if got, want := n1s(p("found.plan")), n1s(p("costs.plan")); !slices.Equal(got, want) {
		t.Errorf("table from the config dir: LINEAR baby steps %v, want %v", got, want)
	}

	must(t, os.WriteFile(p("bad.json"), []byte(`{"version":1,"entries":[{"logN":13,"levels":2,"rotation_ms":-1}]}`), 0o644))
	for name, tc := range map[string]struct {
		args []string
		msg  string
	}{
		"bad table":         {[]string{"compile", p("m.onnx"), "-o", p("x.plan"), "--costs", p("bad.json")}, "bad.json: cost table entry 0 (logN 13): rotation_ms is -1"},
		"missing table":     {[]string{"compile", p("m.onnx"), "-o", p("x.plan"), "--costs", p("none.json")}, "--costs: open"},
		"plan to calibrate": {[]string{"bench", "--calibrate", p("costs.plan")}, "--calibrate measures this machine, not a plan"},
		"small ring":        {[]string{"bench", "--calibrate", "--logn", "11", "-o", p("c.json")}, "needs --insecure"},
		"logn without":      {[]string{"bench", p("costs.plan"), "--logn", "13"}, "--logn goes with --calibrate"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := cli(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one containing %q\n%s", err, tc.msg, out)
			}
		})
	}
}
