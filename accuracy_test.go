package fhec

import (
	"fmt"
	"github.com/fhec/fhec/internal/vec"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fhec/fhec/frontend"
	"github.com/fhec/fhec/internal/mnist"
	"github.com/fhec/fhec/internal/tensorio"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/sim"
)

// mnistModels are the real models of ../shared/testdata/models.
var mnistModels = []string{"mnist2x10", "cryptonets", "mnist-onnx-go"}

// TestMNISTPreprocessing: the MNIST loader and the per-model preprocessing
// reproduce each model's inputs.npy (the first 16 test images).
func TestMNISTPreprocessing(t *testing.T) {
	imgs, labels, err := mnist.Load(shared(t, "datasets/mnist"))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 10000 {
		t.Fatalf("%d images", len(imgs))
	}
	for _, m := range mnistModels {
		dir := shared(t, filepath.Join("models", m))
		x, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
		if err != nil {
			t.Fatal(err)
		}
		y, err := tensorio.ReadFile(filepath.Join(dir, "labels.npy"))
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < 16; s++ {
			v, err := mnist.Preprocess(m, imgs[s])
			if err != nil {
				t.Fatal(err)
			}
			for k := range v {
				if v[k] != x.Data[s*784+k] {
					t.Fatalf("%s: sample %d pixel %d: %v, inputs.npy has %v", m, s, k, v[k], x.Data[s*784+k])
				}
			}
			if int(y.Data[s]) != labels[s] {
				t.Fatalf("%s: label %d", m, s)
			}
		}
	}
}

