package plan_test

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"

	"github.com/fhec/fhec/plan"
)

const readerDir = "../tools/planreader"

// TestPlanReaderSchemaCopy: the independent reader is generated from a
// verbatim copy of plan.proto.
func TestPlanReaderSchemaCopy(t *testing.T) {
	ours, err := os.ReadFile("plan.proto")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile(filepath.Join(readerDir, "plan.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("%s/plan.proto differs from plan/plan.proto: copy it and run go generate there", readerDir)
	}
	// It must not depend on this module: its go.mod requires protobuf only
	// and no Go file imports a github.com/fhec/fhec package. (The generated
	// descriptor quotes the schema's go_package option: data, not an import.)
	mod, err := os.ReadFile(filepath.Join(readerDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mod, []byte("github.com/fhec/fhec")) || bytes.Contains(mod, []byte("replace")) {
		t.Errorf("%s/go.mod refers to github.com/fhec/fhec or replaces modules:\n%s", readerDir, mod)
	}
	for _, f := range []string{"main.go", "gen.go", "planpb/plan.pb.go"} {
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(readerDir, f), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if strings.Contains(imp.Path.Value, "github.com/fhec/fhec") {
				t.Errorf("%s/%s imports %s", readerDir, f, imp.Path.Value)
			}
		}
	}
}

// TestPlanReader runs the independent reader (its own module, schema and
// framing code only) on the golden plan and checks its summary against
// what this package decodes.
func TestPlanReader(t *testing.T) {
	path, err := filepath.Abs(filepath.Join(goldenDir, "mlp.plan"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "run", ".", path)
	cmd.Dir = readerDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run %s: %v\n%s", readerDir, err, stderr.String())
	}

	logQP := 0.0
	for _, m := range append(append([]uint64{}, p.Params.Q...), p.Params.P...) {
		logQP += math.Log2(float64(m))
	}
	var want strings.Builder
	fmt.Fprintf(&want, "format: %d.%d\nproducer: %s\nlogN: %d\nlevels: %d\nlogQP: %.1f\nlogDefaultScale: %g\nsecurityBits: %d\ninsecure: %v\n",
		plan.VersionMajor, plan.VersionMinor, p.Producer, p.Params.LogN, len(p.Params.Q)-1, logQP, p.Params.LogDefaultScale, p.Params.SecurityBits, p.Params.Insecure)
	fmt.Fprintf(&want, "relinearization: %v\ngaloisKeys: %d\n", p.Keys.Relinearization, len(p.Keys.GaloisElements))
	for _, in := range p.Inputs {
		fmt.Fprintf(&want, "input: %s %v level %d batch %d\n", in.Name, in.Shape, in.Level, in.Layout.Batch)
	}
	for _, o := range p.Outputs {
		fmt.Fprintf(&want, "output: %s %v\n", o.Name, o.Shape)
	}
	fmt.Fprintf(&want, "constants: %d\ninstructions: %d\n", len(p.Constants), len(p.Program))
	counts := map[string]int{}
	for _, ins := range p.Program {
		counts[ins.Op.String()]++
	}
	var ops []string
	for k := range counts {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	for _, k := range ops {
		fmt.Fprintf(&want, "op %s: %d\n", k, counts[k])
	}
	fmt.Fprintf(&want, "rotations: %d\nbootstraps: %d\n", p.Metadata.OpCounts.Rotations, p.Metadata.OpCounts.Bootstraps)
	for _, l := range p.Metadata.Layers {
		fmt.Fprintf(&want, "layer: %s %s levels %d->%d\n", l.Name, l.Kind, l.LevelIn, l.LevelOut)
	}
	if string(out) != want.String() {
		t.Fatalf("planreader printed:\n%s\nwant:\n%s", out, want.String())
	}

	// It refuses a corrupted plan.
	bad := bytes.Clone(b)
	bad[len(bad)/2] ^= 1
	badPath := filepath.Join(t.TempDir(), "bad.plan")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(goBin, "run", ".", badPath)
	cmd.Dir = readerDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "checksum") {
		t.Fatalf("corrupted plan: %v\n%s", err, out)
	}
}
