package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec/internal/onnxbuild"
	"github.com/fhec/fhec/internal/tensorio"
)

// TestMain lets the tests run the real binary's main (exit codes, stderr).
func TestMain(m *testing.M) {
	if os.Getenv("FHEC_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"fhec"}, strings.Fields(os.Getenv("FHEC_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	// Hermetic: no cost table a user calibrated on this machine (compile
	// reads fhec/costs.json from the user config directory).
	cfg, err := os.MkdirTemp("", "fhec-config")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", cfg)
	code := m.Run()
	os.RemoveAll(cfg)
	os.Exit(code)
}

// fhec runs the CLI in-process and returns its stdout+stderr and error.
func cli(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// setup writes a small MLP, its inputs, and runs compile (insecure params,
// fast), keygen, encrypt, run, decrypt in dir.
func setup(t *testing.T, dir string) *onnxbuild.MLP {
	t.Helper()
	return setupWith(t, dir)
}

// setupWith is setup with extra compile flags.
func setupWith(t *testing.T, dir string, compileFlags ...string) *onnxbuild.MLP {
	t.Helper()
	m, err := onnxbuild.NewRandomMLP(3, []int{6, 5, 3}, "relu", onnxbuild.WithFlatten(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	model, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	x := tensorio.Tensor{Shape: []int{4, 2, 3}}
	for i := 0; i < 24; i++ {
		x.Data = append(x.Data, math.Sin(float64(i)))
	}
	must(t, os.WriteFile(filepath.Join(dir, "m.onnx"), model, 0o644))
	must(t, tensorio.WriteFile(filepath.Join(dir, "x.npy"), x))
	p := func(s string) string { return filepath.Join(dir, s) }
	for _, args := range [][]string{
		append([]string{"compile", p("m.onnx"), "-o", p("m.plan"), "--calibration", p("x.npy"), "--insecure"}, compileFlags...),
		{"keygen", p("m.plan"), "-o", p("keys")},
		{"encrypt", p("m.plan"), "--key", p("keys/secret.key"), p("x.npy"), "-o", p("x.ct")},
		{"run", p("m.plan"), "--eval-key", p("keys/eval.key"), p("x.ct"), "-o", p("y.ct")},
		{"decrypt", p("m.plan"), "--key", p("keys/secret.key"), p("y.ct"), "-o", p("y.npy")},
	} {
		if out, err := cli(args...); err != nil {
			t.Fatalf("fhec %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	y, err := tensorio.ReadFile(p("y.npy"))
	must(t, err)
	if len(y.Shape) != 2 || y.Shape[0] != 4 || y.Shape[1] != 3 {
		t.Fatalf("y.npy shape %v, want [4 3]", y.Shape)
	}
	for s := 0; s < 4; s++ {
		want, err := m.Forward(x.Data[s*6 : (s+1)*6])
		must(t, err)
		for k := range want {
			// inputs are the calibration data: the fitted ReLU error bounds the difference
			if d := math.Abs(y.Data[s*3+k] - want[k]); d > 0.05 {
				t.Errorf("sample %d output %d: %v, want %v", s, k, y.Data[s*3+k], want[k])
			}
		}
	}
	return m
}

// TestFeatureMajorCLI runs the whole CLI contract on a feature-major plan
// (one ciphertext per input element) and checks that inspect says so.
func TestFeatureMajorCLI(t *testing.T) {
	dir := t.TempDir()
	setupWith(t, dir, "--feature-major")
	out, err := cli("inspect", filepath.Join(dir, "m.plan"))
	must(t, err)
	for _, want := range []string{"feature-major: 6 ciphertexts (one per element)", "0 rotation keys", "3 ciphertexts (one per element)"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	// bench: one repetition by default (one sample costs a whole group),
	// no rotation and no rotation lower bound
	out, err = cli("bench", filepath.Join(dir, "m.plan"))
	must(t, err)
	for _, want := range []string{"(median of 1)", "0 rotations (0 hoisted; lower bound 0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBadInputs: corrupt, truncated or foreign files, an unsupported op and a
// wrong input shape each give an error that names the problem (acceptance 5).
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	setup(t, dir)
	p := func(s string) string { return filepath.Join(dir, s) }
	corrupt := func(src, dst string, f func([]byte) []byte) string {
		b, err := os.ReadFile(p(src))
		must(t, err)
		must(t, os.WriteFile(p(dst), f(append([]byte(nil), b...)), 0o644))
		return p(dst)
	}
	truncate := func(b []byte) []byte { return b[:len(b)/2] }
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }

	// a second plan with other parameters, for foreign keys and ciphertexts
	other := t.TempDir()
	m2, _ := onnxbuild.NewRandomMLP(9, []int{6, 5, 3}, "square", onnxbuild.WithFlatten(2, 3))
	b2, _ := m2.Marshal()
	must(t, os.WriteFile(filepath.Join(other, "m.onnx"), b2, 0o644))
	if out, err := cli("compile", filepath.Join(other, "m.onnx"), "-o", filepath.Join(other, "m.plan"), "--insecure"); err != nil {
		t.Fatal(err, out)
	}
	if out, err := cli("keygen", filepath.Join(other, "m.plan"), "-o", filepath.Join(other, "keys")); err != nil {
		t.Fatal(err, out)
	}

	// a model with an op fhec does not support
	b := onnxbuild.New("bad", 13)
	in := b.Input("x", []int64{-1, 4})
	y := b.Node("LpNormalization", []string{in}, nil)
	b.Output(y, []int64{-1, 4})
	bad, err := b.Marshal()
	must(t, err)
	must(t, os.WriteFile(p("bad.onnx"), bad, 0o644))
	must(t, tensorio.WriteFile(p("wrong.npy"), tensorio.Tensor{Shape: []int{2, 7}, Data: make([]float64, 14)}))

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"truncated plan", []string{"keygen", corrupt("m.plan", "t.plan", truncate), "-o", p("k2")}, "truncated"},
		{"corrupted plan", []string{"keygen", corrupt("m.plan", "c.plan", flip), "-o", p("k2")}, "checksum"},
		{"not a plan", []string{"inspect", p("m.onnx")}, "not an fhec plan"},
		{"truncated secret key", []string{"decrypt", p("m.plan"), "--key", corrupt("keys/secret.key", "t.key", truncate), p("y.ct"), "-o", p("z.npy")}, "secret key"},
		{"truncated eval key", []string{"run", p("m.plan"), "--eval-key", corrupt("keys/eval.key", "t.evk", truncate), p("x.ct"), "-o", p("z.ct")}, "evaluation key"},
		{"truncated ciphertext", []string{"run", p("m.plan"), "--eval-key", p("keys/eval.key"), corrupt("x.ct", "t.ct", truncate), "-o", p("z.ct")}, "ciphertext"},
		{"corrupted ciphertext", []string{"decrypt", p("m.plan"), "--key", p("keys/secret.key"), corrupt("y.ct", "c.ct", flip), "-o", p("z.npy")}, "ciphertext"},
		{"foreign eval key", []string{"run", p("m.plan"), "--eval-key", filepath.Join(other, "keys/eval.key"), p("x.ct"), "-o", p("z.ct")}, "parameters"},
		{"foreign secret key", []string{"encrypt", p("m.plan"), "--key", filepath.Join(other, "keys/secret.key"), p("x.npy"), "-o", p("z.ct")}, "parameters"},
		{"inputs given to decrypt", []string{"decrypt", p("m.plan"), "--key", p("keys/secret.key"), p("x.ct"), "-o", p("z.npy")}, "input"},
		{"unsupported op", []string{"compile", p("bad.onnx"), "-o", p("bad.plan")}, "LpNormalization"},
		{"wrong input shape", []string{"encrypt", p("m.plan"), "--key", p("keys/secret.key"), p("wrong.npy"), "-o", p("z.ct")}, "does not match the model input"},
		{"missing file", []string{"inspect", p("nope.plan")}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cli(tc.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			t.Log(err)
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestExitCode: errors go to stderr and the process exits non-zero.
func TestExitCode(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FHEC_TEST_RUN_MAIN=1", "FHEC_TEST_ARGS=inspect /nonexistent/model.plan")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), "fhec: error:") || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestHelp: every command has --help.
func TestHelp(t *testing.T) {
	for _, c := range newRoot().Commands() {
		out, err := cli(c.Name(), "--help")
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: %v\n%s", c.Name(), err, out)
		}
	}
}
