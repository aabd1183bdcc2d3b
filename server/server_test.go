package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/server/servertest"
)

// fixture: the small insecure model, one key pair, an encrypted input, and
// the same for a model with other (foreign) parameters.
type fixture struct {
	model            *servertest.Model
	rt               *fhec.Runtime
	sk               *fhec.SecretKey
	evkFile, ctFile  []byte
	x                fhec.Tensor
	outFile          []byte // an output ciphertext file (plan outputs)
	foreignKey       []byte
	foreignCt        []byte
	secretKeyFile    []byte
	incompleteKeyErr bool
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = makeFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func makeFixture() (*fixture, error) {
	m, err := servertest.Small()
	if err != nil {
		return nil, err
	}
	f := &fixture{model: m}
	if f.rt, err = fhec.NewRuntime(m.Compiled.Plan); err != nil {
		return nil, err
	}
	sk, evk, err := f.rt.KeyGen()
	if err != nil {
		return nil, err
	}
	f.sk = sk
	if f.evkFile, err = evk.MarshalBinary(); err != nil {
		return nil, err
	}
	if f.secretKeyFile, err = sk.MarshalBinary(); err != nil {
		return nil, err
	}
	f.x = m.Input(42, 5)
	ct, err := f.rt.EncryptTensor(sk, f.x)
	if err != nil {
		return nil, err
	}
	if f.ctFile, err = ct.MarshalBinary(); err != nil {
		return nil, err
	}
	out, _, err := f.rt.Evaluate(evk, ct, fhec.EvalOptions{Workers: 1})
	if err != nil {
		return nil, err
	}
	if f.outFile, err = out.MarshalBinary(); err != nil {
		return nil, err
	}
	fm, err := servertest.Foreign()
	if err != nil {
		return nil, err
	}
	frt, err := fhec.NewRuntime(fm.Compiled.Plan)
	if err != nil {
		return nil, err
	}
	if frt.Fingerprint() == f.rt.Fingerprint() {
		return nil, errors.New("the foreign model has the same parameters")
	}
	fsk, fevk, err := frt.KeyGen()
	if err != nil {
		return nil, err
	}
	if f.foreignKey, err = fevk.MarshalBinary(); err != nil {
		return nil, err
	}
	fct, err := frt.EncryptTensor(fsk, fm.Input(1, 2))
	if err != nil {
		return nil, err
	}
	f.foreignCt, err = fct.MarshalBinary()
	return f, err
}

func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	f := getFixture(t)
	s, err := New(f.model.PlanFile, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

type answer struct {
	code int
	body []byte
	hdr  http.Header
	err  Error
}

func call(t testing.TB, method, url string, body []byte) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, body: b, hdr: resp.Header}
	if resp.StatusCode/100 != 2 {
		if err := json.Unmarshal(b, &a.err); err != nil || a.err.Message == "" {
			t.Errorf("%s %s: %d answer is not a JSON error with a message: %q", method, url, resp.StatusCode, b)
		}
	}
	return a
}

func uploadKey(t testing.TB, base string, key []byte) string {
	t.Helper()
	a := call(t, "POST", base+"/v1/keys", key)
	if a.code != http.StatusCreated && a.code != http.StatusOK {
		t.Fatalf("upload: %d %s", a.code, a.body)
	}
	var ki KeyInfo
	if err := json.Unmarshal(a.body, &ki); err != nil {
		t.Fatal(err)
	}
	return ki.KeyID
}

func checkOutput(t testing.TB, f *fixture, out []byte) {
	t.Helper()
	ct, err := f.rt.UnmarshalCiphertexts(out)
	if err != nil {
		t.Fatal(err)
	}
	y, err := f.rt.DecryptTensor(f.sk, ct)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.model.Check(f.x, y, 0.05); err != nil {
		t.Fatal(err)
	}
}

