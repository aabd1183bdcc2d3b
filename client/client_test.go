package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/server"
	"github.com/fhec/fhec/server/servertest"
)

func small(t testing.TB) *servertest.Model {
	t.Helper()
	m, err := servertest.Small()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func startServer(t testing.TB, planFile []byte, cfg server.Config) (*server.Server, string) {
	t.Helper()
	s, err := server.New(planFile, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s) // loopback TCP
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func TestInsecureInferWithKeyDir(t *testing.T) {
	m := small(t)
	_, url := startServer(t, m.PlanFile, server.Config{Workers: 2})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	var uploads atomic.Int32
	opt := Options{KeyDir: dir, OnUpload: func(string, int) { uploads.Add(1) }, Logf: t.Logf}
	c, err := New(url, opt)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" {
		t.Fatalf("health: %+v %v", h, err)
	}
	info, err := c.PlanInfo(ctx)
	if err != nil || !info.Params.Insecure {
		t.Fatalf("plan info: %+v %v", info, err)
	}
	for i := range 3 {
		x := m.Input(uint64(i), 1+i)
		y, st, err := c.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Check(x, y, 0.05); err != nil {
			t.Fatal(err)
		}
		if st.Eval <= 0 || st.RoundTrip < st.Eval {
			t.Errorf("stats %+v", st)
		}
	}
	if uploads.Load() != 1 {
		t.Errorf("%d uploads, want 1", uploads.Load())
	}
	fi, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, EvalKeyFile)); err != nil {
		t.Fatal(err)
	}
	// A new client on the same key dir: same keys, no upload (the server
	// has them), and it decrypts.
	c2, _ := New(url, opt)
	gen, err := c2.EnsureKeys(ctx)
	if err != nil || gen {
		t.Fatalf("second client: generated %v, %v", gen, err)
	}
	if c2.KeyID() != c.KeyID() {
		t.Fatal("second client has other keys")
	}
	x := m.Input(9, 2)
	y, _, err := c2.Infer(ctx, x)
	if err != nil || m.Check(x, y, 0.05) != nil {
		t.Fatalf("second client: %v", err)
	}
	if uploads.Load() != 1 {
		t.Errorf("%d uploads, want 1", uploads.Load())
	}
}

func TestInsecureReuploadAfterEviction(t *testing.T) {
	m := small(t)
	ctx := context.Background()
	// Room for one key set: two clients take turns evicting each other.
	rt, err := fhec.NewRuntime(m.Compiled.Plan)
	if err != nil {
		t.Fatal(err)
	}
	_, evk, _ := rt.KeyGen()
	b, _ := evk.MarshalBinary()
	_, url := startServer(t, m.PlanFile, server.Config{Workers: 1, KeyStoreBytes: int64(len(b)) + 4096})
	var uploads atomic.Int32
	opt := Options{OnUpload: func(string, int) { uploads.Add(1) }}
	a, _ := New(url, opt)
	bb, _ := New(url, opt)
	for i := range 2 {
		for _, c := range []*Client{a, bb} {
			x := m.Input(uint64(i), 1)
			y, _, err := c.Infer(ctx, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Check(x, y, 0.05); err != nil {
				t.Fatal(err)
			}
		}
	}
	if uploads.Load() != 4 {
		t.Errorf("%d uploads, want 4 (each request after an eviction re-uploads)", uploads.Load())
	}
}

func TestInsecureMismatches(t *testing.T) {
	m := small(t)
	_, url := startServer(t, m.PlanFile, server.Config{Workers: 1})
	ctx := context.Background()
	c, _ := New(url, Options{PlanSHA256: strings.Repeat("0", 64)})
	if _, err := c.Runtime(ctx); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("pinned plan: %v", err)
	}
	// A key dir made for another plan's parameters.
	f, err := servertest.Foreign()
	if err != nil {
		t.Fatal(err)
	}
	_, furl := startServer(t, f.PlanFile, server.Config{Workers: 1})
	dir := t.TempDir()
	fc, _ := New(furl, Options{KeyDir: dir})
	if _, err := fc.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ = New(url, Options{KeyDir: dir})
	_, _, err = c.Infer(ctx, m.Input(1, 1))
	if err == nil || !strings.Contains(err.Error(), "another plan's parameters") {
		t.Errorf("keys for another plan: %v", err)
	}
	// Only one of the two key files.
	os.Remove(filepath.Join(dir, EvalKeyFile))
	c, _ = New(url, Options{KeyDir: dir})
	if _, err := c.EnsureKeys(ctx); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("half a key pair: %v", err)
	}
	// Server errors come back as *Error.
	c, _ = New(url, Options{})
	_, err = c.do(ctx, "POST", "/v1/evaluate?key=nope", []byte("x"))
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "bad_key_id" {
		t.Errorf("error: %v", err)
	}
	if _, err := New("localhost:8080", Options{}); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

// TestInsecureLoadTest: 8 concurrent clients x 5 requests on loopback
// (insecure parameters), every decrypted result checked.
func TestInsecureLoadTest(t *testing.T) {
	m := small(t)
	_, url := startServer(t, m.PlanFile, server.Config{Workers: 2, QueueDepth: 8})
	rep, err := LoadTest(context.Background(), LoadConfig{
		Server: url, Clients: 8, Requests: 5,
		Input: func(c, r int) fhec.Tensor { return m.Input(uint64(100*c+r), 1+(c+r)%4) },
		Check: func(x, y fhec.Tensor) error { return m.Check(x, y, 0.05) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("insecure 8x5 on loopback: %v", rep)
	if rep.Correct != 40 || rep.Requests != 40 {
		t.Fatalf("%d/%d correct: %v", rep.Correct, rep.Requests, rep.Errors)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i))
	}
	if Percentile(d, 0.5) != 50 || Percentile(d, 0.99) != 99 || Percentile(d, 1) != 100 || Percentile(nil, 0.5) != 0 {
		t.Error(Percentile(d, 0.5), Percentile(d, 0.99))
	}
}

// TestInsecureKeygenMemoryCheck: where the plan's keys would not fit in the
// memory available, the client refuses before generating them, saying
// both; SkipMemoryCheck goes ahead.
func TestInsecureKeygenMemoryCheck(t *testing.T) {
	m := small(t)
	_, url := startServer(t, m.PlanFile, server.Config{Workers: 1})
	defer func(f func() (int64, bool)) { sysmem.Available = f }(sysmem.Available)
	sysmem.Available = func() (int64, bool) { return 1 << 20, true }
	ctx := context.Background()
	c, err := New(url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureKeys(ctx); err == nil || !strings.Contains(err.Error(), "key generation needs about") || !strings.Contains(err.Error(), "1.0 MiB available") {
		t.Fatalf("keygen on a machine with 1 MiB: %v, want the memory check's error", err)
	}
	c, err = New(url, Options{SkipMemoryCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if gen, err := c.EnsureKeys(ctx); err != nil || !gen {
		t.Fatalf("SkipMemoryCheck: generated %v, %v", gen, err)
	}
}
