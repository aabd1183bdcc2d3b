package tensorio

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/fhec/fhec/internal/onnxpb"
)

// onnxTypeName names an ONNX TensorProto data type for messages.
func onnxTypeName(dt int32) string {
	if n, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return n
	}
	return "unknown"
}

// decodePB decodes a serialized ONNX TensorProto.
func decodePB(b []byte) (Tensor, error) {
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		return Tensor{}, fmt.Errorf("not a valid ONNX TensorProto: %w", err)
	}
	return FromTensorProto(&tp)
}

// FromTensorProto converts an ONNX TensorProto of type FLOAT, DOUBLE, INT32
// or INT64, with its data in raw_data or in the typed field, to a Tensor.
func FromTensorProto(tp *onnxpb.TensorProto) (Tensor, error) {
	name := ""
	if tp.GetName() != "" {
		name = fmt.Sprintf("tensor %q: ", tp.GetName())
	}
	if tp.GetDataLocation() != 0 {
		return Tensor{}, fmt.Errorf("%sexternal data is not supported", name)
	}
	shape := make([]int, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		if d < 0 || int64(int(d)) != d {
			return Tensor{}, fmt.Errorf("%sinvalid dimension %d in dims %v", name, d, tp.GetDims())
		}
		shape[i] = int(d)
	}
	n, err := Size(shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s%w", name, err)
	}
	dt := tp.GetDataType()
	var size int
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32:
		size = 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64:
		size = 8
	case onnxpb.TensorProto_UNDEFINED:
		return Tensor{}, fmt.Errorf("%sdata_type is not set", name)
	default:
		return Tensor{}, fmt.Errorf("%sunsupported data type %s (%d); supported: FLOAT, DOUBLE, INT32, INT64", name, onnxTypeName(dt), dt)
	}
	typed := len(tp.GetFloatData()) + len(tp.GetDoubleData()) + len(tp.GetInt32Data()) + len(tp.GetInt64Data())
	raw := tp.GetRawData()
	if len(raw) > 0 && typed > 0 {
		return Tensor{}, fmt.Errorf("%shas both raw_data and typed data", name)
	}
	data := make([]float64, 0)
	if len(raw) > 0 || typed == 0 {
		if len(raw) == 0 && n > 0 {
			return Tensor{}, fmt.Errorf("%shas no data: dims %v need %d elements of %s", name, shape, n, onnxTypeName(dt))
		}
		if len(raw)%size != 0 || len(raw)/size != n {
			return Tensor{}, fmt.Errorf("%sraw_data has %d bytes (%s is %d bytes), dims %v need %d elements", name, len(raw), onnxTypeName(dt), size, shape, n)
		}
		data = make([]float64, n)
		le := binary.LittleEndian
		for i := range data {
			switch onnxpb.TensorProto_DataType(dt) {
			case onnxpb.TensorProto_FLOAT:
				data[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
			case onnxpb.TensorProto_INT32:
				data[i] = float64(int32(le.Uint32(raw[4*i:])))
			case onnxpb.TensorProto_DOUBLE:
				data[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			case onnxpb.TensorProto_INT64:
				data[i] = float64(int64(le.Uint64(raw[8*i:])))
			}
		}
		return Tensor{Shape: shape, Data: data}, nil
	}
	var field string
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT:
		field = "float_data"
		for _, v := range tp.GetFloatData() {
			data = append(data, float64(v))
		}
	case onnxpb.TensorProto_DOUBLE:
		field = "double_data"
		data = append(data, tp.GetDoubleData()...)
	case onnxpb.TensorProto_INT32:
		field = "int32_data"
		for _, v := range tp.GetInt32Data() {
			data = append(data, float64(v))
		}
	case onnxpb.TensorProto_INT64:
		field = "int64_data"
		for _, v := range tp.GetInt64Data() {
			data = append(data, float64(v))
		}
	}
	if len(data) != typed {
		return Tensor{}, fmt.Errorf("%sdata of type %s is stored in a field other than %s", name, onnxTypeName(dt), field)
	}
	if len(data) != n {
		return Tensor{}, fmt.Errorf("%s%s has %d elements, dims %v need %d", name, field, len(data), shape, n)
	}
	return Tensor{Shape: shape, Data: data}, nil
}

// ToTensorProto converts t to an ONNX TensorProto of the given type with the
// data in raw_data (little-endian), as onnx.numpy_helper.from_array does.
func ToTensorProto(t Tensor, name string, dtype DType) (*onnxpb.TensorProto, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := checkConvert(t.Data, dtype); err != nil {
		return nil, err
	}
	tp := &onnxpb.TensorProto{Name: name, Dims: make([]int64, len(t.Shape))}
	for i, d := range t.Shape {
		tp.Dims[i] = int64(d)
	}
	switch dtype {
	case Float64:
		tp.DataType = int32(onnxpb.TensorProto_DOUBLE)
	case Float32:
		tp.DataType = int32(onnxpb.TensorProto_FLOAT)
	case Int32:
		tp.DataType = int32(onnxpb.TensorProto_INT32)
	case Int64:
		tp.DataType = int32(onnxpb.TensorProto_INT64)
	default:
		return nil, fmt.Errorf("unsupported dtype %v", dtype)
	}
	tp.RawData = appendLE([]byte{}, t.Data, dtype)
	return tp, nil
}

func encodePB(t Tensor, dtype DType) ([]byte, error) {
	tp, err := ToTensorProto(t, "", dtype)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(tp)
}
