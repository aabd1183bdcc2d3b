// Package frontend imports ONNX models as tensor-level ir.Func values.
//
// # Entry points
//
// Load (bytes) and LoadFile (a path) decode a model, check that every node is
// supported, and build an SSA function: graph inputs that are not
// initializers become parameters of type tensor<shape, secret> (symbolic
// dims take Options.BatchSize), initializers and Constant nodes become
// entries of the constant pool referenced by const ops, each node becomes
// zero or more ops, and the graph outputs become the results. ir.Verify runs
// at the end. Errors never come as panics, whatever the bytes (FuzzLoad).
//
// Supported ONNX ops (default domain): Add, Constant, Div (by a constant),
// Dropout (inference: identity), Flatten, Gemm, Identity, MatMul, Mul, Neg,
// Relu, Reshape (the shape must be constant; 0 and -1 are resolved), Sub,
// and the neural-network ops of ops_nn.go (IR rows in ir/ops_nn.go, where
// each op's attributes are documented):
//
//   - Conv (N-D, 1-D and 2-D included; strides, pads, dilations, group with
//     depthwise, bias; auto_pad NOTSET/VALID/SAME_UPPER/SAME_LOWER is
//     resolved into explicit pads from the static input shape) -> conv;
//   - AveragePool (count_include_pad, ceil_mode, auto_pad, dilations from
//     opset 19), MaxPool (ceil_mode, auto_pad, dilations from opset 10; only
//     the values output: the Indices output may be named but not used),
//     GlobalAveragePool, GlobalMaxPool -> averagepool, maxpool,
//     globalaveragepool, globalmaxpool;
//   - BatchNormalization (inference: the given mean and var; training_mode=1
//     and spatial=0 on rank > 2 are refused, is_test is ignored, the
//     running-statistics outputs may not be used) -> batchnorm;
//   - Transpose (default perm: reversed) -> transpose; Squeeze and Unsqueeze
//     (axes as an attribute before opset 13, a constant input from 13) ->
//     reshape with the resolved shape; Concat -> concat;
//   - Pad (pads and value as attributes before opset 11, "paddings" before 2;
//     constant inputs pads, constant_value, axes from 11; modes constant,
//     reflect, edge, wrap) -> pad with pads over every axis;
//   - Clip (min/max attributes before opset 11, optional constant inputs
//     from 11) -> clip with min/max attributes;
//   - Sum, Mean -> sum, mean; Pow (the exponent must be constant) -> pow;
//     PRelu (before opset 7 a 1-D slope of C values applies per channel)
//     -> prelu;
//   - Sigmoid, Tanh, Erf, Softplus, Exp, Log, Sqrt, Abs, Reciprocal, Sign,
//     Mish, HardSwish, LeakyRelu, Elu, Selu, HardSigmoid, Gelu (approximate
//     none/tanh) -> the lower-case op, float attributes with ONNX's defaults;
//   - Softmax, LogSoftmax (opset >= 13: one axis, default -1; before: the
//     input is coerced to 2-D at axis, default 1, which becomes reshape, the
//     op along dim 1, reshape back) -> softmax, logsoftmax;
//   - ArgMax (keepdims, select_last_index) -> argmax, indices as float64.
//
// Inputs that the ops need at compile time (Reshape's shape, the axes of
// Squeeze/Unsqueeze, Pad's pads and value, Clip's bounds, the exponent of
// Pow, the divisor of Div) must be initializers, Constant outputs or values
// bound with Options.Constants. Weights of Conv, BatchNormalization, PRelu,
// Gemm and MatMul are ordinary operands (const ops for a real model).
//
// Any other node gives an *UnsupportedOpError naming the node (its name, or
// its first output when unnamed), its op type and the supported list.
//
// # Split between onnx-go and onnxpb
//
// The model is decoded twice from the same bytes, by two decoders with
// different jobs:
//
//   - github.com/owulveryck/onnx-go (required by the project) decodes the
//     graph into our own gonum graph (onnxGraph implements onnx.Backend on a
//     gonum simple.WeightedDirectedGraph): it gives the tensor data of every
//     initializer (as gorgonia tensors, converted to float64), the
//     operation of every node (op type and decoded attributes, through
//     ApplyOperation, including Constant value tensors) and the edges
//     between values (used as a cross-check of the node inputs).
//
//   - internal/onnxpb, our own generated protobuf types, decodes the same
//     bytes for what onnx-go loses or gets wrong, and is authoritative for
//     the structure:
//     node input lists in order, repeated inputs included (onnx-go's simple
//     graph keeps one edge per pair, so Mul(x, x) — CryptoNets' square —
//     loses an input);
//     the shapes of graph inputs, with dim_param (onnx-go silently drops
//     symbolic dims, so [N, 784] would become [784]);
//     opset_import and node domains (onnx-go exposes neither; opset < 7
//     legacy broadcasting and opset < 5 Reshape depend on them);
//     zero-size tensors (onnx-go panics or fails on them);
//     non-tensor or untyped graph outputs and value_info entries (onnx-go
//     rejects them).
//
// Before onnx-go runs, the onnxpb decode validates the model (structure,
// supported ops, tensor sizes against dims, element-count limits), and
// onnx-go is handed a sanitized re-encoding: value types stripped from the
// graph inputs, outputs and value_info (they are read from onnxpb) and
// zero-size tensors removed (decoded from onnxpb instead). onnx-go's own
// panics are recovered into errors.
package frontend