func TestInsecureEndpoints(t *testing.T) {
	f := getFixture(t)
	s, ts := newTestServer(t, Config{Workers: 2})

	if a := call(t, "GET", ts.URL+"/v1/health", nil); a.code != 200 || !strings.Contains(string(a.body), `"ok"`) {
		t.Fatalf("health: %d %s", a.code, a.body)
	}
	a := call(t, "GET", ts.URL+"/v1/plan", nil)
	if a.code != 200 || !bytes.Equal(a.body, f.model.PlanFile) {
		t.Fatalf("plan: %d, %d bytes", a.code, len(a.body))
	}
	if a.hdr.Get(HeaderFingerprint) != s.Fingerprint() || a.hdr.Get(HeaderPlanSHA256) != KeyID(f.model.PlanFile) {
		t.Errorf("plan headers: %v", a.hdr)
	}
	a = call(t, "GET", ts.URL+"/v1/plan/info", nil)
	var info PlanInfo
	if err := json.Unmarshal(a.body, &info); err != nil || a.code != 200 {
		t.Fatalf("plan/info: %d %v %s", a.code, err, a.body)
	}
	if info.Fingerprint != s.Fingerprint() || !info.Params.Insecure || len(info.Inputs) != 1 || info.Inputs[0].Len != 8 || info.Outputs[0].Len != 3 || info.Batch < 1 {
		t.Errorf("plan/info: %+v", info)
	}

	id := uploadKey(t, ts.URL, f.evkFile)
	if id != KeyID(f.evkFile) {
		t.Errorf("key id %s, want the SHA-256 of the file", id)
	}
	a = call(t, "POST", ts.URL+"/v1/keys", f.evkFile)
	if a.code != 200 || !strings.Contains(string(a.body), `"existed": true`) {
		t.Errorf("second upload: %d %s", a.code, a.body)
	}
	if a := call(t, "GET", ts.URL+"/v1/keys/"+id, nil); a.code != 200 {
		t.Errorf("GET key: %d %s", a.code, a.body)
	}
	a = call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile)
	if a.code != 200 {
		t.Fatalf("evaluate: %d %s", a.code, a.body)
	}
	checkOutput(t, f, a.body)
	if a.hdr.Get(HeaderSamples) != "5" || a.hdr.Get(HeaderEvalSeconds) == "" {
		t.Errorf("evaluate headers: %v", a.hdr)
	}
	// The key id may also come as a header.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/evaluate", bytes.NewReader(f.ctFile))
	req.Header.Set(HeaderKeyID, id)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("evaluate with key header: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	waitMetrics(t, ts.URL, `fhec_http_requests_total{endpoint="evaluate",code="200"} 2`)
	m := string(call(t, "GET", ts.URL+"/v1/metrics", nil).body)
	for _, want := range []string{"fhec_key_store_bytes " + itoa(len(f.evkFile)), "fhec_evaluation_seconds_count 2",
		`fhec_http_requests_total{endpoint="evaluate",code="200"} 2`, "fhec_keys_stored 1", "fhec_evaluated_samples_total 10"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}

	if a := call(t, "DELETE", ts.URL+"/v1/keys/"+id, nil); a.code != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", a.code, a.body)
	}
	if a := call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile); a.code != 404 || a.err.Code != "unknown_key" {
		t.Errorf("evaluate after DELETE: %d %s", a.code, a.body)
	}
	if a := call(t, "GET", ts.URL+"/v2/plan", nil); a.code != 404 {
		t.Errorf("unknown path: %d", a.code)
	}
}

