package onnxbuild

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fhec/fhec/internal/onnxpb"
)

// MLP is a multi-layer perceptron with float32 weights, as RandomMLP writes
// it: optionally a Flatten or Reshape in front, then for each layer i a
// Gemm(transB=1) with weight [Sizes[i+1], Sizes[i]] and bias [Sizes[i+1]],
// and the activation (Relu, or Mul(h, h) for "square") between layers, not
// after the last one.
type MLP struct {
	Name      string
	Opset     int64
	Sizes     []int
	Act       string      // "relu" or "square"
	Front     string      // "", "flatten" or "reshape"
	InputDims []int64     // input shape without the batch dimension
	Batch     int64       // batch dimension; -1 is symbolic ("batch")
	Weights   [][]float32 // Weights[i] is [Sizes[i+1]][Sizes[i]], row-major
	Biases    [][]float32 // Biases[i] has Sizes[i+1] values
}

// InputName and OutputName name the graph input and output of RandomMLP
// models.
const (
	InputName  = "input"
	OutputName = "output"
)

// MLPOption configures RandomMLP and NewRandomMLP.
type MLPOption func(*MLP)

// WithFlatten puts a Flatten(axis=1) in front; the graph input becomes
// [batch, dims...] (the product of dims must be sizes[0]; no dims means
// [batch, sizes[0]]).
func WithFlatten(dims ...int64) MLPOption {
	return func(m *MLP) { m.Front, m.InputDims = "flatten", dims }
}

// WithReshape puts a Reshape to [-1, sizes[0]] (shape from an int64
// initializer) in front; the graph input becomes [batch, dims...].
func WithReshape(dims ...int64) MLPOption {
	return func(m *MLP) { m.Front, m.InputDims = "reshape", dims }
}

// WithOpset sets the opset version (default 13).
func WithOpset(v int64) MLPOption { return func(m *MLP) { m.Opset = v } }

// WithName sets the graph name (default "random_mlp").
func WithName(name string) MLPOption { return func(m *MLP) { m.Name = name } }

// WithBatch fixes the batch dimension (default symbolic "batch").
func WithBatch(n int64) MLPOption { return func(m *MLP) { m.Batch = n } }

// NewRandomMLP makes an MLP with layer widths sizes (input first) whose
// weights and biases are drawn uniformly from ±1/sqrt(fan_in) by a PCG
// generator seeded with seed: the same arguments give the same model.
func NewRandomMLP(seed uint64, sizes []int, act string, opts ...MLPOption) (*MLP, error) {
	m := &MLP{Name: "random_mlp", Opset: 13, Sizes: append([]int(nil), sizes...), Act: act, Batch: -1}
	for _, o := range opts {
		o(m)
	}
	if len(sizes) < 2 {
		return nil, fmt.Errorf("onnxbuild: RandomMLP: need at least 2 sizes, got %v", sizes)
	}
	for _, s := range sizes {
		if s < 1 {
			return nil, fmt.Errorf("onnxbuild: RandomMLP: sizes must be positive, got %v", sizes)
		}
	}
	switch act {
	case "relu", "square", "sigmoid", "tanh", "gelu":
	default:
		return nil, fmt.Errorf("onnxbuild: RandomMLP: activation %q (want relu, square, sigmoid, tanh or gelu)", act)
	}
	if len(m.InputDims) == 0 {
		m.InputDims = []int64{int64(sizes[0])}
	}
	prod := int64(1)
	for _, d := range m.InputDims {
		if d < 1 {
			return nil, fmt.Errorf("onnxbuild: RandomMLP: input dims %v must be positive", m.InputDims)
		}
		prod *= d
	}
	if prod != int64(sizes[0]) {
		return nil, fmt.Errorf("onnxbuild: RandomMLP: input dims %v hold %d values, sizes[0] is %d", m.InputDims, prod, sizes[0])
	}
	if m.Front == "" && len(m.InputDims) != 1 {
		return nil, fmt.Errorf("onnxbuild: RandomMLP: input dims %v need WithFlatten or WithReshape", m.InputDims)
	}
	rng := rand.NewPCG(seed, 0x853c49e6748fea9b)
	uniform := func(a float64) float32 {
		u := float64(rng.Uint64()>>11) * 0x1p-53 // [0, 1)
		return float32(a * (2*u - 1))
	}
	for i := 0; i+1 < len(sizes); i++ {
		in, out := sizes[i], sizes[i+1]
		a := 1 / math.Sqrt(float64(in))
		w := make([]float32, out*in)
		for j := range w {
			w[j] = uniform(a)
		}
		bias := make([]float32, out)
		for j := range bias {
			bias[j] = uniform(a)
		}
		m.Weights = append(m.Weights, w)
		m.Biases = append(m.Biases, bias)
	}
	return m, nil
}

