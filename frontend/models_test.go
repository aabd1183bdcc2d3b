package frontend

import (
	"encoding/binary"
	"errors"
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

// The two CNNs use Conv (and Transpose or MaxPool): a clear error naming
// the first unsupported node.
func TestModelsWithUnsupportedOps(t *testing.T) {
	root := sharedDir(t, "models")
	for _, tc := range []struct{ model, node, op string }{
		{"cryptonets", "Conv__11", "Conv"},
		{"mnist-onnx-go", "Convolution28", "Conv"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			_, err := LoadFile(filepath.Join(root, tc.model, "model.onnx"), Options{})
			var u *UnsupportedOpError
			if !errors.As(err, &u) {
				t.Fatalf("want an UnsupportedOpError, got %v", err)
			}
			if u.Node != tc.node || u.OpType != tc.op {
				t.Fatalf("error names node %q op %q, want %q %q", u.Node, u.OpType, tc.node, tc.op)
			}
			msg := err.Error()
			for _, s := range []string{fmt.Sprintf("node %q (op %s): not supported", tc.node, tc.op), "supported ops: Add, Constant,", "Gemm", "Reshape"} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
		})
	}
}
