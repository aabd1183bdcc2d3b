// Package servertest makes small plans for tests of the server and its
// clients: deterministic random MLPs compiled with INSECURE parameters
// (fast; never for real data), with their plaintext reference.
package servertest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/plan"
)

// Model is a compiled test model.
type Model struct {
	MLP      *onnxbuild.MLP
	PlanFile []byte
	Compiled *fhec.Compiled
}

// Forward is the plaintext reference for x ([batch, in]).
func (m *Model) Forward(x fhec.Tensor) ([]float64, error) { return m.MLP.Forward(x.Data) }

// Input returns a deterministic [batch, in] input, uniform in [-0.8, 0.8]
// (inside the calibrated range, where the fitted activations are accurate).
func (m *Model) Input(seed uint64, batch int) fhec.Tensor {
	return uniform(seed, batch, m.MLP.Sizes[0], 0.8)
}

func uniform(seed uint64, batch, n int, a float64) fhec.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := fhec.Tensor{Shape: []int{batch, n}}
	for range batch * n {
		t.Data = append(t.Data, a*(2*rng.Float64()-1))
	}
	return t
}

// Check compares y with the plaintext reference for x within tol.
func (m *Model) Check(x, y fhec.Tensor, tol float64) error {
	want, err := m.Forward(x)
	if err != nil {
		return err
	}
	if len(want) != len(y.Data) {
		return fmt.Errorf("got %d values (shape %v), want %d", len(y.Data), y.Shape, len(want))
	}
	for i := range want {
		if e := math.Abs(want[i] - y.Data[i]); !(e <= tol) {
			return fmt.Errorf("value %d: decrypted %.6g, plaintext %.6g (|err| %.3g > %.3g)", i, y.Data[i], want[i], e, tol)
		}
	}
	return nil
}

var (
	mu    sync.Mutex
	cache = map[string]*Model{}
)

// InsecureMLP compiles onnxbuild.RandomMLP(seed, sizes, act) with
// CompileOptions{Insecure: true}, calibrated on 256 rows uniform in [-1, 1].
// Results are cached per arguments.
func InsecureMLP(seed uint64, sizes []int, act string) (*Model, error) {
	key := fmt.Sprint(seed, sizes, act)
	mu.Lock()
	defer mu.Unlock()
	if m, ok := cache[key]; ok {
		return m, nil
	}
	mlp, err := onnxbuild.NewRandomMLP(seed, sizes, act)
	if err != nil {
		return nil, err
	}
	b, err := mlp.Marshal()
	if err != nil {
		return nil, err
	}
	m := &Model{MLP: mlp}
	cal := uniform(seed+1000, 256, sizes[0], 1)
	c, err := fhec.Compile(b, fhec.CompileOptions{Insecure: true, Calibration: &cal})
	if err != nil {
		return nil, err
	}
	if m.PlanFile, err = plan.Marshal(c.Plan); err != nil {
		return nil, err
	}
	m.Compiled = c
	cache[key] = m
	return m, nil
}

// Small is the 8 -> 6 -> 3 ReLU MLP of the tests (insecure parameters).
func Small() (*Model, error) { return InsecureMLP(1, []int{8, 6, 3}, "relu") }

// Foreign is a model with other CKKS parameters than Small (insecure).
func Foreign() (*Model, error) { return InsecureMLP(2, []int{8, 6, 3}, "square") }
