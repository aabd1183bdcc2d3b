// Package client talks to an fhec server (package server, `fhec serve`):
// it fetches and verifies the plan, generates keys if the key directory has
// none (the secret key never leaves this process and its directory),
// uploads the evaluation keys once, encrypts inputs, has the server
// evaluate them and decrypts the results.
//
//	c, _ := client.New("http://127.0.0.1:8080", client.Options{KeyDir: "keys"})
//	y, _ := c.Infer(ctx, x) // keygen if needed, encrypt, upload keys once, evaluate, decrypt
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/runtime"
	"github.com/fhec/fhec/server"
)

// Key file names in Options.KeyDir (the names `fhec keygen -o DIR` uses).
const (
	SecretKeyFile = "secret.key"
	EvalKeyFile   = "eval.key"
)

// Options configure a Client.
type Options struct {
	// HTTPClient sends the requests (default: a client without an overall
	// timeout, as evaluations may take long; bound them with the context).
	HTTPClient *http.Client
	// KeyDir holds secret.key and eval.key. Missing keys are generated and
	// written there (secret.key readable by its owner only). Empty: keys
	// are generated in memory for the life of the Client.
	KeyDir string
	// PlanSHA256, if set, pins the plan: the server's plan file must have
	// this hex SHA-256.
	PlanSHA256 string
	// Retries is how many times a request refused with 503 (queue full,
	// shutting down) is retried, honouring Retry-After (default 3; <0: none).
	Retries int
	// Logf, if set, receives progress lines (key generation, uploads).
	Logf func(format string, args ...any)
	// OnUpload, if set, observes each evaluation-key upload (for tests).
	OnUpload func(keyID string, bytes int)
	// SkipMemoryCheck generates keys even when the plan's estimated key
	// generation peak exceeds the memory available (by default that is an
	// error that says both, instead of a process killed part-way).
	SkipMemoryCheck bool
}

// Client is safe for concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client
	opt  Options

	mu        sync.Mutex
	rt        *fhec.Runtime
	planSum   string
	sk        *fhec.SecretKey
	evkFile   []byte
	keyID     string
	uploaded  bool
	generated bool
	upMu      sync.Mutex // one upload at a time
}

// Error is a non-2xx answer from the server.
type Error = server.Error

// New returns a client for the server at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string, opt Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http(s)://host:port", baseURL)
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	if opt.Retries == 0 {
		opt.Retries = 3
	}
	return &Client{base: u, hc: opt.HTTPClient, opt: opt}, nil
}

func (c *Client) logf(format string, args ...any) {
	if c.opt.Logf != nil {
		c.opt.Logf(format, args...)
	}
}

func (c *Client) url(path string) string { return c.base.String() + path }

// do sends a request, retrying 503 answers; body may be nil. It returns the
// response of a 2xx answer (the caller closes it), or an *Error.
func (c *Client) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		e := readError(resp)
		if e.Status == http.StatusServiceUnavailable && attempt < c.opt.Retries {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 && s < 60 {
				wait = time.Duration(s) * time.Second
			}
			wait += time.Duration(attempt) * 250 * time.Millisecond
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("client: %s %s: %w (after %v)", method, path, ctx.Err(), e)
			}
		}
		return nil, fmt.Errorf("client: %s %s: %w", method, path, e)
	}
}

func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{}
	if err := json.Unmarshal(b, e); err != nil || e.Message == "" {
		e = &Error{Code: "http", Message: strings.TrimSpace(string(b))}
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	e.Status = resp.StatusCode
	return e
}

func getJSON(ctx context.Context, c *Client, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("client: GET %s: %w", path, err)
	}
	return nil
}

// Health returns the server's health (an *Error with status 503 while it
// shuts down).
func (c *Client) Health(ctx context.Context) (*server.Health, error) {
	h := &server.Health{}
	return h, getJSON(ctx, c, "/v1/health", h)
}

// PlanInfo returns the plan's metadata as the server describes it.
func (c *Client) PlanInfo(ctx context.Context) (*server.PlanInfo, error) {
	p := &server.PlanInfo{}
	return p, getJSON(ctx, c, "/v1/plan/info", p)
}

// Metrics returns the server's metrics (Prometheus text format).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/metrics", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return string(b), err
}

// Runtime fetches the server's plan once, verifies it (checksum, the
// server's fingerprint header, Options.PlanSHA256) and returns its runtime.
func (c *Client) Runtime(ctx context.Context) (*fhec.Runtime, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runtimeLocked(ctx)
}

