package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/internal/tensorio"
)

const (
	sharedCSV = "../../../shared/testdata/datasets/sklearn/breast_cancer.csv"
	demoDir   = "../../testdata/demo"
)

func needCSV(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sharedCSV); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data missing in CI: %v", err)
		}
		t.Skipf("shared data not found (%v); set up ../shared to run this test", err)
	}
}

// TestGenerateMatchesCommitted regenerates the demo files and compares them
// byte for byte with testdata/demo: go generate must be reproducible.
func TestGenerateMatchesCommitted(t *testing.T) {
	needCSV(t)
	dir := t.TempDir()
	res, err := generate(sharedCSV, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("train accuracy %s, test accuracy %s", res.trainAcc, res.testAcc)
	if acc := float64(res.testAcc.correct) / float64(res.testAcc.total); acc < 0.93 {
		t.Errorf("test accuracy %s is too low", res.testAcc)
	}
	got, _ := os.ReadDir(dir)
	want, _ := os.ReadDir(demoDir)
	var gotNames, wantNames []string
	for _, e := range got {
		gotNames = append(gotNames, e.Name())
	}
	for _, e := range want {
		wantNames = append(wantNames, e.Name())
	}
	if !slices.Equal(gotNames, wantNames) {
		t.Fatalf("generated files %v, committed %v", gotNames, wantNames)
	}
	for _, name := range gotNames {
		a, err1 := os.ReadFile(filepath.Join(dir, name))
		b, err2 := os.ReadFile(filepath.Join(demoDir, name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from testdata/demo/%s: run go generate in the repository root and commit the result", name, name)
		}
	}
	// And within one process, twice.
	again, err := build(sharedCSV)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range again.files {
		if !bytes.Equal(b, res.files[name]) {
			t.Errorf("%s: second build differs", name)
		}
	}
}

func TestSplit(t *testing.T) {
	needCSV(t)
	ds, err := loadCSV(sharedCSV)
	if err != nil {
		t.Fatal(err)
	}
	train, test := split(ds)
	if len(train)+len(test) != 569 || len(test) != 113 {
		t.Fatalf("split %d/%d", len(train), len(test))
	}
	seen := map[int]bool{}
	for _, i := range append(slices.Clone(train), test...) {
		if seen[i] {
			t.Fatalf("row %d in both splits", i)
		}
		seen[i] = true
	}
	mal := 0
	for _, i := range test {
		if ds.y[i] == 0 {
			mal++
		}
	}
	if mal != 42 {
		t.Errorf("test split has %d malignant rows, want 42 (stratified)", mal)
	}
}

func readModel(t *testing.T) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestDemoFiles checks the committed files on their own (no CSV needed):
// model structure, dtypes and shapes, and that the float32 model classifies
// most samples as labelled.
func TestDemoFiles(t *testing.T) {
	m := readModel(t)
	if m.IrVersion != 8 || m.ProducerName != "fhec" || len(m.OpsetImport) != 1 || m.OpsetImport[0].Version != 13 {
		t.Errorf("model header: ir %d producer %q opset %v", m.IrVersion, m.ProducerName, m.OpsetImport)
	}
	for _, want := range []string{"Wisconsin Diagnostic Breast Cancer", "test accuracy 9"} {
		if !strings.Contains(m.DocString, want) {
			t.Errorf("doc_string lacks %q: %s", want, m.DocString)
		}
	}
	g := m.Graph
	if len(g.Input) != 1 || g.Input[0].Name != "patient_features" || len(g.Output) != 1 || g.Output[0].Name != "diagnosis_logits" {
		t.Fatalf("graph inputs/outputs: %v %v", g.Input, g.Output)
	}
	for _, vi := range []*onnxpb.ValueInfoProto{g.Input[0], g.Output[0]} {
		tt := vi.GetType().GetTensorType()
		d := tt.GetShape().GetDim()
		if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) || len(d) != 2 || d[0].GetDimParam() != "batch" {
			t.Errorf("%s: type %v", vi.Name, tt)
		}
	}
	var ops []string
	for _, n := range g.Node {
		ops = append(ops, n.OpType)
		if n.OpType == "Gemm" && (len(n.Attribute) != 1 || n.Attribute[0].Name != "transB" || n.Attribute[0].I != 1) {
			t.Errorf("Gemm attributes %v", n.Attribute)
		}
	}
	if strings.Join(ops, ",") != "Gemm,Relu,Gemm" {
		t.Fatalf("ops %v", ops)
	}
	init := map[string]*onnxpb.TensorProto{}
	for _, in := range g.Initializer {
		if in.DataType != int32(onnxpb.TensorProto_FLOAT) {
			t.Errorf("%s: data type %d, want FLOAT", in.Name, in.DataType)
		}
		init[in.Name] = in
	}
	w1, b1, w2, b2 := init[g.Node[0].Input[1]], init[g.Node[0].Input[2]], init[g.Node[2].Input[1]], init[g.Node[2].Input[2]]
	if w1 == nil || b1 == nil || w2 == nil || b2 == nil || !slices.Equal(w1.Dims, []int64{16, 30}) || !slices.Equal(w2.Dims, []int64{2, 16}) {
		t.Fatalf("initializers %v", g.Initializer)
	}

	x, err := tensorio.ReadFile(filepath.Join(demoDir, "samples.npy"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := tensorio.ReadFile(filepath.Join(demoDir, "samples_labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	cal, err := tensorio.ReadFile(filepath.Join(demoDir, "calibration.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape, []int{8, 30}) || !slices.Equal(y.Shape, []int{8}) || len(cal.Shape) != 2 || cal.Shape[1] != 30 || cal.Shape[0] < 400 {
		t.Fatalf("shapes: samples %v labels %v calibration %v", x.Shape, y.Shape, cal.Shape)
	}
	for name, want := range map[string]string{"samples.npy": "'<f4'", "samples_labels.npy": "'<i8'", "calibration.npy": "'<f4'"} {
		b, _ := os.ReadFile(filepath.Join(demoDir, name))
		if !bytes.Contains(b[:64], []byte(want)) {
			t.Errorf("%s: dtype is not %s", name, want)
		}
	}
	// Standardized with the training statistics: calibration columns have
	// mean ~0 and standard deviation ~1.
	for c := range 30 {
		s, s2 := 0.0, 0.0
		for r := range cal.Shape[0] {
			v := cal.Data[r*30+c]
			s += v
			s2 += v * v
		}
		n := float64(cal.Shape[0])
		if mean, sd := s/n, math.Sqrt(s2/n-(s/n)*(s/n)); math.Abs(mean) > 1e-4 || math.Abs(sd-1) > 1e-4 {
			t.Errorf("calibration column %d: mean %g, std %g", c, mean, sd)
		}
	}
	// Evaluate the ONNX graph in float32, as a runtime would.
	agree, classes := 0, map[float64]int{}
	for s := range 8 {
		var h [16]float32
		for j := range 16 {
			acc := b1.FloatData[j]
			for i := range 30 {
				acc += w1.FloatData[j*30+i] * float32(x.Data[s*30+i])
			}
			h[j] = max(acc, 0)
		}
		var z [2]float32
		for c := range 2 {
			acc := b2.FloatData[c]
			for j := range 16 {
				acc += w2.FloatData[c*16+j] * h[j]
			}
			z[c] = acc
		}
		pred := 0.0
		if z[1] > z[0] {
			pred = 1
		}
		if pred == y.Data[s] {
			agree++
		}
		classes[y.Data[s]]++
	}
	if classes[0] != 4 || classes[1] != 4 {
		t.Errorf("sample labels %v, want 4 of each class", classes)
	}
	if agree < 6 {
		t.Errorf("model agrees with %d of 8 sample labels", agree)
	}
	t.Logf("float32 model agrees with %d of 8 sample labels", agree)
}

func TestExp(t *testing.T) {
	for x := -708.0; x <= 709; x += 0.0137 { // normal results
		got, want := exp(x), math.Exp(x)
		if want != 0 && math.Abs(got-want)/want > 4e-16 {
			t.Fatalf("exp(%v) = %v, want %v", x, got, want)
		}
	}
	if exp(0) != 1 || !math.IsInf(exp(1000), 1) || exp(-1000) != 0 || !math.IsNaN(exp(math.NaN())) {
		t.Error("exp special values")
	}
}
