package tensorio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
)

// sharedTestdata is the shared data directory seen from this package.
const sharedTestdata = "../../../shared/testdata"

func sameTensor(a, b Tensor) bool {
	if len(a.Shape) != len(b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := range a.Data {
		if math.Float64bits(a.Data[i]) != math.Float64bits(b.Data[i]) {
			return false
		}
	}
	return true
}

func ramp(shape ...int) Tensor {
	n, _ := Size(shape)
	t := Tensor{Shape: shape, Data: make([]float64, n)}
	for i := range t.Data {
		t.Data[i] = float64(i - n/2)
	}
	return t
}

var roundTripShapes = [][]int{{}, {0}, {3}, {2, 3}, {2, 0, 3}, {1, 1, 4, 5}}

func TestRoundTrip(t *testing.T) {
	for _, format := range []string{FormatNPY, FormatPB, FormatJSON} {
		for _, dt := range []DType{Float64, Float32, Int32, Int64} {
			for _, shape := range roundTripShapes {
				in := ramp(shape...)
				var buf bytes.Buffer
				if err := WriteAs(&buf, format, in, dt); err != nil {
					t.Fatalf("%s %v %v: write: %v", format, dt, shape, err)
				}
				first := append([]byte(nil), buf.Bytes()...)
				out, err := Read(&buf, format)
				if err != nil {
					t.Fatalf("%s %v %v: read: %v", format, dt, shape, err)
				}
				if !sameTensor(in, out) {
					t.Fatalf("%s %v %v: got %+v, want %+v", format, dt, shape, out, in)
				}
				// Deterministic: same tensor, same bytes.
				var again bytes.Buffer
				if err := WriteAs(&again, format, in, dt); err != nil || !bytes.Equal(first, again.Bytes()) {
					t.Fatalf("%s %v %v: output not deterministic", format, dt, shape)
				}
			}
		}
	}
}

func TestRoundTripFloat64Exact(t *testing.T) {
	in := Tensor{Shape: []int{5}, Data: []float64{math.Pi, -1e-310, 1e300, math.SmallestNonzeroFloat64, 0.1}}
	for _, f := range []string{"npy", ".PB", "json"} {
		var buf bytes.Buffer
		if err := Write(&buf, f, in); err != nil {
			t.Fatal(err)
		}
		out, err := Read(&buf, f)
		if err != nil || !sameTensor(in, out) {
			t.Fatalf("%s: got %v, %v", f, out, err)
		}
	}
}

func TestFloat32Rounding(t *testing.T) {
	in := Tensor{Shape: []int{1}, Data: []float64{0.1}}
	var buf bytes.Buffer
	if err := WriteAs(&buf, "npy", in, Float32); err != nil {
		t.Fatal(err)
	}
	out, err := Read(&buf, "npy")
	if err != nil || out.Data[0] != float64(float32(0.1)) {
		t.Fatalf("got %v, %v", out, err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	in := ramp(2, 3)
	for _, name := range []string{"a.npy", "a.pb", "a.json"} {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, in); err != nil {
			t.Fatal(err)
		}
		out, err := ReadFile(p)
		if err != nil || !sameTensor(in, out) {
			t.Fatalf("%s: %v %v", name, out, err)
		}
	}
	if err := WriteFile(filepath.Join(dir, "a.csv"), in); err == nil || !strings.Contains(err.Error(), ".csv") {
		t.Fatalf("unknown extension: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.npy")); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, err := Read(strings.NewReader("{}"), "yaml"); err == nil {
		t.Fatal("unknown format: no error")
	}
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "npy", Tensor{Shape: []int{2, 2}, Data: []float64{1, 2, 3}}); err == nil || !strings.Contains(err.Error(), "needs 4 elements") {
		t.Errorf("shape mismatch: %v", err)
	}
	if err := WriteAs(&buf, "npy", Tensor{Shape: []int{1}, Data: []float64{1.5}}, Int64); err == nil || !strings.Contains(err.Error(), "int64") {
		t.Errorf("non-integer as int64: %v", err)
	}
	if err := WriteAs(&buf, "pb", Tensor{Shape: []int{1}, Data: []float64{1 << 40}}, Int32); err == nil {
		t.Errorf("out of range int32: no error")
	}
	if err := WriteAs(&buf, "npy", Tensor{Shape: []int{1}, Data: []float64{0x1p63}}, Int64); err == nil {
		t.Errorf("2^63 as int64: no error")
	}
	if err := Write(&buf, "json", Tensor{Shape: []int{1}, Data: []float64{math.NaN()}}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN to JSON: %v", err)
	}
	if err := Write(&buf, "npy", Tensor{Shape: []int{-1}, Data: nil}); err == nil {
		t.Errorf("negative dim: no error")
	}
}

// npyFile builds an .npy file (version 1.0) with a hand-written header.
func npyFile(header string, payload []byte) []byte {
	h := header + "\n"
	out := []byte("\x93NUMPY\x01\x00")
	out = binary.LittleEndian.AppendUint16(out, uint16(len(h)))
	out = append(out, h...)
	return append(out, payload...)
}

func le32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestNPYHeaders(t *testing.T) {
	be := binary.BigEndian.AppendUint32(nil, math.Float32bits(1.5))
	be = binary.BigEndian.AppendUint32(be, math.Float32bits(-2))
	beI8 := binary.BigEndian.AppendUint64(nil, uint64(0xffff_ffff_ffff_fffe)) // -2
	v2 := []byte("\x93NUMPY\x02\x00")
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
	v2 = binary.LittleEndian.AppendUint32(v2, uint32(len(h)))
	v2 = append(append(v2, h...), le32(1, 2)...)
	ok := []struct {
		name string
		file []byte
		want Tensor
	}{
		{"big-endian f4", npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be), Tensor{[]int{2}, []float64{1.5, -2}}},
		{"big-endian i8", npyFile("{'descr': '>i8', 'fortran_order': False, 'shape': (), }", beI8), Tensor{[]int{}, []float64{-2}}},
		{"key order, spaces, double quotes", npyFile(`{ "shape" : ( 1 , 2 ) , "fortran_order": False, "descr": "<f4" }`, le32(3, 4)), Tensor{[]int{1, 2}, []float64{3, 4}}},
		{"fortran 1-d", npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", le32(3, 4)), Tensor{[]int{2}, []float64{3, 4}}},
		{"fortran 1x2", npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", le32(3, 4)), Tensor{[]int{1, 2}, []float64{3, 4}}},
		{"version 2.0", v2, Tensor{[]int{2}, []float64{1, 2}}},
		{"python2 long", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", le32(3, 4)), Tensor{[]int{2}, []float64{3, 4}}},
	}
	for _, c := range ok {
		got, err := Read(bytes.NewReader(c.file), "npy")
		if err != nil || !sameTensor(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	good := npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", le32(1, 2, 3, 4))
	bad := []struct {
		name, file, want string
	}{
		{"empty", "", "truncated file (0 bytes)"},
		{"short magic", "\x93NUM", "truncated"},
		{"bad magic", "PK\x03\x04 not numpy at all", "bad magic"},
		{"truncated header", string(good[:30]), "truncated header"},
		{"truncated data", string(good[:len(good)-3]), "truncated data"},
		{"trailing bytes", string(good) + "xx", "after the data"},
		{"fortran", string(npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", le32(1, 2, 3, 4))), "Fortran"},
		{"float16", string(npyFile("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", []byte{0, 0, 0, 0})), "float16"},
		{"bool", string(npyFile("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", []byte{0, 1})), "bool"},
		{"uint8", string(npyFile("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", []byte{0, 1})), "uint8"},
		{"complex", string(npyFile("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", make([]byte, 16))), "complex128"},
		{"unicode", string(npyFile("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", make([]byte, 20))), "unicode"},
		{"object", string(npyFile("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8))), "object"},
		{"structured", string(npyFile("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 4))), "structured"},
		{"missing key", string(npyFile("{'descr': '<f4', 'shape': (1,), }", le32(1))), "missing key"},
		{"extra key", string(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", le32(1))), "unexpected key"},
		{"negative dim", string(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", le32(1))), "shape"},
		{"huge shape", string(npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", nil)), "too many"},
		{"huge shape 2", string(npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }", nil)), "too many"},
		{"no newline", "\x93NUMPY\x01\x00\x05\x00{'a':", "invalid header"},
		{"version 9", "\x93NUMPY\x09\x00\x05\x00{}   ", "version 9.0"},
		{"header len past end", "\x93NUMPY\x02\x00\xff\xff\xff\xff{}", "truncated header"},
		{"int not tuple", string(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", le32(1))), "trailing comma"},
	}
	for _, c := range bad {
		_, err := Read(strings.NewReader(c.file), "npy")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestNPYMatchesNumPy checks that the writer produces byte for byte what
// numpy.save wrote for the shared fixtures, and that they read back.
func TestNPYMatchesNumPy(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedTestdata, "models", "*", "*.npy"))
	if len(files) == 0 {
		t.Skip("shared test data not found")
	}
	for _, f := range files {
		orig, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tt, err := ReadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dt := Float32
		if strings.Contains(string(orig[:64]), "'<i8'") {
			dt = Int64
		}
		var buf bytes.Buffer
		if err := WriteAs(&buf, "npy", tt, dt); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), orig) {
			t.Errorf("%s: re-encoded bytes differ from numpy's", f)
		}
	}
}

// TestNPYReadByNpyio checks the writer's files against an independent reader.
func TestNPYReadByNpyio(t *testing.T) {
	in := ramp(3, 4, 5)
	var buf bytes.Buffer
	if err := Write(&buf, "npy", in); err != nil {
		t.Fatal(err)
	}
	r, err := npy.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Descr.Shape; len(got) != 3 || got[0] != 3 || got[1] != 4 || got[2] != 5 {
		t.Fatalf("npyio shape %v", got)
	}
	var data []float64
	if err := r.Read(&data); err != nil {
		t.Fatal(err)
	}
	if !sameTensor(Tensor{Shape: in.Shape, Data: data}, in) {
		t.Fatal("npyio read different data")
	}
}

func marshalTP(t testing.TB, tp *onnxpb.TensorProto) []byte {
	t.Helper()
	b, err := proto.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPB(t *testing.T) {
	ok := []struct {
		name string
		tp   *onnxpb.TensorProto
		want Tensor
	}{
		{"float_data", &onnxpb.TensorProto{Dims: []int64{2}, DataType: 1, FloatData: []float32{1.5, -2}}, Tensor{[]int{2}, []float64{1.5, -2}}},
		{"double_data", &onnxpb.TensorProto{Dims: []int64{1, 2}, DataType: 11, DoubleData: []float64{0.1, 3}}, Tensor{[]int{1, 2}, []float64{0.1, 3}}},
		{"int32_data", &onnxpb.TensorProto{Dims: []int64{2}, DataType: 6, Int32Data: []int32{-7, 8}}, Tensor{[]int{2}, []float64{-7, 8}}},
		{"int64_data", &onnxpb.TensorProto{Dims: []int64{}, DataType: 7, Int64Data: []int64{-9}}, Tensor{[]int{}, []float64{-9}}},
		{"raw float", &onnxpb.TensorProto{Dims: []int64{2}, DataType: 1, RawData: le32(1, 2), Name: "x"}, Tensor{[]int{2}, []float64{1, 2}}},
		{"empty", &onnxpb.TensorProto{Dims: []int64{0, 3}, DataType: 1}, Tensor{[]int{0, 3}, []float64{}}},
	}
	for _, c := range ok {
		got, err := Read(bytes.NewReader(marshalTP(t, c.tp)), "pb")
		if err != nil || !sameTensor(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	bad := []struct {
		name string
		file []byte
		want string
	}{
		{"garbage", []byte("\xff\xff\xff\xff\xff"), "not a valid ONNX TensorProto"},
		{"string", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 8, StringData: [][]byte{[]byte("a")}}), "STRING"},
		{"float16", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 10, Int32Data: []int32{0}}), "FLOAT16"},
		{"bool", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 9, Int32Data: []int32{0}}), "BOOL"},
		{"undefined", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, FloatData: []float32{1}}), "data_type is not set"},
		{"count mismatch", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{3}, DataType: 1, FloatData: []float32{1, 2}}), "need 3"},
		{"raw mismatch", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{3}, DataType: 1, RawData: le32(1, 2)}), "need 3"},
		{"raw odd bytes", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 11, RawData: []byte{1, 2, 3}}), "raw_data has 3 bytes"},
		{"no data", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{2}, DataType: 1}), "no data"},
		{"both", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 1, RawData: le32(1), FloatData: []float32{1}}), "both"},
		{"wrong field", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 1, DoubleData: []float64{1}}), "float_data"},
		{"external", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 1, DataLocation: 1}), "external"},
		{"negative dim", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{-1}, DataType: 1}), "invalid dimension"},
		{"huge dims", marshalTP(t, &onnxpb.TensorProto{Dims: []int64{1 << 40, 1 << 40}, DataType: 1, RawData: le32(1)}), "too many"},
	}
	for _, c := range bad {
		_, err := Read(bytes.NewReader(c.file), "pb")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestPBShared reads the TensorProto fixtures of the shared ONNX node tests.
func TestPBShared(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedTestdata, "onnx-node", "*", "test_data_set_*", "*.pb"))
	files2, _ := filepath.Glob(filepath.Join(sharedTestdata, "models", "*", "test_data_set_*", "*.pb"))
	files = append(files, files2...)
	if len(files) == 0 {
		t.Skip("shared test data not found")
	}
	okCount := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tp onnxpb.TensorProto
		if err := proto.Unmarshal(b, &tp); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := ReadFile(f)
		switch onnxpb.TensorProto_DataType(tp.DataType) {
		case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT64:
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if err := got.Validate(); err != nil || len(got.Shape) != len(tp.Dims) {
				t.Errorf("%s: bad tensor %v", f, err)
			}
			okCount++
		default:
			if err == nil || !strings.Contains(err.Error(), onnxTypeName(tp.DataType)) {
				t.Errorf("%s: type %s: got error %v", f, onnxTypeName(tp.DataType), err)
			}
		}
	}
	t.Logf("read %d of %d shared .pb files (the rest have other element types)", okCount, len(files))
}

