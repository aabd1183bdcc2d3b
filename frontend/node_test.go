package frontend

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// sharedDir returns ../shared/testdata/<rel> (relative to the repository
// root). When it is missing the test fails under CI=true and is skipped
// otherwise.
func sharedDir(t testing.TB, rel string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "testdata", rel)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data %s is missing (CI=true): %v", dir, err)
		}
		t.Skipf("shared test data %s is missing: %v", dir, err)
	}
	return dir
}

// knownRefusals are node cases of supported ops that the frontend refuses
// on purpose, with the reason.
var knownRefusals = map[string]string{
	"test_maxpool_with_argmax_2d_precomputed_pads":    "MaxPool's Indices output is not supported",
	"test_maxpool_with_argmax_2d_precomputed_strides": "MaxPool's Indices output is not supported",
	"test_identity_opt":                               "optional-typed graph inputs are not supported (tensor inputs only)",
}

// compileTimeInputs lists, per op type, the inputs that the frontend requires
// to be constant (real models hold them in initializers); the node cases feed
// them as graph inputs, so the test binds them with Options.Constants.
// Integer inputs (shapes, axes, pads) are always bound.
var compileTimeInputs = map[string][]int{
	"Div":  {1},    // the divisor
	"Clip": {1, 2}, // min, max
	"Pow":  {1},    // the exponent
	"Pad":  {2},    // constant_value
}

// caseOps returns the op types of a case's nodes.
func caseOps(mp *onnxpb.ModelProto) []string {
	var ops []string
	for _, n := range mp.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	return ops
}

// mustLoad reports whether every op of the case is supported and the case
// is not a known refusal: such a case must load and match.
func mustLoad(name string, ops []string) bool {
	if _, ok := knownRefusals[name]; ok {
		return false
	}
	for _, op := range ops {
		if handlers[op] == nil {
			return false
		}
	}
	return true
}

func closeEnough(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	d := math.Abs(got - want)
	return d <= 1e-5 || d <= 1e-5*math.Abs(want)
}

// TestONNXNodeCases runs every case of ../shared/testdata/onnx-node. A case
// whose ops are all supported (and that is not a known refusal) must load
// and match onnx's reference outputs within 1e-5 (absolute or relative);
// the others must be refused with a frontend error (never a panic), and are
// counted as unsupported with the reason. A case that loads must match.
// The summary line reads "onnx-node: N passed, M failed, K unsupported".
func TestONNXNodeCases(t *testing.T) {
	root := sharedDir(t, "onnx-node")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var passed, failed, unsupported []string
	reasons := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		dir := filepath.Join(root, name)
		refused := false
		ok := t.Run(name, func(t *testing.T) {
			model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			mp := decodeModel(t, model)
			ops := caseOps(mp)
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			if len(sets) == 0 {
				t.Fatal("no test_data_set")
			}
			// Integer graph inputs and the compile-time inputs of the ops
			// are bound as constants from the first data set; the others
			// are parameters.
			bound, params := splitInputs(t, mp)
			opts := Options{Constants: map[string]ir.Array{}}
			var first []ir.Array
			for k, b := range bound {
				if b {
					if first == nil {
						first = readPBs(t, sets[0], "input", len(bound))
					}
					opts.Constants[inputName(t, mp, k)] = first[k]
				}
			}
			f, err := Load(model, opts)
			if err != nil {
				if strings.Contains(err.Error(), "recovered panic") {
					t.Fatalf("panic inside the frontend: %v", err)
				}
				if !strings.Contains(err.Error(), "frontend:") {
					t.Fatalf("error without the frontend prefix: %v", err)
				}
				if mustLoad(name, ops) {
					t.Fatalf("supported case failed to load: %v", err)
				}
				var u *UnsupportedOpError
				if errors.As(err, &u) {
					reasons[name] = "op " + u.OpType + " is not supported"
				} else if r, ok := knownRefusals[name]; ok {
					reasons[name] = r + " (" + err.Error() + ")"
				} else {
					reasons[name] = err.Error()
				}
				refused = true
				return
			}
			for _, set := range sets {
				all := readPBs(t, set, "input", len(bound))
				var inputs []ir.Array
				for k, b := range bound {
					if !b {
						inputs = append(inputs, all[k])
					} else if set != sets[0] && !sameArray(all[k], first[k]) {
						t.Fatalf("%s: bound input %d differs from the first data set", filepath.Base(set), k)
					}
				}
				if len(inputs) != params || len(f.Params) != params {
					t.Fatalf("%d inputs for %d parameters", len(inputs), len(f.Params))
				}
				wants := readPBs(t, set, "output", -1)
				got, err := ir.Interpret(f, inputs)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(set), err)
				}
				if len(got) != len(wants) {
					t.Fatalf("%s: %d results, want %d", filepath.Base(set), len(got), len(wants))
				}
				for i := range wants {
					compareArrays(t, filepath.Base(set), got[i], wants[i])
				}
			}
		})
		switch {
		case !ok:
			failed = append(failed, name)
		case refused:
			unsupported = append(unsupported, name)
		default:
			passed = append(passed, name)
		}
	}
	for _, name := range unsupported {
		t.Logf("unsupported: %s: %s", name, reasons[name])
	}
	if len(failed) > 0 {
		t.Logf("failed: %s", strings.Join(failed, " "))
	}
	t.Logf("onnx-node: %d passed, %d failed, %d unsupported", len(passed), len(failed), len(unsupported))
}

