package frontend

import (
	"math"
	"os"
	"path/filepath"
	"sort"
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

// mustLoad lists the node-test cases that must import and match onnx's
// reference outputs: the op families the frontend supports.
func mustLoad(name string) bool {
	for _, p := range []string{"test_gemm_", "test_add", "test_mul", "test_sub", "test_neg", "test_relu",
		"test_flatten_", "test_reshape_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	switch name {
	case "test_matmul_2d", "test_matmul_3d", "test_matmul_4d", "test_matmul_bcast", "test_matmul_1d_1d",
		"test_matmul_1d_3d", "test_matmul_4d_1d", "test_identity", "test_dropout_default",
		"test_dropout_default_old", "test_dropout_random_old", "test_dropout_default_ratio":
		return true
	}
	return false
}

func closeEnough(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	d := math.Abs(got - want)
	return d <= 1e-5 || d <= 1e-5*math.Abs(want)
}

// TestONNXNodeCases runs every case of ../shared/testdata/onnx-node: cases
// of supported ops must load and match the reference outputs; the others
// must fail with an error (never a panic), or, when they happen to load
// (ops we support in another guise), must match too.
func TestONNXNodeCases(t *testing.T) {
	root := sharedDir(t, "onnx-node")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var passed, refused []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		dir := filepath.Join(root, name)
		ok := t.Run(name, func(t *testing.T) {
			model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			if len(sets) == 0 {
				t.Fatal("no test_data_set")
			}
			// Integer graph inputs (Reshape's shape) are bound as constants
			// from the first data set; the float ones are parameters.
			bound, params := splitInputs(t, model)
			opts := Options{Constants: map[string]ir.Array{}}
			var first []ir.Array
			for k, b := range bound {
				if b {
					if first == nil {
						first = readPBs(t, sets[0], "input", len(bound))
					}
					opts.Constants[inputName(t, model, k)] = first[k]
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
				if mustLoad(name) {
					t.Fatalf("supported case failed to load: %v", err)
				}
				refused = append(refused, name)
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
			passed = append(passed, name)
		})
		if !ok && !mustLoad(name) {
			t.Logf("%s: a case outside the supported families failed", name)
		}
	}
	sort.Strings(passed)
	t.Logf("node cases: %d loaded and matched, %d refused with an error, %d total", len(passed), len(refused), len(passed)+len(refused))
	t.Logf("matched: %s", strings.Join(passed, " "))
}

// splitInputs reports, for each graph input that is not an initializer,
// whether it has an integer element type (bound as a constant), and the
// number of the others.
func splitInputs(t *testing.T, model []byte) ([]bool, int) {
	t.Helper()
	g := decodeModel(t, model).GetGraph()
	inits := map[string]bool{}
	for _, i := range g.GetInitializer() {
		inits[i.GetName()] = true
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
			bound = append(bound, false)
			params++
		}
	}
	return bound, params
}

func inputName(t *testing.T, model []byte, k int) string {
	g := decodeModel(t, model).GetGraph()
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
