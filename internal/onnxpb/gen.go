// Package onnxpb holds Go types for the subset of the ONNX protobuf schema
// that fhec reads (frontend) and writes (the test-model generator).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
