package costmodel

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func entry(logN int, rot float64) Entry {
	return Entry{LogN: logN, Levels: 2, Rotation: rot, GiantStep: rot, BabyStep: rot / 5, PtMult: rot / 50, CtMult: rot, Rescale: rot / 8, Add: rot / 100}
}

func TestRoundTrip(t *testing.T) {
	tab := &Table{Version: Version, Machine: "test", Entries: []Entry{entry(15, 50), entry(13, 9)}}
	path := filepath.Join(t.TempDir(), "costs.json")
	if err := tab.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Table{Version: Version, Machine: "test", Entries: []Entry{entry(13, 9), entry(15, 50)}} // sorted
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
}

func TestDefaultWeights(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	// The ratios the packing choices were tuned against (lower_ckks.go).
	w := Default().At(13).Weights()
	want := Weights{Rotation: 1, GiantStep: 1, BabyStep: 0.15, PtMult: 0.02}
	if d := cmp.Diff(want, w, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); d != "" {
		t.Fatalf("default weights (-want +got):\n%s", d)
	}
}

func TestAtNearest(t *testing.T) {
	tab := &Table{Version: Version, Entries: []Entry{entry(13, 9), entry(15, 50), entry(16, 225)}}
	for logN, want := range map[int]int{10: 13, 13: 13, 14: 15, 15: 15, 16: 16, 17: 16} {
		if got := tab.At(logN).LogN; got != want {
			t.Errorf("At(%d) = logN %d, want %d", logN, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := `{"version":1,"machine":"m","entries":[{"logN":13,"levels":2,"rotation_ms":9,"giant_step_ms":9,"baby_step_ms":1.3,"pt_mult_ms":0.2,"ct_mult_ms":10,"rescale_ms":1.2,"add_ms":0.05}]}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ in, msg string }{
		"empty":         {``, "not an fhec cost table"},
		"not json":      {`rotation=9`, "not an fhec cost table"},
		"misspelt":      {strings.Replace(good, "baby_step_ms", "baby_ms", 1), `unknown field "baby_ms"`},
		"trailing":      {good + `{}`, "data after the table"},
		"newer":         {strings.Replace(good, `"version":1`, `"version":2`, 1), "version 2"},
		"no version":    {strings.Replace(good, `"version":1,`, ``, 1), "version 0"},
		"no entries":    {`{"version":1,"entries":[]}`, "no entries"},
		"zero cost":     {strings.Replace(good, `"pt_mult_ms":0.2`, `"pt_mult_ms":0`, 1), "pt_mult_ms is 0"},
		"negative cost": {strings.Replace(good, `"rotation_ms":9`, `"rotation_ms":-9`, 1), "rotation_ms is -9"},
		"missing cost":  {strings.Replace(good, `,"add_ms":0.05`, ``, 1), "add_ms is 0"},
		"huge logN":     {strings.Replace(good, `"logN":13`, `"logN":40`, 1), "logN 40 outside"},
		"no levels":     {strings.Replace(good, `"levels":2`, `"levels":0`, 1), "levels 0"},
		"twice":         {strings.Replace(good, `}]}`, `},`+good[strings.Index(good, `[`)+1:], 1), "logN 13 appears twice"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

// TestReadBounded: a path that is no table (a device without end, a large
// file) is refused after a bounded read.
func TestReadBounded(t *testing.T) {
	for _, path := range []string{"/dev/zero", filepath.Join(t.TempDir(), "big.json")} {
		if path != "/dev/zero" {
			if err := os.WriteFile(path, make([]byte, 2<<20), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if _, err := os.Stat(path); err != nil {
			continue // no /dev/zero here
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes") {
			t.Errorf("%s: error %v, want one saying it is too large", path, err)
		}
	}
}

// FuzzParse: any input is a table or an error, never a panic; a table
// writes and reads back the same.
func FuzzParse(f *testing.F) {
	b, err := Default().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"version":1,"entries":[{"logN":13,"levels":2,"rotation_ms":1e308,"giant_step_ms":9,"baby_step_ms":1,"pt_mult_ms":0.1,"ct_mult_ms":9,"rescale_ms":1,"add_ms":0.1}]}`))
	f.Add([]byte(`{"version":1,"entries":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Parse(b)
		if err != nil {
			return
		}
		out, err := tab.Marshal()
		if err != nil {
			t.Fatalf("a parsed table does not write: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("a written table does not read: %v", err)
		}
		tab.Entries = sortedEntries(tab.Entries)
		if d := cmp.Diff(tab, back); d != "" {
			t.Fatalf("round trip (-parsed +read back):\n%s", d)
		}
		_ = tab.At(13).Weights()
	})
}

func sortedEntries(es []Entry) []Entry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b Entry) int { return a.LogN - b.LogN })
	return es
}