func TestJSON(t *testing.T) {
	ok := []struct {
		in   string
		want Tensor
	}{
		{`{"shape": [2, 2], "data": [1, 2, 3, 4]}`, Tensor{[]int{2, 2}, []float64{1, 2, 3, 4}}},
		{`{"shape": [2, 2], "data": [[1, 2], [3, 4]], "dtype": "float32"}`, Tensor{[]int{2, 2}, []float64{1, 2, 3, 4}}},
		{`{"data": [[1, 2], [3, 4]]}`, Tensor{[]int{2, 2}, []float64{1, 2, 3, 4}}},
		{`[[[1.5], [2e3]]]`, Tensor{[]int{1, 2, 1}, []float64{1.5, 2000}}},
		{`[]`, Tensor{[]int{0}, []float64{}}},
		{`[[], []]`, Tensor{[]int{2, 0}, []float64{}}},
		{` 7 `, Tensor{[]int{}, []float64{7}}},
		{`{"shape": [], "data": 7}`, Tensor{[]int{}, []float64{7}}},
		{`{"shape": [], "data": [7]}`, Tensor{[]int{}, []float64{7}}},
	}
	for _, c := range ok {
		got, err := Read(strings.NewReader(c.in), "json")
		if err != nil || !sameTensor(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{``, "empty"},
		{`{"shape": [2, 2], "data": [1, 2, 3]}`, "needs 4 elements"},
		{`[[1, 2], [3]]`, "ragged"},
		{`[[1, 2], 3]`, "ragged"},
		{`[1, [2]]`, "ragged"},
		{`[1, null]`, "null"},
		{`["a"]`, "string"},
		{`{"shape": [2]}`, "missing key \"data\""},
		{`{"shape": [-1], "data": []}`, "non-negative"},
		{`{"shape": [1.5], "data": [1]}`, "non-negative"},
		{`{"shape": "x", "data": [1]}`, "shape"},
		{`{"shape": [1], "data": [1], "x": 1}`, "unexpected key"},
		{`[1e999]`, "out of float64 range"},
		{`[1] [2]`, "after the top-level value"},
		{`[1, 2`, "invalid JSON"},
		{`true`, "boolean"},
	}
	for _, c := range bad {
		_, err := Read(strings.NewReader(c.in), "json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

// checkDecoded is the fuzz property: a decoded tensor is consistent and
// survives a float64 round trip through every format.
func checkDecoded(t *testing.T, got Tensor) {
	if err := got.Validate(); err != nil {
		t.Fatalf("decoded an invalid tensor: %v", err)
	}
	for _, f := range []string{FormatNPY, FormatPB} {
		var buf bytes.Buffer
		if err := Write(&buf, f, got); err != nil {
			t.Fatalf("%s: re-encode: %v", f, err)
		}
		again, err := Read(&buf, f)
		if err != nil || !sameTensor(got, again) {
			t.Fatalf("%s: round trip changed the tensor: %v", f, err)
		}
	}
}

func fuzzSeeds(f *testing.F, format string) {
	for _, dt := range []DType{Float64, Float32, Int32, Int64} {
		for _, shape := range roundTripShapes {
			var buf bytes.Buffer
			if err := WriteAs(&buf, format, ramp(shape...), dt); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
}

func FuzzReadNPY(f *testing.F) {
	fuzzSeeds(f, FormatNPY)
	f.Add(npyFile("{'descr': '>f4', 'fortran_order': True, 'shape': (1, 2), }", le32(3, 4)))
	f.Add(npyFile("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", []byte{0, 0, 0, 0}))
	f.Add([]byte("\x93NUMPY\x01\x00\x05\x00{'a':"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Read(bytes.NewReader(b), FormatNPY)
		if err == nil {
			checkDecoded(t, got)
		}
	})
}

func FuzzReadPB(f *testing.F) {
	fuzzSeeds(f, FormatPB)
	f.Add(marshalTP(f, &onnxpb.TensorProto{Dims: []int64{2}, DataType: 1, FloatData: []float32{1.5, -2}}))
	f.Add(marshalTP(f, &onnxpb.TensorProto{Dims: []int64{1}, DataType: 7, Int64Data: []int64{-9}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Read(bytes.NewReader(b), FormatPB)
		if err == nil {
			checkDecoded(t, got)
		}
	})
}

func FuzzReadJSON(f *testing.F) {
	fuzzSeeds(f, FormatJSON)
	f.Add([]byte(`[[1, 2], [3, 4]]`))
	f.Add([]byte(`{"shape": [2, 1], "data": [[1], [2]]}`))
	f.Add([]byte(`[[1, 2], [3]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Read(bytes.NewReader(b), FormatJSON)
		if err == nil {
			checkDecoded(t, got)
			var buf bytes.Buffer
			if err := Write(&buf, FormatJSON, got); err != nil {
				t.Fatalf("json re-encode: %v", err)
			}
			again, err := Read(&buf, FormatJSON)
			if err != nil || !sameTensor(got, again) {
				t.Fatalf("json round trip changed the tensor: %v", err)
			}
		}
	})
}