// simulateMNIST compiles a model with its 16 sample images as calibration
// data and simulates n MNIST test images; it returns the plaintext
// (reference) and simulated accuracies.
func simulateMNIST(t testing.TB, name string, n int, opt CompileOptions) (plain, simulated float64, r *sim.Run) {
	dir := shared(t, filepath.Join("models", name))
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	opt.Calibration = &x
	start := time.Now()
	c, err := Compile(model, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: compiled in %s: logN %d depth %d", name, time.Since(start).Round(time.Millisecond), c.Params.LogN, c.Params.Depth)
	for _, a := range c.Activations {
		t.Logf("  %s %s deg %d on [%.4g, %.4g] fit err %.3g", a.Value, a.Function, a.Degree, a.Lo, a.Hi, a.MaxError)
	}
	imgs, labels, err := mnist.Load(shared(t, "datasets/mnist"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(c.Plan, sim.Options{Noise: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var samples [][][]float64
	for i := 0; i < n; i++ {
		v, err := mnist.Preprocess(name, imgs[i])
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, [][]float64{v})
	}
	start = time.Now()
	r, err = s.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	okPlain, okSim := 0, 0
	worst := 0.0
	for i := 0; i < n; i++ {
		if vec.Argmax(r.Reference[0][i]) == labels[i] {
			okPlain++
		}
		if vec.Argmax(r.Noisy[0][i]) == labels[i] {
			okSim++
		}
		for k := range r.Noisy[0][i] {
			worst = math.Max(worst, math.Abs(r.Noisy[0][i][k]-r.Reference[0][i][k]))
		}
	}
	plain, simulated = 100*float64(okPlain)/float64(n), 100*float64(okSim)/float64(n)
	t.Logf("%s: %d images simulated in %s (exact reference %v): plaintext %.2f%%, simulated %.2f%%, max logit error %.3g, out-of-range samples %d",
		name, n, time.Since(start).Round(time.Millisecond), s.ExactReference, plain, simulated, worst, r.OutOfRangeSamples)
	for l, layer := range s.Layers {
		t.Logf("  layer %-16s %-18s err %.3g noise %.3g max|t| %.3g oor %d", layer.Name, layer.Kind, r.LayerError[l], r.LayerNoise[l], r.LayerMaxInput[l], r.LayerOutOfRange[l])
	}
	return plain, simulated, r
}

// TestMNISTAccuracy is acceptance 1: on the full MNIST test set, simulated
// accuracy within 0.3 points of plaintext. Long: FHEC_ACCURACY=N runs the
// first N images (10000 for the acceptance run).
func TestMNISTAccuracy(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FHEC_ACCURACY"))
	if n <= 0 {
		t.Skip("set FHEC_ACCURACY=10000 (images) to run")
	}
	only := os.Getenv("FHEC_MODEL")
	for _, m := range mnistModels {
		if only != "" && only != m {
			continue
		}
		t.Run(m, func(t *testing.T) {
			plain, simulated, _ := simulateMNIST(t, m, n, CompileOptions{})
			fmt.Printf("%s: plaintext %.2f%%, simulated %.2f%% (%d images)\n", m, plain, simulated, n)
			if math.Abs(plain-simulated) > 0.3 {
				t.Errorf("%s: simulated accuracy %.2f%% vs plaintext %.2f%%", m, simulated, plain)
			}
		})
	}
}

// TestEncryptedMatchesSimulation is acceptance 2: on the 16 sample images
// really encrypted (Lattigo, 128-bit parameters), the observed max logit
// error is within 4x of the simulation's, both ways; so is its CKKS-noise
// part (observed minus noiseless program vs simulated noise). Long (about
// a minute): FHEC_ENCRYPTED=1.
func TestEncryptedMatchesSimulation(t *testing.T) {
	if os.Getenv("FHEC_ENCRYPTED") == "" {
		t.Skip("set FHEC_ENCRYPTED=1 to run")
	}
	name := "mnist2x10"
	if m := os.Getenv("FHEC_MODEL"); m != "" {
		name = m
	}
	dir := shared(t, filepath.Join("models", name))
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(model, CompileOptions{Calibration: &x})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	y := encryptedRun(t, c, x)
	t.Logf("%s: encrypted run of 16 images in %s (logN %d, depth %d)", name, time.Since(start).Round(time.Second), c.Params.LogN, c.Params.Depth)
	s, err := sim.New(c.Plan, sim.Options{Noise: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var samples [][][]float64
	for i := 0; i < 16; i++ {
		samples = append(samples, [][]float64{x.Data[i*784 : (i+1)*784]})
	}
	r, err := s.Simulate(samples)
	if err != nil {
		t.Fatal(err)
	}
	var obs, pred, obsNoise, predNoise float64
	for i := 0; i < 16; i++ {
		for k := 0; k < 10; k++ {
			got := y.Data[i*10+k]
			obs = math.Max(obs, math.Abs(got-r.Reference[0][i][k]))
			pred = math.Max(pred, math.Abs(r.Noisy[0][i][k]-r.Reference[0][i][k]))
			obsNoise = math.Max(obsNoise, math.Abs(got-r.Noiseless[0][i][k]))
			predNoise = math.Max(predNoise, math.Abs(r.Noisy[0][i][k]-r.Noiseless[0][i][k]))
		}
	}
	t.Logf("%s: max logit error observed %.4g, simulated %.4g (ratio %.3f); CKKS-noise part observed %.3g, simulated %.3g (ratio %.2f)",
		name, obs, pred, obs/pred, obsNoise, predNoise, obsNoise/predNoise)
	fmt.Printf("%s encrypted: max logit error observed %.4g, simulated %.4g; noise part observed %.3g, simulated %.3g\n", name, obs, pred, obsNoise, predNoise)
	for _, ratio := range []float64{obs / pred, obsNoise / predNoise} {
		if ratio > 4 || ratio < 0.25 {
			t.Errorf("observed/simulated ratio %.3g outside [1/4, 4]", ratio)
		}
	}
}

// TestFeatureMajorMNIST encrypts the MNIST test set for a model compiled
// with feature-major packing (one ciphertext per pixel, 4096 images per
// ciphertext at logN 13), evaluates it at 128-bit parameters and compares
// the decrypted argmax with the float64 model's and with the labels. Long
// (about a minute per 4096 images on 2 cores): FHEC_FM_MNIST=N runs the
// first N images, FHEC_MODEL the model (default cryptonets).
func TestFeatureMajorMNIST(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FHEC_FM_MNIST"))
	if n <= 0 {
		t.Skip("set FHEC_FM_MNIST=10000 (images) to run")
	}
	name := os.Getenv("FHEC_MODEL")
	if name == "" {
		name = "cryptonets"
	}
	dir := shared(t, filepath.Join("models", name))
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cal, err := tensorio.ReadFile(filepath.Join(dir, "inputs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(model, CompileOptions{Calibration: &cal, FeatureMajor: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Params.Security != 128 {
		t.Fatalf("%d-bit parameters", c.Params.Security)
	}
	imgs, labels, err := mnist.Load(shared(t, "datasets/mnist"))
	if err != nil {
		t.Fatal(err)
	}
	per := len(cal.Data) / cal.Shape[0]
	x := Tensor{Shape: append([]int{n}, cal.Shape[1:]...)}
	for i := 0; i < n; i++ {
		v, err := mnist.Preprocess(name, imgs[i])
		if err != nil {
			t.Fatal(err)
		}
		x.Data = append(x.Data, v...)
	}
	r, err := NewRuntime(c.Plan)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := r.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ct, err := r.EncryptTensor(sk, x)
	if err != nil {
		t.Fatal(err)
	}
	encrypt := time.Since(start)
	out, st, err := r.Evaluate(evk, ct, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	y, err := r.DecryptTensor(sk, out)
	if err != nil {
		t.Fatal(err)
	}
	decrypt := time.Since(start)
	f, err := frontend.Load(model, frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := len(y.Data) / n
	agree, okEnc, okPlain := 0, 0, 0
	worst := 0.0
	for i := 0; i < n; i++ {
		ref, err := ir.Interpret(f, []ir.Array{{Shape: f.Params[0].Type.Shape, Data: x.Data[i*per : (i+1)*per]}})
		if err != nil {
			t.Fatal(err)
		}
		got := y.Data[i*k : (i+1)*k]
		for j := range got {
			worst = math.Max(worst, math.Abs(got[j]-ref[0].Data[j]))
		}
		if vec.Argmax(got) == vec.Argmax(ref[0].Data) {
			agree++
		}
		if vec.Argmax(got) == labels[i] {
			okEnc++
		}
		if vec.Argmax(ref[0].Data) == labels[i] {
			okPlain++
		}
	}
	msg := fmt.Sprintf("%s feature-major, %d images, logN %d: encrypted accuracy %.2f%%, plaintext %.2f%%, argmax agreement %d/%d, max logit error %.3g; encrypt %s, evaluate %s (%.0f images/s, %d groups), decrypt %s",
		name, n, c.Params.LogN, 100*float64(okEnc)/float64(n), 100*float64(okPlain)/float64(n), agree, n, worst,
		encrypt.Round(time.Millisecond), st.Wall.Round(time.Millisecond), float64(n)/st.Wall.Seconds(), st.Groups, decrypt.Round(time.Millisecond))
	t.Log(msg)
	fmt.Println(msg)
	if agree < n {
		t.Errorf("encrypted argmax differs from the model's on %d of %d images", n-agree, n)
	}
}
