// Package tensorio reads and writes dense tensors in the formats ML tooling
// uses to exchange them: NumPy .npy files, serialized ONNX TensorProto (.pb)
// files and a small JSON form.
//
// Every tensor is held in memory as float64 values in row-major (C) order,
// whatever its on-disk element type. Decoders never panic: corrupt, truncated
// or unsupported input is reported as an error that says what is wrong.
package tensorio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Tensor is a dense tensor: Data holds the elements in row-major (C) order,
// and len(Data) is the product of Shape (1 for a scalar, whose Shape is
// empty).
type Tensor struct {
	Shape []int
	Data  []float64
}

// Size returns the number of elements the shape describes, or an error if a
// dimension is negative or the product overflows an int.
func Size(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// Validate checks that the shape has no negative dimension and that Data
// holds exactly as many elements as the shape describes.
func (t Tensor) Validate() error {
	n, err := Size(t.Shape)
	if err != nil {
		return err
	}
	if n != len(t.Data) {
		return fmt.Errorf("shape %v needs %d elements, data has %d", t.Shape, n, len(t.Data))
	}
	return nil
}

// DType is an element type a tensor can be written as.
type DType int

// The element types tensorio writes. Float64 is the default of Write and
// WriteFile; integer types require every element to be an integer in range.
const (
	Float64 DType = iota
	Float32
	Int32
	Int64
)

func (d DType) String() string {
	switch d {
	case Float64:
		return "float64"
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Format names accepted by Read and Write.
const (
	FormatNPY  = "npy"
	FormatPB   = "pb"
	FormatJSON = "json"
)

// ErrUnknownFormat is returned (wrapped) for a format name or file extension
// tensorio does not handle.
var ErrUnknownFormat = errors.New("unknown tensor format")

// FormatOf returns the format name for a path's extension: "npy", "pb" or
// "json".
func FormatOf(path string) (string, error) {
	ext := filepath.Ext(path)
	f, err := normFormat(ext)
	if err != nil {
		return "", fmt.Errorf("tensorio: %s: %w (extension %q; want .npy, .pb or .json)", path, ErrUnknownFormat, ext)
	}
	return f, nil
}

func normFormat(format string) (string, error) {
	switch strings.ToLower(strings.TrimPrefix(format, ".")) {
	case "npy":
		return FormatNPY, nil
	case "pb":
		return FormatPB, nil
	case "json":
		return FormatJSON, nil
	}
	return "", ErrUnknownFormat
}

// ReadFile reads a tensor from path, choosing the decoder by extension:
// .npy (float32, float64, int32 or int64, C order), .pb (an ONNX TensorProto
// of type FLOAT, DOUBLE, INT32 or INT64, in raw_data or the typed fields) or
// .json ({"shape": [...], "data": [...]} or nested arrays).
func ReadFile(path string) (Tensor, error) {
	format, err := FormatOf(path)
	if err != nil {
		return Tensor{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensorio: %w", err)
	}
	defer f.Close()
	t, err := Read(f, format)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Read decodes a tensor in the named format ("npy", "pb" or "json"; a
// leading dot and upper case are accepted) from r, which it reads to the end.
func Read(r io.Reader, format string) (Tensor, error) {
	f, err := normFormat(format)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensorio: %w %q (want npy, pb or json)", ErrUnknownFormat, format)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensorio: reading %s: %w", f, err)
	}
	var t Tensor
	switch f {
	case FormatNPY:
		t, err = decodeNPY(b)
	case FormatPB:
		t, err = decodePB(b)
	case FormatJSON:
		t, err = decodeJSON(b)
	}
	if err != nil {
		return Tensor{}, fmt.Errorf("tensorio: %s: %w", f, err)
	}
	return t, nil
}

// WriteFile writes t to path in the format its extension names (.npy, .json
// or .pb). Numbers are written as float64: an .npy file of dtype '<f8' or a
// TensorProto of type DOUBLE.
func WriteFile(path string, t Tensor) error {
	return WriteFileAs(path, t, Float64)
}

// WriteFileAs is WriteFile with the element type chosen by dtype (ignored by
// JSON, which has only one kind of number).
func WriteFileAs(path string, t Tensor, dtype DType) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteAs(&buf, format, t, dtype); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("tensorio: %w", err)
	}
	return nil
}

// Write encodes t in the named format ("npy", "pb" or "json") as float64.
func Write(w io.Writer, format string, t Tensor) error {
	return WriteAs(w, format, t, Float64)
}

// WriteAs encodes t in the named format with elements of type dtype. For the
// integer types every element must be an integer the type can hold. The
// output is deterministic: the same tensor always gives the same bytes.
func WriteAs(w io.Writer, format string, t Tensor, dtype DType) error {
	f, err := normFormat(format)
	if err != nil {
		return fmt.Errorf("tensorio: %w %q (want npy, pb or json)", ErrUnknownFormat, format)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("tensorio: %w", err)
	}
	var b []byte
	switch f {
	case FormatNPY:
		b, err = encodeNPY(t, dtype)
	case FormatPB:
		b, err = encodePB(t, dtype)
	case FormatJSON:
		b, err = encodeJSON(t)
	}
	if err != nil {
		return fmt.Errorf("tensorio: %s: %w", f, err)
	}
	_, err = w.Write(b)
	return err
}

// checkConvert reports an error if v cannot be stored exactly as dtype
// (integer types) and returns the index of the first offending element.
func checkConvert(data []float64, dtype DType) error {
	var lo, hi float64
	switch dtype {
	case Float64, Float32:
		return nil
	case Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case Int64:
		// float64(MaxInt64) rounds up to 2^63, which is out of range.
		lo, hi = math.MinInt64, 0x1p63
	default:
		return fmt.Errorf("unsupported dtype %v", dtype)
	}
	for i, v := range data {
		if v != math.Trunc(v) || v < lo || v > hi || (dtype == Int64 && v == hi) {
			return fmt.Errorf("element %d (%v) is not representable as %v", i, v, dtype)
		}
	}
	return nil
}