// RandomMLP returns the serialized ONNX model of NewRandomMLP(seed, sizes,
// act, opts...): input "input" [batch, ...], output "output" [batch,
// sizes[len-1]], weights "fc<i>.weight" and "fc<i>.bias".
func RandomMLP(seed uint64, sizes []int, act string, opts ...MLPOption) ([]byte, error) {
	m, err := NewRandomMLP(seed, sizes, act, opts...)
	if err != nil {
		return nil, err
	}
	return m.Marshal()
}

// Builder returns a Builder holding the MLP's graph.
func (m *MLP) Builder() *Builder {
	b := New(m.Name, m.Opset)
	b.SetDocString(fmt.Sprintf("random MLP %v, activation %s", m.Sizes, m.Act))
	x := b.Input(InputName, append([]int64{m.Batch}, m.InputDims...))
	switch m.Front {
	case "flatten":
		x = b.Node("Flatten", []string{x}, map[string]any{"axis": int64(1)})
	case "reshape":
		shape := b.InitializerInt64("reshape.shape", []int64{2}, []int64{-1, int64(m.Sizes[0])})
		x = b.Node("Reshape", []string{x, shape}, nil)
	case "":
	default:
		b.fail(fmt.Errorf("unknown front %q", m.Front))
	}
	for i := range m.Weights {
		in, out := int64(m.Sizes[i]), int64(m.Sizes[i+1])
		w := b.Initializer(fmt.Sprintf("fc%d.weight", i+1), []int64{out, in}, m.Weights[i])
		bias := b.Initializer(fmt.Sprintf("fc%d.bias", i+1), []int64{out}, m.Biases[i])
		gemm := map[string]any{"transB": int64(1)}
		if i+1 == len(m.Weights) {
			x = b.NodeOutputs("Gemm", []string{x, w, bias}, []string{OutputName}, gemm)[0]
		} else {
			x = b.Node("Gemm", []string{x, w, bias}, gemm)
			switch m.Act {
			case "relu":
				x = b.Node("Relu", []string{x}, nil)
			case "square":
				x = b.Node("Mul", []string{x, x}, nil)
			case "sigmoid":
				x = b.Node("Sigmoid", []string{x}, nil)
			case "tanh":
				x = b.Node("Tanh", []string{x}, nil)
			case "gelu": // opset >= 20 has Gelu; older exporters write the erf form
				x = b.Node("Gelu", []string{x}, nil)
			}
		}
	}
	b.Output(OutputName, []int64{m.Batch, int64(m.Sizes[len(m.Sizes)-1])})
	return b
}

// Model returns the MLP as an ONNX model.
func (m *MLP) Model() (*onnxpb.ModelProto, error) { return m.Builder().Model() }

// Marshal returns the serialized ONNX model (deterministic bytes).
func (m *MLP) Marshal() ([]byte, error) { return m.Builder().Marshal() }

// Forward evaluates the MLP in float64 on a batch of inputs laid out
// row-major (len(x) a multiple of Sizes[0]) and returns the outputs,
// Sizes[len-1] per sample: the reference an ONNX runtime should match to
// float32 precision.
func (m *MLP) Forward(x []float64) ([]float64, error) {
	n0 := m.Sizes[0]
	if len(x)%n0 != 0 {
		return nil, fmt.Errorf("onnxbuild: Forward: %d inputs is not a multiple of %d", len(x), n0)
	}
	batch := len(x) / n0
	h := x
	for i := range m.Weights {
		in, out := m.Sizes[i], m.Sizes[i+1]
		next := make([]float64, batch*out)
		for s := 0; s < batch; s++ {
			for o := 0; o < out; o++ {
				acc := float64(m.Biases[i][o])
				for k := 0; k < in; k++ {
					acc += float64(m.Weights[i][o*in+k]) * h[s*in+k]
				}
				if i+1 < len(m.Weights) {
					acc = Activate(m.Act, acc)
				}
				next[s*out+o] = acc
			}
		}
		h = next
	}
	return h, nil
}

// Activate applies an MLP activation ("relu", "square", "sigmoid", "tanh",
// "gelu") to one value.
func Activate(act string, x float64) float64 {
	switch act {
	case "relu":
		return math.Max(x, 0)
	case "square":
		return x * x
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "tanh":
		return math.Tanh(x)
	case "gelu":
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	return x
}

// ActivateGrad is the derivative of Activate at x.
func ActivateGrad(act string, x float64) float64 {
	switch act {
	case "relu":
		if x > 0 {
			return 1
		}
		return 0
	case "square":
		return 2 * x
	case "sigmoid":
		s := 1 / (1 + math.Exp(-x))
		return s * (1 - s)
	case "tanh":
		t := math.Tanh(x)
		return 1 - t*t
	case "gelu":
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	}
	return 1
}
