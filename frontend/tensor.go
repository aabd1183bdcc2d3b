package frontend

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"

	"github.com/fhec/fhec/internal/onnxpb"
	"github.com/fhec/fhec/ir"
)

// maxElements bounds the element count of any tensor shape the frontend
// accepts (declared input shapes, constants, reshape targets), so that a
// hostile file cannot make later stages allocate without limit.
const maxElements = 1 << 31

// DecodeTensor decodes a serialized ONNX TensorProto (the .pb files of the
// ONNX test data sets, for instance) into a float64 array. Supported element
// types: FLOAT, DOUBLE, INT8, UINT8, INT16, UINT16, INT32, INT64, UINT32,
// UINT64 and BOOL, from raw_data or the typed fields.
func DecodeTensor(data []byte) (ir.Array, error) {
	tp := new(onnxpb.TensorProto)
	if err := proto.Unmarshal(data, tp); err != nil {
		return ir.Array{}, fmt.Errorf("frontend: not a valid ONNX TensorProto: %w", err)
	}
	a, err := tensorFromProto(tp)
	if err != nil {
		return ir.Array{}, fmt.Errorf("frontend: tensor %q: %w", tp.GetName(), err)
	}
	return a, nil
}

// DecodeTensorProto is DecodeTensor on an already decoded message.
func DecodeTensorProto(tp *onnxpb.TensorProto) (ir.Array, error) {
	return tensorFromProto(tp)
}

func dtypeName(dt int32) string {
	if _, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return onnxpb.TensorProto_DataType(dt).String()
	}
	return fmt.Sprintf("data type %d", dt)
}

// shapeOf checks dims (non-negative, element count <= maxElements) and
// returns them as ints with the element count.
func shapeOf(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	n, nz := int64(1), int64(1) // nz: product of the non-zero dims, bounded too
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d > 0 {
			if nz > maxElements/d {
				return nil, 0, fmt.Errorf("shape %v has more than %d elements", dims, int64(maxElements))
			}
			nz *= d
		}
		n *= d
		shape[i] = int(d)
	}
	return shape, int(n), nil
}

// elemSize is the raw_data size of one element, 0 for unsupported types.
func elemSize(dt int32) int {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
		return 8
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		return 1
	case onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		return 2
	}
	return 0
}

// tensorCount returns the number of elements the message stores, checking
// it against its dims, without decoding.
func tensorCount(tp *onnxpb.TensorProto) ([]int, int, error) {
	if tp.GetDataLocation() != 0 || len(tp.GetExternalData()) > 0 {
		return nil, 0, fmt.Errorf("external data is not supported")
	}
	shape, n, err := shapeOf(tp.GetDims())
	if err != nil {
		return nil, 0, err
	}
	dt := tp.GetDataType()
	size := elemSize(dt)
	if size == 0 {
		return nil, 0, fmt.Errorf("element type %s is not supported", dtypeName(dt))
	}
	var have int
	switch {
	case len(tp.GetRawData()) > 0:
		if len(tp.RawData)%size != 0 {
			return nil, 0, fmt.Errorf("raw_data has %d bytes, not a multiple of %d (%s)", len(tp.RawData), size, dtypeName(dt))
		}
		have = len(tp.RawData) / size
	default:
		switch onnxpb.TensorProto_DataType(dt) {
		case onnxpb.TensorProto_FLOAT:
			have = len(tp.GetFloatData())
		case onnxpb.TensorProto_DOUBLE:
			have = len(tp.GetDoubleData())
		case onnxpb.TensorProto_INT64:
			have = len(tp.GetInt64Data())
		case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
			have = len(tp.GetUint64Data())
		default:
			have = len(tp.GetInt32Data())
		}
	}
	if have != n {
		return nil, 0, fmt.Errorf("shape %v needs %d values, the tensor stores %d", shape, n, have)
	}
	return shape, n, nil
}

func tensorFromProto(tp *onnxpb.TensorProto) (ir.Array, error) {
	shape, n, err := tensorCount(tp)
	if err != nil {
		return ir.Array{}, err
	}
	out := make([]float64, n)
	dt := onnxpb.TensorProto_DataType(tp.GetDataType())
	if raw := tp.GetRawData(); len(raw) > 0 {
		le := binary.LittleEndian
		for i := range out {
			switch dt {
			case onnxpb.TensorProto_FLOAT:
				out[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
			case onnxpb.TensorProto_DOUBLE:
				out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			case onnxpb.TensorProto_INT32:
				out[i] = float64(int32(le.Uint32(raw[4*i:])))
			case onnxpb.TensorProto_UINT32:
				out[i] = float64(le.Uint32(raw[4*i:]))
			case onnxpb.TensorProto_INT64:
				out[i] = float64(int64(le.Uint64(raw[8*i:])))
			case onnxpb.TensorProto_UINT64:
				out[i] = float64(le.Uint64(raw[8*i:]))
			case onnxpb.TensorProto_INT16:
				out[i] = float64(int16(le.Uint16(raw[2*i:])))
			case onnxpb.TensorProto_UINT16:
				out[i] = float64(le.Uint16(raw[2*i:]))
			case onnxpb.TensorProto_INT8:
				out[i] = float64(int8(raw[i]))
			case onnxpb.TensorProto_UINT8:
				out[i] = float64(raw[i])
			case onnxpb.TensorProto_BOOL:
				if raw[i] != 0 {
					out[i] = 1
				}
			}
		}
		return ir.Array{Shape: shape, Data: out}, nil
	}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		for i, v := range tp.GetFloatData() {
			out[i] = float64(v)
		}
	case onnxpb.TensorProto_DOUBLE:
		copy(out, tp.GetDoubleData())
	case onnxpb.TensorProto_INT64:
		for i, v := range tp.GetInt64Data() {
			out[i] = float64(v)
		}
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		for i, v := range tp.GetUint64Data() {
			out[i] = float64(v)
		}
	case onnxpb.TensorProto_BOOL:
		for i, v := range tp.GetInt32Data() {
			if v != 0 {
				out[i] = 1
			}
		}
	default: // INT8, UINT8, INT16, UINT16, INT32 live in int32_data
		for i, v := range tp.GetInt32Data() {
			out[i] = float64(v)
		}
	}
	return ir.Array{Shape: shape, Data: out}, nil
}

// modelTensorTypes are the element types accepted for initializers and
// Constant values: the ones onnx-go decodes correctly.
func modelTensorType(dt int32) bool {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT64:
		return true
	}
	return false
}

// fromGorgonia converts a tensor decoded by onnx-go to float64, checking
// that it holds n elements.
func fromGorgonia(t tensor.Tensor, shape []int, n int) (ir.Array, error) {
	if t == nil {
		return ir.Array{}, fmt.Errorf("onnx-go decoded no data")
	}
	out := make([]float64, 0, n)
	switch d := t.Data().(type) {
	case []float32:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []float64:
		out = append(out, d...)
	case []int64:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []int32:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case float32:
		out = append(out, float64(d))
	case float64:
		out = append(out, d)
	case int64:
		out = append(out, float64(d))
	case int32:
		out = append(out, float64(d))
	default:
		return ir.Array{}, fmt.Errorf("onnx-go decoded an unsupported element type %v", t.Dtype())
	}
	if len(out) != n {
		return ir.Array{}, fmt.Errorf("onnx-go decoded %d values for shape %v", len(out), shape)
	}
	return ir.Array{Shape: append([]int{}, shape...), Data: out}, nil
}