// waitMetrics waits until the metrics contain want (a request is counted
// just after its answer is written).
func waitMetrics(t testing.TB, base, want string) {
	t.Helper()
	for range 200 {
		if strings.Contains(string(call(t, "GET", base+"/v1/metrics", nil).body), want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("metrics never showed %q", want)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestInsecureBadBodies: garbage, truncated and foreign-parameter bodies
// each get a 4xx with a message, and the server keeps serving.
func TestInsecureBadBodies(t *testing.T) {
	f := getFixture(t)
	_, ts := newTestServer(t, Config{Workers: 1, MaxCiphertextBytes: 4 << 20})
	id := uploadKey(t, ts.URL, f.evkFile)
	ev := ts.URL + "/v1/evaluate?key=" + id
	garbage := bytes.Repeat([]byte("garbage!"), 1000)
	flipped := bytes.Clone(f.ctFile)
	flipped[len(flipped)/2] ^= 1
	badVersion := bytes.Clone(f.ctFile)
	badVersion[8] = 9
	cases := []struct {
		name, method, url string
		body              []byte
		code              int
		msg               string
	}{
		{"garbage ciphertext", "POST", ev, garbage, 400, "magic"},
		{"truncated ciphertext", "POST", ev, f.ctFile[:len(f.ctFile)/3], 400, "truncated"},
		{"header-only ciphertext", "POST", ev, f.ctFile[:30], 400, "truncated"},
		{"corrupted ciphertext", "POST", ev, flipped, 400, "checksum"},
		{"newer format", "POST", ev, badVersion, 400, "version"},
		{"foreign-parameter ciphertext", "POST", ev, f.foreignCt, 422, "other CKKS parameters"},
		{"outputs as inputs", "POST", ev, f.outFile, 422, "plan outputs"},
		{"secret key as ciphertext", "POST", ev, f.secretKeyFile, 400, "secret key file"},
		{"empty ciphertext", "POST", ev, nil, 400, "empty"},
		{"too large", "POST", ev, make([]byte, 5<<20), 413, "limit"},
		{"no key id", "POST", ts.URL + "/v1/evaluate", f.ctFile, 400, "key"},
		{"bad key id", "POST", ts.URL + "/v1/evaluate?key=../../etc", f.ctFile, 400, "hex"},
		{"unknown key id", "POST", ts.URL + "/v1/evaluate?key=" + strings.Repeat("ab", 32), f.ctFile, 404, "POST them to /v1/keys"},
		{"garbage key", "POST", ts.URL + "/v1/keys", garbage, 400, "magic"},
		{"truncated key", "POST", ts.URL + "/v1/keys", f.evkFile[:len(f.evkFile)-100], 400, "truncated"},
		{"foreign-parameter key", "POST", ts.URL + "/v1/keys", f.foreignKey, 422, "other CKKS parameters"},
		{"secret key", "POST", ts.URL + "/v1/keys", f.secretKeyFile, 400, "never leave the client"},
		{"ciphertext as key", "POST", ts.URL + "/v1/keys", f.ctFile, 400, "ciphertexts file"},
		{"wrong method", "PUT", ts.URL + "/v1/plan", nil, 404, "no endpoint"},
	}
	for _, c := range cases {
		a := call(t, c.method, c.url, c.body)
		if a.code != c.code || !strings.Contains(a.err.Message, c.msg) {
			t.Errorf("%s: got %d %q, want %d with %q", c.name, a.code, a.err.Message, c.code, c.msg)
		} else {
			t.Logf("%s: %d %s", c.name, a.code, a.err.Message)
		}
		// Still serving.
		if a := call(t, "GET", ts.URL+"/v1/health", nil); a.code != 200 {
			t.Fatalf("after %s: health %d", c.name, a.code)
		}
	}
	a := call(t, "POST", ev, f.ctFile)
	if a.code != 200 {
		t.Fatalf("a good request after the bad ones: %d %s", a.code, a.body)
	}
	checkOutput(t, f, a.body)
}

// blockEvals makes every evaluation wait until the returned release is called.
func blockEvals(s *Server) (started <-chan struct{}, release func()) {
	st := make(chan struct{}, 100)
	gate := make(chan struct{})
	s.testHookEval = func() {
		st <- struct{}{}
		<-gate
	}
	var once sync.Once
	return st, func() { once.Do(func() { close(gate) }) }
}

func TestInsecureQueueFull(t *testing.T) {
	f := getFixture(t)
	s, ts := newTestServer(t, Config{Workers: 1, QueueDepth: 1})
	id := uploadKey(t, ts.URL, f.evkFile)
	started, release := blockEvals(s)
	defer release()
	results := make(chan answer, 2)
	go func() { results <- call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile) }()
	<-started // the worker is busy
	go func() { results <- call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile) }()
	for s.m.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	a := call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile)
	if a.code != 503 || a.err.Code != "queue_full" || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %s", a.code, a.body)
	}
	release()
	for range 2 {
		if a := <-results; a.code != 200 {
			t.Errorf("queued request: %d %s", a.code, a.body)
		} else {
			checkOutput(t, f, a.body)
		}
	}
}

