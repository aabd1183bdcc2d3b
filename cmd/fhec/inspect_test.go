package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/plan"
)

func init() {
	// -update blesses testdata/plans/*.inspect.json. Another test file of
	// this package may define the flag too: share it then.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const goldenPlan = "../../testdata/plans/mlp.plan"

// TestInspectJSONGolden: `fhec inspect --json` on the golden plan prints
// exactly testdata/plans/mlp.inspect.json (bless: go test ./cmd/fhec -run
// TestInspectJSONGolden -update, after go test ./plan -update).
func TestInspectJSONGolden(t *testing.T) {
	out, err := cli("inspect", "--json", goldenPlan)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	golden := strings.TrimSuffix(goldenPlan, ".plan") + ".inspect.json"
	if updating() {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (bless with -update)", err)
	}
	if out != string(want) {
		t.Fatalf("inspect --json differs from %s (rerun with -update if intended):\n%s", golden, out)
	}

	// The documented fields the other tools rely on are present.
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"formatVersion", "planSha256", "logN", "logQP", "securityBits", "insecure", "securityEstimateBits", "bootstraps",
		"galoisKeys", "keys", "evalKeyBytes", "evalKeyFileBytes", "ciphertextBytes", "outputCiphertextBytes", "serverPeakBytes", "clientPeakBytes",
		"levels", "instructionCounts", "opCounts", "layers", "estimatedModMults"} {
		if _, ok := m[k]; !ok {
			t.Errorf("inspect --json lacks %q", k)
		}
	}
	doc, err := os.ReadFile("../../docs/plan-format.md")
	if err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if !bytes.Contains(doc, []byte("`"+k+"`")) {
			t.Errorf("inspect --json field %q is not documented in docs/plan-format.md", k)
		}
	}
}

func TestInspectText(t *testing.T) {
	out, err := cli("inspect", goldenPlan)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"plan format 1.4", "CKKS: logN 11", "INSECURE", "rotation keys", "galois", "instructions:", "ROTATE",
		"layers:", "relu_1", "dense+activation", "estimated cost", "server peak"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	// A corrupted plan is refused with a clear error.
	b, err := os.ReadFile(goldenPlan)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.plan")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("inspect", bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupted plan: %v", err)
	}
}

// TestInspectSizesExact: the key and ciphertext sizes inspect reports are
// those of the files keygen and encrypt write.
func TestInspectSizesExact(t *testing.T) {
	b, err := os.ReadFile(goldenPlan)
	if err != nil {
		t.Fatal(err)
	}
	s, err := plan.FileSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plan.Unmarshal(b)
	rt, err := fhec.NewRuntime(p)
	if err != nil {
		t.Fatal(err)
	}
	sk, evk, err := rt.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	evkBytes, err := evk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	skBytes, _ := sk.MarshalBinary()
	if int64(len(evkBytes)) != s.EvalKeyFileBytes || int64(len(skBytes)) != s.SecretKeyFileBytes {
		t.Errorf("eval.key %d bytes (inspect: %d), secret.key %d bytes (inspect: %d)", len(evkBytes), s.EvalKeyFileBytes, len(skBytes), s.SecretKeyFileBytes)
	}
	dim := int(p.Inputs[0].Shape[len(p.Inputs[0].Shape)-1])
	x := fhec.Tensor{Shape: []int{1, dim}, Data: make([]float64, dim)}
	ct, err := rt.EncryptTensor(sk, x)
	if err != nil {
		t.Fatal(err)
	}
	ctBytes, _ := ct.MarshalBinary()
	// frame (50 + 32), kind, tensors, samples, groups, then one seeded
	// entry: a blob (8-byte length) and a seed.
	if want := 50 + 32 + 1 + 4 + 8 + 4 + 8 + s.SeededCiphertextBytes; int64(len(ctBytes)) != want {
		t.Errorf("ciphertext file %d bytes, inspect's seededCiphertextBytes %d gives %d", len(ctBytes), s.SeededCiphertextBytes, want)
	}
	// The evaluation's output file holds full ciphertexts.
	evk2, err := rt.UnmarshalEvaluationKeys(evkBytes)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := rt.Evaluate(evk2, ct, fhec.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	outBytes, _ := out.MarshalBinary()
	if want := 50 + 32 + 1 + 4 + 8 + 4 + 8 + s.OutputCiphertextBytes; int64(len(outBytes)) != want {
		t.Errorf("output file %d bytes, inspect's outputCiphertextBytes %d gives %d", len(outBytes), s.OutputCiphertextBytes, want)
	}
	if binary.LittleEndian.Uint16(b[10:]) != plan.VersionMinor {
		t.Errorf("golden plan is not at the current format version")
	}
}