func (c *Client) runtimeLocked(ctx context.Context) (*fhec.Runtime, error) {
	if c.rt != nil {
		return c.rt, nil
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/plan", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("client: GET /v1/plan: %w", err)
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	if h := resp.Header.Get(server.HeaderPlanSHA256); h != "" && h != hexSum {
		return nil, fmt.Errorf("client: the plan received has SHA-256 %s, the server announced %s (damaged in transit?)", hexSum[:12], clip(h))
	}
	if c.opt.PlanSHA256 != "" && !strings.EqualFold(c.opt.PlanSHA256, hexSum) {
		return nil, fmt.Errorf("client: the server's plan has SHA-256 %s, want %s (pinned)", hexSum, c.opt.PlanSHA256)
	}
	p, err := plan.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("client: the server's plan: %w", err)
	}
	rt, err := fhec.NewRuntime(p)
	if err != nil {
		return nil, fmt.Errorf("client: the server's plan: %w", err)
	}
	fp := rt.Fingerprint()
	if h := resp.Header.Get(server.HeaderFingerprint); h != "" && h != hex.EncodeToString(fp[:]) {
		return nil, fmt.Errorf("client: the plan's parameters have fingerprint %x…, the server announced %s", fp[:6], clip(h))
	}
	c.rt, c.planSum = rt, hexSum
	return rt, nil
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// PlanSHA256 returns the hex SHA-256 of the server's plan file (after Runtime).
func (c *Client) PlanSHA256() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.planSum
}

// EnsureKeys loads the keys from Options.KeyDir, or generates them (and
// writes them there) if the directory has none. It reports whether keys
// were generated.
func (c *Client) EnsureKeys(ctx context.Context) (generated bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensureKeysLocked(ctx); err != nil {
		return false, err
	}
	return c.generated, nil
}

func (c *Client) ensureKeysLocked(ctx context.Context) error {
	if c.sk != nil {
		return nil
	}
	rt, err := c.runtimeLocked(ctx)
	if err != nil {
		return err
	}
	dir := c.opt.KeyDir
	if dir != "" {
		skPath, evkPath := filepath.Join(dir, SecretKeyFile), filepath.Join(dir, EvalKeyFile)
		skB, skErr := os.ReadFile(skPath)
		evkB, evkErr := os.ReadFile(evkPath)
		switch {
		case skErr == nil && evkErr == nil:
			sk, err := rt.UnmarshalSecretKey(skB)
			if err != nil {
				if errors.Is(err, runtime.ErrParamsMismatch) {
					return fmt.Errorf("client: %s: the keys there were made for another plan's parameters; use another key directory for this server: %w", dir, err)
				}
				return fmt.Errorf("client: %s: %w", skPath, err)
			}
			if _, err := rt.UnmarshalEvaluationKeys(evkB); err != nil {
				return fmt.Errorf("client: %s: %w", evkPath, err)
			}
			c.sk, c.evkFile, c.keyID = sk, evkB, server.KeyID(evkB)
			c.logf("using keys in %s (key id %s…)", dir, c.keyID[:12])
			return nil
		case errors.Is(skErr, fs.ErrNotExist) && errors.Is(evkErr, fs.ErrNotExist):
		case skErr != nil && !errors.Is(skErr, fs.ErrNotExist):
			return fmt.Errorf("client: %w", skErr)
		case evkErr != nil && !errors.Is(evkErr, fs.ErrNotExist):
			return fmt.Errorf("client: %w", evkErr)
		default:
			return fmt.Errorf("client: %s holds only one of %s and %s; remove it to generate a new pair", dir, SecretKeyFile, EvalKeyFile)
		}
	}
	if !c.opt.SkipMemoryCheck {
		if err := sysmem.Check(rt.Plan(), "key generation", sysmem.ClientPeak, "Options.SkipMemoryCheck (fhec query --skip-memory-check) tries anyway"); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	start := time.Now()
	c.logf("generating keys (%d rotation keys)…", len(rt.Plan().Keys.GetGaloisElements()))
	sk, evk, err := rt.KeyGen()
	if err != nil {
		return fmt.Errorf("client: keygen: %w", err)
	}
	evkB, err := evk.MarshalBinary()
	if err != nil {
		return err
	}
	if dir != "" {
		skB, err := sk.MarshalBinary()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if err := writeAtomic(filepath.Join(dir, EvalKeyFile), evkB, 0o644); err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, SecretKeyFile), skB, 0o600); err != nil {
			return err
		}
	}
	c.sk, c.evkFile, c.keyID, c.generated = sk, evkB, server.KeyID(evkB), true
	where := "in memory"
	if dir != "" {
		where = "in " + dir
	}
	c.logf("generated keys %s in %s: evaluation keys %.1f MiB (key id %s…)", where, time.Since(start).Round(time.Millisecond), float64(len(evkB))/(1<<20), c.keyID[:12])
	return nil
}

func writeAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("client: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("client: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// KeyID returns the id of the evaluation keys (after EnsureKeys).
func (c *Client) KeyID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyID
}

// UploadKeys makes sure the server holds this client's evaluation keys and
// returns their id. It asks first (GET /v1/keys/{id}; the id is the keys'
// SHA-256) and uploads only if the server lacks them; the answer is cached
// until the server reports the keys unknown.
func (c *Client) UploadKeys(ctx context.Context) (string, error) {
	return c.uploadKeys(ctx, false)
}

