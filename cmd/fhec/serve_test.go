package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fhec/fhec/internal/tensorio"
)

// TestServeQueryInsecure: `fhec serve` on a free loopback port (insecure
// test plan), `fhec query` with a fresh key directory (keygen, upload,
// evaluate, decrypt) agrees with `fhec run`'s result; a second query reuses
// the keys; cancelling shuts the server down cleanly.
func TestServeQueryInsecure(t *testing.T) {
	dir := t.TempDir()
	setup(t, dir)
	p := func(s string) string { return filepath.Join(dir, s) }

	pr, pw := io.Pipe()
	root := newRoot()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"serve", p("m.plan"), "--addr", "127.0.0.1:0", "--workers", "1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing: %v", <-served)
	}
	first := lines.Text()
	go io.Copy(io.Discard, pr)
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(first)
	if url == "" || !strings.Contains(first, "INSECURE") {
		t.Fatalf("serve: %q", first)
	}
	for i := range 2 {
		out, err := cli("query", "--server", url, "--key", p("qkeys"), p("x.npy"), "-o", p("yq.npy"))
		if err != nil {
			t.Fatalf("query %d: %v\n%s", i, err, out)
		}
		gen := strings.Contains(out, "generated keys")
		if gen != (i == 0) || strings.Contains(out, "uploaded") != (i == 0) {
			t.Errorf("query %d: generated %v:\n%s", i, gen, out)
		}
		want, err := tensorio.ReadFile(p("y.npy"))
		must(t, err)
		got, err := tensorio.ReadFile(p("yq.npy"))
		must(t, err)
		for k := range want.Data {
			if d := got.Data[k] - want.Data[k]; d > 1e-3 || d < -1e-3 {
				t.Fatalf("query %d value %d: %v, fhec run gave %v", i, k, got.Data[k], want.Data[k])
			}
		}
	}
	if _, err := os.Stat(p("qkeys/secret.key")); err != nil {
		t.Fatal(err)
	}
	// A bad request: the message reaches the user.
	out, err := cli("query", "--server", url, "--key", p("qkeys"), p("x.npy"), "-o", p("yq.npy"), "--plan-sha256", strings.Repeat("0", 64))
	if err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("pinned query: %v %s", err, out)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
}
