package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fhec/fhec/runtime"
)

// Fuzz targets (insecure test parameters): any body, method or path gets
// an answer below 500 (503 aside), with a JSON message for errors, and
// never a panic. Run one with e.g.
//
//	go test ./server -run '^$' -fuzz FuzzEvaluateSealed -fuzztime 30s

var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
	fuzzKey  string
)

func fuzzServer(t testing.TB) (*Server, string) {
	f := getFixture(t)
	fuzzOnce.Do(func() {
		s, err := New(f.model.PlanFile, Config{Workers: 2, MaxCiphertextBytes: 2 << 20, MaxKeyBytes: 32 << 20})
		if err != nil {
			panic(err)
		}
		evk, err := s.rt.UnmarshalEvaluationKeys(f.evkFile)
		if err != nil {
			panic(err)
		}
		fuzzKey = KeyID(f.evkFile)
		if _, err := s.keys.add(fuzzKey, evk, int64(len(f.evkFile))); err != nil {
			panic(err)
		}
		fuzzSrv = s
	})
	return fuzzSrv, fuzzKey
}

func serve(t *testing.T, s *Server, method, target string, body []byte) {
	rec := httptest.NewRecorder()
	req, err := http.NewRequest(method, "http://fhec.test"+target, bytes.NewReader(body))
	if err != nil {
		return // not a request a client can send
	}
	s.ServeHTTP(rec, req)
	code := rec.Code
	if code >= 500 && code != http.StatusServiceUnavailable {
		t.Fatalf("%s %q (%d-byte body): %d %s", method, target, len(body), code, rec.Body.Bytes())
	}
	if code >= 400 {
		var e Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" || e.Status != code {
			t.Fatalf("%s %q: %d answer without a JSON message: %q", method, target, code, rec.Body.Bytes())
		}
	}
}

func FuzzEvaluateBody(f *testing.F) {
	fx := getFixture(f)
	for _, b := range [][]byte{fx.ctFile, fx.ctFile[:100], fx.foreignCt, fx.outFile, fx.secretKeyFile, fx.evkFile[:4096], []byte("FHECCTXT"), nil} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, id := fuzzServer(t)
		serve(t, s, "POST", "/v1/evaluate?key="+id, body)
	})
}

// seal frames body as a well-formed fhec file for the server's parameters,
// so that the fuzzer reaches the decoders behind the checksum.
func seal(magic string, fp [32]byte, body []byte) []byte {
	out := append([]byte(magic), 1, 0)
	out = append(out, fp[:]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	out = append(out, body...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

func unseal(file []byte) []byte { return file[50 : len(file)-32] }

func FuzzEvaluateSealed(f *testing.F) {
	fx := getFixture(f)
	f.Add(unseal(fx.ctFile))
	f.Add(unseal(fx.outFile))
	f.Add(unseal(fx.ctFile)[:200])
	f.Fuzz(func(t *testing.T, body []byte) {
		s, id := fuzzServer(t)
		serve(t, s, "POST", "/v1/evaluate?key="+id, seal(runtime.MagicCiphertexts, s.rt.Fingerprint(), body))
	})
}

func FuzzKeyUploadSealed(f *testing.F) {
	fx := getFixture(f)
	f.Add(unseal(fx.evkFile)[:4096])
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add([]byte{1, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		s, _ := fuzzServer(t)
		serve(t, s, "POST", "/v1/keys", seal(runtime.MagicEvaluationKeys, s.rt.Fingerprint(), body))
	})
}

func FuzzRequest(f *testing.F) {
	fx := getFixture(f)
	f.Add("GET", "/v1/plan", []byte(nil))
	f.Add("POST", "/v1/keys", fx.secretKeyFile)
	f.Add("GET", "/v1/keys/"+strings.Repeat("0", 64), []byte(nil))
	f.Add("DELETE", "/v1/keys/zz", []byte(nil))
	f.Add("POST", "/v1/evaluate?key=%zz", fx.ctFile[:300])
	f.Add("HEAD", "/v1/metrics", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		s, id := fuzzServer(t)
		if strings.HasPrefix(target, "/v1/keys/"+id) && method == "DELETE" {
			return // keep the fuzz key
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		serve(t, s, method, target, body)
	})
}

// TestInsecureMutatedCiphertexts: well-framed ciphertexts (valid checksum
// and fingerprint) with random bytes changed, in the Lattigo metadata
// (JSON) or anywhere; the answers must stay below 500. It found that a
// scale with a modulus ("Mod") passed decoding and failed in evaluation.
func TestInsecureMutatedCiphertexts(t *testing.T) {
	fx := getFixture(t)
	s, id := fuzzServer(t)
	base := unseal(fx.ctFile)
	// The scale with a modulus, explicitly.
	if i := bytes.Index(base, []byte(`"Mod":"0x0.0`)); i < 0 {
		t.Fatal("no Mod field in the ciphertext metadata")
	} else {
		b := bytes.Clone(base)
		b[i+len(`"Mod":"0x0.`)] = '4'
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/evaluate?key="+id, bytes.NewReader(seal(runtime.MagicCiphertexts, s.rt.Fingerprint(), b))))
		if rec.Code != 400 {
			t.Errorf("scale with a modulus: %d %s", rec.Code, rec.Body.Bytes())
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	n := 200
	if testing.Short() {
		n = 30
	}
	for range n {
		b := bytes.Clone(base)
		for range 1 + rng.IntN(3) {
			if rng.IntN(2) == 0 {
				b[rng.IntN(400)] = byte(rng.Uint32())
			} else {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
		}
		serve(t, s, "POST", "/v1/evaluate?key="+id, seal(runtime.MagicCiphertexts, s.rt.Fingerprint(), b))
	}
}
