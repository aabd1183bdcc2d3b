package frontend

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fhec/fhec/ir"
)

// readNpy reads a little-endian C-order float32/float64 .npy file (format
// versions 1 to 3).
func readNpy(path string) (ir.Array, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ir.Array{}, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return ir.Array{}, fmt.Errorf("%s: not a .npy file", path)
	}
	var hlen, off int
	if b[6] == 1 {
		hlen, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	} else {
		if len(b) < 12 {
			return ir.Array{}, fmt.Errorf("%s: short header", path)
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	if off+hlen > len(b) {
		return ir.Array{}, fmt.Errorf("%s: short header", path)
	}
	header := string(b[off : off+hlen])
	body := b[off+hlen:]
	descr := regexp.MustCompile(`'descr':\s*'([^']*)'`).FindStringSubmatch(header)
	if descr == nil {
		return ir.Array{}, fmt.Errorf("%s: no descr in %q", path, header)
	}
	if strings.Contains(header, "'fortran_order': True") {
		return ir.Array{}, fmt.Errorf("%s: Fortran order is not supported", path)
	}
	sm := regexp.MustCompile(`'shape':\s*\(([^)]*)\)`).FindStringSubmatch(header)
	if sm == nil {
		return ir.Array{}, fmt.Errorf("%s: no shape in %q", path, header)
	}
	var shape []int
	for _, p := range strings.Split(sm[1], ",") {
		if p = strings.TrimSpace(p); p != "" {
			d, err := strconv.Atoi(p)
			if err != nil {
				return ir.Array{}, fmt.Errorf("%s: bad shape %q", path, sm[1])
			}
			shape = append(shape, d)
		}
	}
	n := ir.NumElements(shape)
	data := make([]float64, n)
	switch descr[1] {
	case "<f4":
		if len(body) < 4*n {
			return ir.Array{}, fmt.Errorf("%s: short data", path)
		}
		for i := range data {
			data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])))
		}
	case "<f8":
		if len(body) < 8*n {
			return ir.Array{}, fmt.Errorf("%s: short data", path)
		}
		for i := range data {
			data[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
		}
	default:
		return ir.Array{}, fmt.Errorf("%s: dtype %s is not supported", path, descr[1])
	}
	return ir.Array{Shape: shape, Data: data}, nil
}