// splitInputs reports, for each graph input that is not an initializer,
// whether it is bound as a constant (an integer element type, or an input
// listed in compileTimeInputs for the node that reads it), and the number of
// the others.
func splitInputs(t *testing.T, mp *onnxpb.ModelProto) ([]bool, int) {
	t.Helper()
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, i := range g.GetInitializer() {
		inits[i.GetName()] = true
	}
	compileTime := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, k := range compileTimeInputs[n.GetOpType()] {
			if k < len(n.GetInput()) && n.Input[k] != "" {
				compileTime[n.Input[k]] = true
			}
		}
	}
	var bound []bool
	params := 0
	for _, in := range g.GetInput() {
		if inits[in.GetName()] {
			continue
		}
		switch onnxpb.TensorProto_DataType(in.GetType().GetTensorType().GetElemType()) {
		case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
			bound = append(bound, true)
		default:
			if compileTime[in.GetName()] {
				bound = append(bound, true)
				continue
			}
			bound = append(bound, false)
			params++
		}
	}
	return bound, params
}

func inputName(t *testing.T, mp *onnxpb.ModelProto, k int) string {
	g := mp.GetGraph()
	inits := map[string]bool{}
	for _, i := range g.GetInitializer() {
		inits[i.GetName()] = true
	}
	for _, in := range g.GetInput() {
		if inits[in.GetName()] {
			continue
		}
		if k == 0 {
			return in.GetName()
		}
		k--
	}
	t.Fatal("no such input")
	return ""
}

func decodeModel(t *testing.T, model []byte) *onnxpb.ModelProto {
	t.Helper()
	mp := new(onnxpb.ModelProto)
	if err := proto.Unmarshal(model, mp); err != nil {
		t.Fatal(err)
	}
	return mp
}

func sameArray(a, b ir.Array) bool {
	if len(a.Shape) != len(b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return false
		}
	}
	return true
}

func compareArrays(t *testing.T, what string, got, want ir.Array) {
	t.Helper()
	if len(got.Shape) != len(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	for i := range got.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
		}
	}
	for i := range want.Data {
		if !closeEnough(got.Data[i], want.Data[i]) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got.Data[i], want.Data[i])
		}
	}
}

// readPBs reads <dir>/<kind>_K.pb for K = 0..n-1 (all there are when n < 0).
func readPBs(t *testing.T, dir, kind string, n int) []ir.Array {
	t.Helper()
	var out []ir.Array
	for k := 0; n < 0 || k < n; k++ {
		data, err := os.ReadFile(filepath.Join(dir, kind+"_"+itoa(k)+".pb"))
		if err != nil {
			if n < 0 && os.IsNotExist(err) {
				break
			}
			t.Fatal(err)
		}
		a, err := DecodeTensor(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func itoa(k int) string {
	if k < 10 {
		return string(rune('0' + k))
	}
	return itoa(k/10) + itoa(k%10)
}
