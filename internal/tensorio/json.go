package tensorio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// decodeJSON decodes {"shape": [...], "data": [...]} (data flat or nested),
// a bare nested array of numbers, or a bare number (a scalar).
func decodeJSON(b []byte) (Tensor, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return Tensor{}, fmt.Errorf("empty input")
		}
		return Tensor{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Tensor{}, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		shape, data, err := nested(v)
		if err != nil {
			return Tensor{}, err
		}
		return Tensor{Shape: shape, Data: data}, nil
	}
	for k := range obj {
		if k != "shape" && k != "data" && k != "dtype" {
			return Tensor{}, fmt.Errorf("unexpected key %q (want \"shape\" and \"data\")", k)
		}
	}
	if d, ok := obj["dtype"]; ok {
		if _, ok := d.(string); !ok {
			return Tensor{}, fmt.Errorf("\"dtype\" must be a string")
		}
	}
	rawData, ok := obj["data"]
	if !ok {
		return Tensor{}, fmt.Errorf("missing key \"data\"")
	}
	inferred, data, err := nested(rawData)
	if err != nil {
		return Tensor{}, err
	}
	rawShape, ok := obj["shape"]
	if !ok {
		return Tensor{Shape: inferred, Data: data}, nil
	}
	arr, ok := rawShape.([]any)
	if !ok {
		return Tensor{}, fmt.Errorf("\"shape\" must be an array of non-negative integers")
	}
	shape := make([]int, len(arr))
	for i, e := range arr {
		num, ok := e.(json.Number)
		if !ok {
			return Tensor{}, fmt.Errorf("\"shape\"[%d] is not a number", i)
		}
		d, err := strconv.Atoi(num.String())
		if err != nil || d < 0 {
			return Tensor{}, fmt.Errorf("\"shape\"[%d] = %s is not a non-negative integer", i, num)
		}
		shape[i] = d
	}
	t := Tensor{Shape: shape, Data: data}
	if err := t.Validate(); err != nil {
		return Tensor{}, err
	}
	return t, nil
}

// nested flattens a number or a rectangular nest of arrays of numbers and
// returns its shape.
func nested(v any) ([]int, []float64, error) {
	shape := []int{}
	for cur := v; ; {
		arr, ok := cur.([]any)
		if !ok {
			break
		}
		shape = append(shape, len(arr))
		if len(arr) == 0 {
			break
		}
		cur = arr[0]
	}
	n, err := Size(shape)
	if err != nil {
		return nil, nil, err
	}
	data := make([]float64, 0, n)
	var walk func(v any, depth int, path string) error
	walk = func(v any, depth int, path string) error {
		if depth == len(shape) {
			num, ok := v.(json.Number)
			if !ok {
				if _, isArr := v.([]any); isArr {
					return fmt.Errorf("ragged array: %s is an array, want a number (shape %v)", pathOr(path), shape)
				}
				return fmt.Errorf("%s is %s, want a number", pathOr(path), jsonKind(v))
			}
			f, err := strconv.ParseFloat(num.String(), 64)
			if err != nil {
				return fmt.Errorf("%s = %s is out of float64 range", pathOr(path), num)
			}
			data = append(data, f)
			return nil
		}
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("ragged array: %s is %s, want an array of length %d", pathOr(path), jsonKind(v), shape[depth])
		}
		if len(arr) != shape[depth] {
			return fmt.Errorf("ragged array: %s has length %d, want %d", pathOr(path), len(arr), shape[depth])
		}
		for i, e := range arr {
			if err := walk(e, depth+1, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v, 0, ""); err != nil {
		return nil, nil, err
	}
	return shape, data, nil
}

func pathOr(p string) string {
	if p == "" {
		return "the value"
	}
	return "element " + p
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a number"
}

// encodeJSON writes {"shape": [...], "data": [...]} with the shortest
// decimal form of each float64 that reads back exactly.
func encodeJSON(t Tensor) ([]byte, error) {
	for i, v := range t.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("element %d is %v, which JSON cannot represent", i, v)
		}
	}
	shape := t.Shape
	if shape == nil {
		shape = []int{}
	}
	data := t.Data
	if data == nil {
		data = []float64{}
	}
	b, err := json.Marshal(struct {
		Shape []int     `json:"shape"`
		Data  []float64 `json:"data"`
	}{shape, data})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