func TestMnist2x10(t *testing.T) {
	dir := filepath.Join(sharedDir(t, "models"), "mnist2x10")
	in, err := readNpy(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := readNpy(filepath.Join(dir, "reference_outputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	batch := in.Shape[0]
	// The whole batch at once: the symbolic batch dim takes BatchSize.
	f, err := LoadFile(filepath.Join(dir, "model.onnx"), Options{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Params) != 1 || !equalInts(f.Params[0].Type.Shape, []int{batch, 1, 28, 28}) || !f.Params[0].Type.Secret {
		t.Fatalf("parameter %s: %s", f.Params[0].Name, f.Params[0].Type)
	}
	got, err := ir.Interpret(f, []ir.Array{in})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(got[0].Shape, want.Shape) {
		t.Fatalf("output shape %v, want %v", got[0].Shape, want.Shape)
	}
	maxErr := 0.0
	for i := range want.Data {
		d := math.Abs(got[0].Data[i] - want.Data[i])
		maxErr = math.Max(maxErr, d)
		if d > 1e-4 {
			t.Fatalf("logit %d: %v, want %v", i, got[0].Data[i], want.Data[i])
		}
	}
	t.Logf("mnist2x10: %d samples, max |error| vs onnxruntime %.3g; ops: %s", batch, maxErr, opCodes(f))

	// Default options: batch 1; sample 3 alone gives the same logits.
	f1, err := LoadFile(filepath.Join(dir, "model.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(f1.Params[0].Type.Shape, []int{1, 1, 28, 28}) {
		t.Fatalf("default batch: parameter type %s", f1.Params[0].Type)
	}
	one := ir.Array{Shape: []int{1, 1, 28, 28}, Data: in.Data[3*784 : 4*784]}
	got1, err := ir.Interpret(f1, []ir.Array{one})
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 10; j++ {
		if math.Abs(got1[0].Data[j]-want.Data[30+j]) > 1e-4 {
			t.Fatalf("batch-1 logit %d: %v, want %v", j, got1[0].Data[j], want.Data[30+j])
		}
	}
}

func opCodes(f *ir.Func) string {
	var s []string
	for _, o := range f.Ops {
		s = append(s, o.Code)
	}
	return strings.Join(s, " ")
}

// cnnCase is a real CNN checked against onnxruntime's logits.
type cnnCase struct {
	model    string
	batch    bool    // the input has a symbolic batch dim: load the whole batch at once
	tol      float64 // per logit: |got-want| <= tol, or with relative <= tol*max(|want|, 1)
	relative bool
	wantOps  []string // op codes the import must contain
}

// TestCNNModels: the two CNNs (Conv, Transpose, MaxPool, auto_pad, opsets 7
// and 8, initializers listed among the graph inputs) load, and the
// interpreter reproduces onnxruntime's logits on the 16 stored samples.
func TestCNNModels(t *testing.T) {
	root := sharedDir(t, "models")
	for _, tc := range []cnnCase{
		{model: "cryptonets", batch: true, tol: 1e-3, wantOps: []string{"conv", "transpose", "mul", "matmul", "add"}},
		{model: "mnist-onnx-go", tol: 1e-3, relative: true, wantOps: []string{"conv", "maxpool", "relu", "matmul", "add"}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			dir := filepath.Join(root, tc.model)
			in, err := readNpy(filepath.Join(dir, "inputs.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := readNpy(filepath.Join(dir, "reference_outputs.npy"))
			if err != nil {
				t.Fatal(err)
			}
			n := in.Shape[0]
			sample := ir.NumElements(in.Shape[1:])
			opts := Options{}
			if tc.batch {
				opts.BatchSize = n
			}
			f, err := LoadFile(filepath.Join(dir, "model.onnx"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Params) != 1 || !f.Params[0].Type.Secret {
				t.Fatalf("want one secret parameter, got %d", len(f.Params))
			}
			codes := " " + opCodes(f) + " "
			for _, c := range tc.wantOps {
				if !strings.Contains(codes, " "+c+" ") {
					t.Errorf("ops %q lack %s", codes, c)
				}
			}
			// the batches to run: the whole batch, or each sample alone
			var runs []ir.Array
			if tc.batch {
				runs = []ir.Array{{Shape: f.Params[0].Type.Shape, Data: in.Data}}
			} else {
				for s := 0; s < n; s++ {
					runs = append(runs, ir.Array{Shape: f.Params[0].Type.Shape, Data: in.Data[s*sample : (s+1)*sample]})
				}
			}
			var got []float64
			for _, x := range runs {
				if ir.NumElements(x.Shape) != len(x.Data) {
					t.Fatalf("parameter %s does not fit the samples %v", f.Params[0].Type, in.Shape)
				}
				out, err := ir.Interpret(f, []ir.Array{x})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out[0].Data...)
			}
			if len(got) != len(want.Data) {
				t.Fatalf("%d logits, want %d", len(got), len(want.Data))
			}
			maxAbs, maxRel, correct := 0.0, 0.0, 0
			for i, w := range want.Data {
				d := math.Abs(got[i] - w)
				maxAbs = math.Max(maxAbs, d)
				maxRel = math.Max(maxRel, d/math.Max(math.Abs(w), 1e-12))
				bound := tc.tol
				if tc.relative {
					bound = tc.tol * math.Max(math.Abs(w), 1)
				}
				if d > bound {
					t.Errorf("logit %d (sample %d): %v, want %v", i, i/10, got[i], w)
				}
			}
			labels, _ := readNpyInt64(filepath.Join(dir, "labels.npy"))
			for s := 0; s < n && len(labels) == n; s++ {
				best := 0
				for j := 1; j < 10; j++ {
					if got[s*10+j] > got[s*10+best] {
						best = j
					}
				}
				if int64(best) == labels[s] {
					correct++
				}
			}
			t.Logf("%s: %d samples, max |error| vs onnxruntime %.3g (max relative %.3g), %d/%d labels right; ops: %s",
				tc.model, n, maxAbs, maxRel, correct, n, opCodes(f))
			// the ONNX test data sets shipped with the model, if any
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			for _, set := range sets {
				x := readPBs(t, set, "input", 1)[0]
				y := readPBs(t, set, "output", 1)[0]
				out, err := ir.Interpret(f, []ir.Array{x})
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(set), err)
				}
				for i, w := range y.Data {
					if d := math.Abs(out[0].Data[i] - w); d > tc.tol*math.Max(math.Abs(w), 1) {
						t.Errorf("%s: logit %d: %v, want %v", filepath.Base(set), i, out[0].Data[i], w)
					}
				}
			}
		})
	}
}

// readNpyInt64 reads a little-endian int64 .npy file (version 1).
func readNpyInt64(path string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" || b[6] != 1 {
		return nil, fmt.Errorf("%s: not a version-1 .npy file", path)
	}
	hlen := int(binary.LittleEndian.Uint16(b[8:]))
	if 10+hlen > len(b) || !strings.Contains(string(b[10:10+hlen]), "'<i8'") {
		return nil, fmt.Errorf("%s: not int64", path)
	}
	body := b[10+hlen:]
	out := make([]int64, len(body)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(body[8*i:]))
	}
	return out, nil
}