func (c *Client) uploadKeys(ctx context.Context, force bool) (string, error) {
	c.upMu.Lock()
	defer c.upMu.Unlock()
	c.mu.Lock()
	err := c.ensureKeysLocked(ctx)
	id, evk, done := c.keyID, c.evkFile, c.uploaded && !force
	c.mu.Unlock()
	if err != nil || done {
		return id, err
	}
	if !force {
		var ki server.KeyInfo
		err := getJSON(ctx, c, "/v1/keys/"+id, &ki)
		var e *Error
		switch {
		case err == nil:
			c.setUploaded(true)
			return id, nil
		case !errors.As(err, &e) || e.Status != http.StatusNotFound:
			return "", err
		}
	}
	start := time.Now()
	resp, err := c.do(ctx, http.MethodPost, "/v1/keys", evk)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var ki server.KeyInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ki); err != nil {
		return "", fmt.Errorf("client: POST /v1/keys: %w", err)
	}
	if ki.KeyID != id {
		return "", fmt.Errorf("client: the server named the keys %s, want their SHA-256 %s", clip(ki.KeyID), id)
	}
	if c.opt.OnUpload != nil {
		c.opt.OnUpload(id, len(evk))
	}
	c.logf("uploaded evaluation keys (%.1f MiB) in %s", float64(len(evk))/(1<<20), time.Since(start).Round(time.Millisecond))
	c.setUploaded(true)
	return id, nil
}

func (c *Client) setUploaded(v bool) {
	c.mu.Lock()
	c.uploaded = v
	c.mu.Unlock()
}

// EvalStats describe one evaluation as the server reported it.
type EvalStats struct {
	Eval, Wait time.Duration // on the worker, and queued
	RoundTrip  time.Duration // POST to the end of the answer
	Bytes      int           // ciphertext bytes sent
}

// EvaluateCiphertexts sends encrypted inputs and returns the encrypted
// outputs, uploading the evaluation keys first if needed (and once more if
// the server evicted them).
func (c *Client) EvaluateCiphertexts(ctx context.Context, in *fhec.Ciphertexts) (*fhec.Ciphertexts, *EvalStats, error) {
	rt, err := c.Runtime(ctx)
	if err != nil {
		return nil, nil, err
	}
	body, err := in.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		id, err := c.uploadKeys(ctx, false)
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		resp, err := c.do(ctx, http.MethodPost, "/v1/evaluate?key="+id, body)
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code == "unknown_key" && attempt == 0 {
			c.logf("the server no longer holds the evaluation keys; uploading them again")
			c.setUploaded(false)
			if _, err := c.uploadKeys(ctx, true); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("client: POST /v1/evaluate: reading the answer: %w", err)
		}
		st := &EvalStats{RoundTrip: time.Since(start), Bytes: len(body)}
		st.Eval = seconds(resp.Header.Get(server.HeaderEvalSeconds))
		st.Wait = seconds(resp.Header.Get(server.HeaderWaitSeconds))
		out, err := rt.UnmarshalCiphertexts(b)
		if err != nil {
			return nil, nil, fmt.Errorf("client: the server's answer: %w", err)
		}
		if out.Kind() != runtime.Outputs || out.Samples() != in.Samples() {
			return nil, nil, fmt.Errorf("client: the server answered %d plan %v samples, want %d outputs", out.Samples(), out.Kind(), in.Samples())
		}
		return out, st, nil
	}
}

func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Encrypt encrypts x ([batch, ...model input without its batch dim], or
// one sample) with this client's secret key.
func (c *Client) Encrypt(ctx context.Context, x fhec.Tensor) (*fhec.Ciphertexts, error) {
	c.mu.Lock()
	err := c.ensureKeysLocked(ctx)
	rt, sk := c.rt, c.sk
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return rt.EncryptTensor(sk, x)
}

// Decrypt decrypts outputs with this client's secret key.
func (c *Client) Decrypt(ctx context.Context, out *fhec.Ciphertexts) (fhec.Tensor, error) {
	c.mu.Lock()
	err := c.ensureKeysLocked(ctx)
	rt, sk := c.rt, c.sk
	c.mu.Unlock()
	if err != nil {
		return fhec.Tensor{}, err
	}
	return rt.DecryptTensor(sk, out)
}

// Infer runs the model on x on the server, encrypted: keys (generated if
// needed), encrypt, upload the evaluation keys once, evaluate, decrypt.
func (c *Client) Infer(ctx context.Context, x fhec.Tensor) (fhec.Tensor, *EvalStats, error) {
	ct, err := c.Encrypt(ctx, x)
	if err != nil {
		return fhec.Tensor{}, nil, err
	}
	out, st, err := c.EvaluateCiphertexts(ctx, ct)
	if err != nil {
		return fhec.Tensor{}, nil, err
	}
	y, err := c.Decrypt(ctx, out)
	return y, st, err
}
