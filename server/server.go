// Package server serves one fhec plan over HTTP: clients fetch the plan,
// upload their evaluation keys once, and POST encrypted inputs to get
// encrypted outputs back. The server only ever holds evaluation keys
// (relinearization and Galois keys) and ciphertexts, never a secret key.
//
// The endpoints are listed in docs/api.md. Reliability:
//
//   - request bodies are streamed under size limits (413 beyond them);
//   - evaluations run on a bounded pool of Workers, each evaluation with
//     its own evaluator (runtime.Evaluate with Workers=1); at most
//     QueueDepth more requests wait, further ones get 503 at once;
//   - waiting for a worker and evaluating are bounded in time (503, 504);
//   - malformed, truncated or foreign-parameter keys and ciphertexts get a
//     4xx with a message, never a crash (handlers are fuzzed);
//   - evaluation keys are accounted by size in a store with a byte budget,
//     least recently used first out (keys in use are never evicted);
//   - Serve shuts down gracefully: new work is refused, in-flight
//     evaluations finish and are answered.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/runtime"
)

// Config tunes a Server. Zero fields take the defaults documented on each.
type Config struct {
	// Workers is the number of evaluations that run at once (default
	// GOMAXPROCS). Each evaluation uses one core.
	Workers int
	// QueueDepth is how many evaluation requests may wait for a worker
	// (default 4 x Workers). Requests beyond Workers+QueueDepth get 503.
	QueueDepth int
	// MaxKeyBytes bounds one evaluation-key upload (default 1 GiB).
	MaxKeyBytes int64
	// MaxCiphertextBytes bounds one evaluation request body (default 256 MiB,
	// or a full group of the plan's input ciphertexts plus 1/8 if larger).
	MaxCiphertextBytes int64
	// KeyStoreBytes is the budget for all evaluation keys held (default
	// 4 GiB); the least recently used keys not in use are evicted to make
	// room, and clients re-upload on 404.
	KeyStoreBytes int64
	// MaxConcurrentUploads bounds key uploads being read and decoded at
	// once (default 2); more get 503.
	MaxConcurrentUploads int
	// QueueTimeout bounds the wait for a worker (default 2 min; 503 after).
	QueueTimeout time.Duration
	// EvalTimeout bounds one evaluation once it has a worker (default 10
	// min; 504 after). The evaluation cannot be interrupted: it finishes
	// on its worker, and its result is dropped.
	EvalTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// 10 min); ReadHeaderTimeout the headers (default 10 s). Used by Serve.
	ReadTimeout, ReadHeaderTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown in Serve (default 5 min).
	ShutdownTimeout time.Duration
	// Logger receives one line per request and per lifecycle event
	// (default: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = goruntime.GOMAXPROCS(0)
	}
	if c.QueueDepth < 0 {
		c.QueueDepth = 0
	} else if c.QueueDepth == 0 {
		c.QueueDepth = 4 * c.Workers
	}
	if c.MaxKeyBytes <= 0 {
		c.MaxKeyBytes = 1 << 30
	}
	if c.MaxCiphertextBytes <= 0 {
		c.MaxCiphertextBytes = 256 << 20
	}
	if c.KeyStoreBytes <= 0 {
		c.KeyStoreBytes = 4 << 30
	}
	if c.MaxConcurrentUploads <= 0 {
		c.MaxConcurrentUploads = 2
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = 2 * time.Minute
	}
	if c.EvalTimeout <= 0 {
		c.EvalTimeout = 10 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Minute
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Server serves one plan. Create it with New; it is an http.Handler.
type Server struct {
	cfg      Config
	rt       *runtime.Context
	planFile []byte
	planSum  string // hex SHA-256 of planFile
	fp       string // hex plan.Fingerprint of the parameters
	info     []byte // JSON of /v1/plan/info
	keys     *keyStore
	log      *slog.Logger
	handler  http.Handler

	admit    chan struct{} // Workers + QueueDepth evaluation requests in the system
	work     chan struct{} // Workers evaluations running
	uploads  chan struct{} // key uploads being read and decoded
	draining atomic.Bool
	inflight tracker // running evaluations, including abandoned ones
	m        metrics

	// testHookEval, when set, runs on the worker before each evaluation.
	testHookEval func()
}

// New returns a server for the plan file planFile (its bytes are served
// as they are, so that clients can check them).
func New(planFile []byte, cfg Config) (*Server, error) {
	p, err := plan.Unmarshal(planFile)
	if err != nil {
		return nil, err
	}
	rt, err := runtime.NewContext(p)
	if err != nil {
		return nil, err
	}
	if cfg.MaxCiphertextBytes <= 0 {
		// room for one full group of input ciphertexts: a feature-major
		// plan has one ciphertext per input element (CryptoNets: 588 MiB)
		if sm, err := plan.Summarize(p); err == nil {
			group := int64(0)
			for _, in := range sm.Inputs {
				group += int64(in.Ciphertexts) * sm.CiphertextBytes
			}
			cfg.MaxCiphertextBytes = max(256<<20, group+group/8)
		}
	}
	cfg = cfg.withDefaults()
	sum := sha256.Sum256(planFile)
	fp := rt.Fingerprint()
	s := &Server{
		cfg:      cfg,
		rt:       rt,
		planFile: append([]byte(nil), planFile...),
		planSum:  hex.EncodeToString(sum[:]),
		fp:       hex.EncodeToString(fp[:]),
		keys:     newKeyStore(cfg.KeyStoreBytes),
		log:      cfg.Logger,
		admit:    make(chan struct{}, cfg.Workers+cfg.QueueDepth),
		work:     make(chan struct{}, cfg.Workers),
		uploads:  make(chan struct{}, cfg.MaxConcurrentUploads),
	}
	s.m.init()
	if s.info, err = s.planInfo(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Fingerprint is the hex plan.Fingerprint of the plan's CKKS parameters.
func (s *Server) Fingerprint() string { return s.fp }

// Runtime returns the server's runtime context (read-only).
func (s *Server) Runtime() *runtime.Context { return s.rt }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain makes the server refuse new key uploads and evaluations (503) and
// report draining on /v1/health; then it waits, until ctx is done, for the
// evaluations in flight to finish.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	select {
	case <-s.inflight.idle():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: %d evaluations still running: %w", s.m.busy.Load(), ctx.Err())
	}
}

// Serve serves HTTP on l until ctx is done, then shuts down gracefully:
// the listener closes, requests in progress (evaluations included) finish
// and are answered, within Config.ShutdownTimeout. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	s.log.Info("serving", "addr", l.Addr().String(), "fingerprint", s.fp[:12], "workers", s.cfg.Workers, "queue", s.cfg.QueueDepth)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests")
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if derr := s.Drain(sctx); err == nil {
		err = derr
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("server: shutdown: %w", err)
	}
	s.log.Info("shut down cleanly")
	return nil
}

// tracker counts running evaluations; idle's channel closes at zero.
type tracker struct {
	mu      sync.Mutex
	n       int
	waiters []chan struct{}
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		for _, c := range t.waiters {
			close(c)
		}
		t.waiters = nil
	}
}

func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := make(chan struct{})
	if t.n == 0 {
		close(c)
	} else {
		t.waiters = append(t.waiters, c)
	}
	return c
}