func TestInsecureTimeouts(t *testing.T) {
	f := getFixture(t)
	s, ts := newTestServer(t, Config{Workers: 1, QueueDepth: 4, QueueTimeout: 50 * time.Millisecond, EvalTimeout: 100 * time.Millisecond})
	id := uploadKey(t, ts.URL, f.evkFile)
	started, release := blockEvals(s)
	first := make(chan answer, 1)
	go func() { first <- call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile) }()
	<-started
	if a := call(t, "POST", ts.URL+"/v1/evaluate?key="+id, f.ctFile); a.code != 503 || a.err.Code != "queue_timeout" {
		t.Errorf("queued past QueueTimeout: %d %s", a.code, a.body)
	}
	if a := <-first; a.code != 504 || a.err.Code != "eval_timeout" {
		t.Errorf("evaluation past EvalTimeout: %d %s", a.code, a.body)
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Drain(ctx); err != nil { // the abandoned evaluation finishes
		t.Fatal(err)
	}
	if s.m.abandoned.Load() != 1 {
		t.Errorf("abandoned = %d", s.m.abandoned.Load())
	}
}

func TestInsecureGracefulShutdown(t *testing.T) {
	f := getFixture(t)
	s, err := New(f.model.PlanFile, Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	id := uploadKey(t, base, f.evkFile)
	started, release := blockEvals(s)
	inflight := make(chan answer, 1)
	go func() { inflight <- call(t, "POST", base+"/v1/evaluate?key="+id, f.ctFile) }()
	<-started
	cancel() // shut down while an evaluation runs
	time.Sleep(50 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts connections while shutting down")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the in-flight evaluation finished", err)
	default:
	}
	release()
	a := <-inflight
	if a.code != 200 {
		t.Fatalf("in-flight request: %d %s", a.code, a.body)
	}
	checkOutput(t, f, a.body)
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// Drained: the handler refuses new work.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/evaluate?key="+id, bytes.NewReader(f.ctFile)))
	if rec.Code != 503 {
		t.Errorf("after shutdown: %d", rec.Code)
	}
}

func TestInsecureKeyEviction(t *testing.T) {
	f := getFixture(t)
	// Room for one key set only.
	s, ts := newTestServer(t, Config{Workers: 1, KeyStoreBytes: int64(len(f.evkFile)) + 1000})
	id1 := uploadKey(t, ts.URL, f.evkFile)
	_, evk2, err := f.rt.KeyGen()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := evk2.MarshalBinary()
	a := call(t, "POST", ts.URL+"/v1/keys", k2)
	if a.code != 201 || !strings.Contains(string(a.body), `"evicted": 1`) {
		t.Fatalf("second key: %d %s", a.code, a.body)
	}
	if a := call(t, "POST", ts.URL+"/v1/evaluate?key="+id1, f.ctFile); a.code != 404 {
		t.Errorf("evicted key: %d %s", a.code, a.body)
	}
	n, used, _, ev := s.keys.stats()
	if n != 1 || used != int64(len(k2)) || ev != 1 {
		t.Errorf("store: %d keys, %d bytes, %d evictions", n, used, ev)
	}
}

func TestKeyStore(t *testing.T) {
	ks := newKeyStore(100)
	mustAdd := func(id string, size int64, wantEvicted int) {
		t.Helper()
		ev, err := ks.add(id, nil, size)
		if err != nil || ev != wantEvicted {
			t.Fatalf("add %s: evicted %d, %v; want %d", id, ev, err, wantEvicted)
		}
	}
	mustAdd("a", 40, 0)
	mustAdd("b", 40, 0)
	mustAdd("c", 40, 1) // a, least recently used, goes
	if _, ok := ks.has("a"); ok {
		t.Fatal("a not evicted")
	}
	b := ks.acquire("b") // b in use, and now most recent
	ks.has("c")          // c most recent; b least recent but pinned
	mustAdd("d", 40, 1)  // c goes, not b
	if _, ok := ks.has("b"); !ok {
		t.Fatal("pinned key evicted")
	}
	if _, err := ks.add("big", nil, 101); !errors.Is(err, errStoreFull) {
		t.Fatalf("over budget: %v", err)
	}
	if _, err := ks.add("f", nil, 70); !errors.Is(err, errStoreFull) { // b pinned: 40 + 70 > 100
		t.Fatalf("pinned: %v", err)
	}
	if _, ok := ks.has("d"); !ok {
		t.Fatal("a failed add evicted d")
	}
	if found, removed := ks.remove("b"); !found || removed {
		t.Fatal("removed a key in use")
	}
	ks.release(b)
	mustAdd("f", 70, 2)
	if n, used, _, _ := ks.stats(); n != 1 || used != 70 {
		t.Fatalf("stats %d %d", n, used)
	}
}
