package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/runtime"
)

// APIVersion is the path prefix of every endpoint.
const APIVersion = "v1"

// Response headers.
const (
	HeaderFingerprint = "Fhec-Fingerprint"  // hex plan.Fingerprint of the CKKS parameters
	HeaderPlanSHA256  = "Fhec-Plan-Sha256"  // hex SHA-256 of the plan file
	HeaderKeyID       = "Fhec-Key-Id"       // the key id an evaluation used
	HeaderSamples     = "Fhec-Samples"      // samples evaluated
	HeaderEvalSeconds = "Fhec-Eval-Seconds" // time on the worker
	HeaderWaitSeconds = "Fhec-Wait-Seconds" // time waiting for a worker
)

// Error is the JSON body of every non-2xx answer.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func apiErr(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// KeyInfo is the JSON answer of POST /v1/keys and GET /v1/keys/{id}.
type KeyInfo struct {
	KeyID   string `json:"key_id"`
	Bytes   int64  `json:"bytes"`
	Existed bool   `json:"existed,omitempty"` // POST: the same keys were already stored
	Evicted int    `json:"evicted,omitempty"` // POST: key sets evicted to make room
}

// Health is the JSON answer of GET /v1/health.
type Health struct {
	Status      string `json:"status"` // "ok" or "draining"
	Fingerprint string `json:"fingerprint"`
	Workers     int    `json:"workers"`
	Busy        int64  `json:"busy"`
	Waiting     int64  `json:"waiting"`
	QueueDepth  int    `json:"queue_depth"`
	Keys        int    `json:"keys"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, name string, h func(http.ResponseWriter, *http.Request) *Error) {
		mux.Handle(pattern, s.instrument(name, h))
	}
	handle("GET /v1/health", "health", s.handleHealth)
	handle("GET /v1/metrics", "metrics", s.handleMetrics)
	handle("GET /v1/plan", "plan", s.handlePlan)
	handle("GET /v1/plan/info", "plan_info", s.handlePlanInfo)
	handle("POST /v1/keys", "keys_upload", s.handleKeyUpload)
	handle("GET /v1/keys/{id}", "keys_get", s.handleKeyGet)
	handle("DELETE /v1/keys/{id}", "keys_delete", s.handleKeyDelete)
	handle("POST /v1/evaluate", "evaluate", s.handleEvaluate)
	handle("/", "not_found", func(w http.ResponseWriter, r *http.Request) *Error {
		return apiErr(http.StatusNotFound, "not_found", "no endpoint %s %s; the API is under /%s/ (see docs/api.md)", r.Method, r.URL.Path, APIVersion)
	})
	return mux
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument turns returned errors into JSON answers, recovers panics (a
// bug: answered 500 and counted), and records metrics and a log line.
func (s *Server) instrument(name string, h func(http.ResponseWriter, *http.Request) *Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var e *Error
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					s.m.panicsSaved.Add(1)
					s.log.Error("handler panic", "endpoint", name, "panic", fmt.Sprint(p))
					e = apiErr(http.StatusInternalServerError, "internal", "internal error")
				}
			}()
			e = h(sw, r)
		}()
		if e != nil && sw.code == 0 {
			writeJSON(sw, e.Status, e)
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		s.m.request(name, code)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", code, "dur", time.Since(start).Round(time.Microsecond)}
		if e != nil {
			attrs = append(attrs, "error", e.Message)
		}
		s.log.Info("request", attrs...)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status":500,"code":"internal","error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) *Error {
	n, _, _, _ := s.keys.stats()
	h := Health{Status: "ok", Fingerprint: s.fp, Workers: s.cfg.Workers, Busy: s.m.busy.Load(),
		Waiting: s.m.waiting.Load(), QueueDepth: s.cfg.QueueDepth, Keys: n}
	status := http.StatusOK
	if s.draining.Load() {
		h.Status, status = "draining", http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) *Error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.writeMetrics(w)
	return nil
}

func (s *Server) setPlanHeaders(w http.ResponseWriter) {
	w.Header().Set(HeaderFingerprint, s.fp)
	w.Header().Set(HeaderPlanSHA256, s.planSum)
}

func (s *Server) handlePlan(w http.ResponseWriter, r *http.Request) *Error {
	s.setPlanHeaders(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.planFile)))
	w.Header().Set("ETag", `"`+s.planSum+`"`)
	if r.Method == http.MethodHead {
		return nil
	}
	w.Write(s.planFile)
	return nil
}

func (s *Server) handlePlanInfo(w http.ResponseWriter, r *http.Request) *Error {
	s.setPlanHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.info)))
	w.Write(s.info)
	return nil
}

// readBody reads the request body under limit, hashing it into h if set.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64, what string, h hash.Hash) ([]byte, *Error) {
	if r.ContentLength > limit {
		return nil, apiErr(http.StatusRequestEntityTooLarge, "too_large", "%s of %d bytes exceeds this server's limit of %d bytes", what, r.ContentLength, limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if h != nil {
		src = io.TeeReader(src, h)
	}
	n, err := buf.ReadFrom(src)
	s.m.bytesIn.Add(n)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, "too_large", "%s exceeds this server's limit of %d bytes", what, limit)
		}
		return nil, apiErr(http.StatusBadRequest, "bad_body", "reading the %s: %v", what, err)
	}
	if buf.Len() == 0 {
		return nil, apiErr(http.StatusBadRequest, "empty_body", "empty request body: send the %s as the body", what)
	}
	return buf.Bytes(), nil
}

// decodeErr maps a runtime decoding error to an answer.
func decodeErr(what string, err error) *Error {
	if errors.Is(err, runtime.ErrParamsMismatch) {
		return apiErr(http.StatusUnprocessableEntity, "params_mismatch", "%s: %v", what, err)
	}
	return apiErr(http.StatusBadRequest, "malformed", "%s: %v", what, err)
}

func validKeyID(id string) bool {
	if len(id) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// KeyID is the id the server gives an evaluation-key file: the hex SHA-256
// of its bytes (clients can compute it without asking).
func KeyID(evalKeyFile []byte) string {
	sum := sha256.Sum256(evalKeyFile)
	return hex.EncodeToString(sum[:])
}

func (s *Server) handleKeyUpload(w http.ResponseWriter, r *http.Request) *Error {
	if s.draining.Load() {
		s.m.reject("draining")
		return unavailable(w, "draining", "the server is shutting down")
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		s.m.reject("uploads_busy")
		return unavailable(w, "uploads_busy", "%d key uploads are in progress; retry shortly", s.cfg.MaxConcurrentUploads)
	}
	limit := min(s.cfg.MaxKeyBytes, s.cfg.KeyStoreBytes)
	h := sha256.New()
	body, e := s.readBody(w, r, limit, "evaluation-key file", h)
	if e != nil {
		return e
	}
	if bytes.HasPrefix(body, []byte(runtime.MagicSecretKey)) {
		return apiErr(http.StatusBadRequest, "secret_key_refused",
			"this is a secret key: it must never leave the client; upload the evaluation keys (eval.key) instead")
	}
	id := hex.EncodeToString(h.Sum(nil))
	if size, ok := s.keys.has(id); ok {
		writeJSON(w, http.StatusOK, KeyInfo{KeyID: id, Bytes: size, Existed: true})
		return nil
	}
	evk, err := s.rt.UnmarshalEvaluationKeys(body)
	if err != nil {
		return decodeErr("evaluation keys", err)
	}
	if e := s.checkCoverage(evk); e != nil {
		return e
	}
	size := int64(len(body))
	evicted, err := s.keys.add(id, evk, size)
	if err != nil {
		s.m.reject("key_store_full")
		return unavailable(w, "key_store_full", "no room for %d bytes of keys: the store's %d-byte budget is taken by keys in use; retry shortly", size, s.cfg.KeyStoreBytes)
	}
	s.m.keyUploads.Add(1)
	w.Header().Set("Location", "/v1/keys/"+id)
	writeJSON(w, http.StatusCreated, KeyInfo{KeyID: id, Bytes: size, Evicted: evicted})
	return nil
}

// checkCoverage checks that evk hold every key the plan needs.
func (s *Server) checkCoverage(evk *runtime.EvaluationKeys) *Error {
	need := s.rt.Plan().Keys
	if need == nil {
		return nil
	}
	if need.Relinearization && !evk.HasRelinearizationKey() {
		return apiErr(http.StatusUnprocessableEntity, "keys_incomplete", "the plan needs a relinearization key; the uploaded keys lack it")
	}
	have := evk.GaloisElements()
	var missing []uint64
	for _, g := range need.GaloisElements {
		if _, ok := slices.BinarySearch(have, g); !ok {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		return apiErr(http.StatusUnprocessableEntity, "keys_incomplete", "the plan needs %d Galois keys; the uploaded keys lack %d of them (elements %v)", len(need.GaloisElements), len(missing), missing[:min(len(missing), 8)])
	}
	return nil
}

func (s *Server) handleKeyGet(w http.ResponseWriter, r *http.Request) *Error {
	id := r.PathValue("id")
	if !validKeyID(id) {
		return apiErr(http.StatusBadRequest, "bad_key_id", "key id %q is not 64 lowercase hex digits", clip(id))
	}
	size, ok := s.keys.has(id)
	if !ok {
		return apiErr(http.StatusNotFound, "unknown_key", "no evaluation keys with id %s (never uploaded, or evicted): POST them to /v1/keys", id)
	}
	writeJSON(w, http.StatusOK, KeyInfo{KeyID: id, Bytes: size})
	return nil
}

func (s *Server) handleKeyDelete(w http.ResponseWriter, r *http.Request) *Error {
	id := r.PathValue("id")
	if !validKeyID(id) {
		return apiErr(http.StatusBadRequest, "bad_key_id", "key id %q is not 64 lowercase hex digits", clip(id))
	}
	switch found, removed := s.keys.remove(id); {
	case !found:
		return apiErr(http.StatusNotFound, "unknown_key", "no evaluation keys with id %s", id)
	case !removed:
		return apiErr(http.StatusConflict, "key_in_use", "evaluation keys %s are in use by an evaluation; retry later", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func unavailable(w http.ResponseWriter, code, format string, args ...any) *Error {
	w.Header().Set("Retry-After", "1")
	return apiErr(http.StatusServiceUnavailable, code, format, args...)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

type evalResult struct {
	body    []byte
	samples int
	dur     time.Duration
	err     error
}

func (s *Server) handleEvaluate(w http.ResponseWriter, r *http.Request) *Error {
	id := r.URL.Query().Get("key")
	if id == "" {
		id = r.Header.Get(HeaderKeyID)
	}
	if !validKeyID(id) {
		return apiErr(http.StatusBadRequest, "bad_key_id", "want ?key=<key id from POST /v1/keys> (64 lowercase hex digits), got %q", clip(id))
	}
	if s.draining.Load() {
		s.m.reject("draining")
		return unavailable(w, "draining", "the server is shutting down")
	}
	// Admission: a bounded number of requests in the system; refuse at
	// once beyond it, before reading the body.
	select {
	case s.admit <- struct{}{}:
		defer func() { <-s.admit }()
	default:
		s.m.reject("queue_full")
		return unavailable(w, "queue_full", "all %d workers are busy and %d requests are queued; retry later", s.cfg.Workers, s.cfg.QueueDepth)
	}
	body, e := s.readBody(w, r, s.cfg.MaxCiphertextBytes, "ciphertext file", nil)
	if e != nil {
		return e
	}
	if e := screenScaleMod(body); e != nil {
		return e
	}
	in, err := s.rt.UnmarshalCiphertexts(body)
	if err != nil {
		return decodeErr("ciphertexts", err)
	}
	body = nil
	if in.Kind() != runtime.Inputs {
		return apiErr(http.StatusUnprocessableEntity, "wrong_kind", "these ciphertexts are plan %v; send encrypted plan inputs", in.Kind())
	}
	if e := s.checkScales(in); e != nil {
		return e
	}
	key := s.keys.acquire(id)
	if key == nil {
		return apiErr(http.StatusNotFound, "unknown_key", "no evaluation keys with id %s (never uploaded, or evicted): POST them to /v1/keys and retry", id)
	}
	keyHeld := true
	defer func() {
		if keyHeld {
			s.keys.release(key)
		}
	}()

	// Wait for a worker.
	waitStart := time.Now()
	s.m.waiting.Add(1)
	timer := time.NewTimer(s.cfg.QueueTimeout)
	defer timer.Stop()
	select {
	case s.work <- struct{}{}:
		s.m.waiting.Add(-1)
	case <-r.Context().Done():
		s.m.waiting.Add(-1)
		return apiErr(499, "client_gone", "the client went away while queued")
	case <-timer.C:
		s.m.waiting.Add(-1)
		s.m.reject("queue_timeout")
		return unavailable(w, "queue_timeout", "no worker became free within %v; retry later", s.cfg.QueueTimeout)
	}
	wait := time.Since(waitStart)

	// Evaluate on the worker. The goroutine owns the worker token and the
	// key pin until the evaluation ends, even if this handler gives up.
	res := make(chan evalResult, 1)
	keyHeld = false
	s.inflight.add()
	s.m.busy.Add(1)
	go func() {
		defer func() {
			s.m.busy.Add(-1)
			s.keys.release(key)
			<-s.work
			s.inflight.done()
		}()
		res <- s.evaluate(key.evk, in)
	}()
	timer.Reset(s.cfg.EvalTimeout)
	var out evalResult
	select {
	case out = <-res:
	case <-r.Context().Done():
		s.m.abandoned.Add(1)
		return apiErr(499, "client_gone", "the client went away during the evaluation")
	case <-timer.C:
		s.m.abandoned.Add(1)
		return apiErr(http.StatusGatewayTimeout, "eval_timeout", "the evaluation did not finish within %v", s.cfg.EvalTimeout)
	}
	if out.err != nil {
		s.m.evalErrors.Add(1)
		return apiErr(http.StatusInternalServerError, "eval_failed", "evaluation failed: %v", out.err)
	}
	s.setPlanHeaders(w)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(out.body)))
	h.Set(HeaderKeyID, id)
	h.Set(HeaderSamples, strconv.Itoa(out.samples))
	h.Set(HeaderEvalSeconds, strconv.FormatFloat(out.dur.Seconds(), 'f', 6, 64))
	h.Set(HeaderWaitSeconds, strconv.FormatFloat(wait.Seconds(), 'f', 6, 64))
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(out.body)
	s.m.bytesOut.Add(int64(n))
	return nil
}

// checkScales refuses ciphertexts whose scale is an integer modulo T (a
// BGV-style scale, which CKKS evaluation divides by): the runtime's decoder
// accepts it, and the evaluator would fail on it.
// zeroMod is how Lattigo writes the modulus of a CKKS scale: none.
var zeroMod = []byte(`"Mod":"0x0.000000000000000000000000000000000000000p+00"`)

// screenScaleMod refuses, before decoding, ciphertexts whose metadata give
// the scale a modulus: Lattigo's decoder turns it into a big integer, so a
// value such as 0x1p+0000000002000000000 would allocate 256 MiB. (The
// sequence cannot appear by chance in a valid file: Lattigo writes the
// metadata as JSON; coefficients would have to hold these 9 bytes.)
func screenScaleMod(body []byte) *Error {
	key := zeroMod[:7] // "Mod":"
	for rest := body; ; {
		i := bytes.Index(rest, key)
		if i < 0 {
			return nil
		}
		if !bytes.HasPrefix(rest[i:], zeroMod) {
			return apiErr(http.StatusBadRequest, "malformed", "ciphertexts: a scale has a modulus; CKKS scales have none")
		}
		rest = rest[i+len(zeroMod):]
	}
}

func (s *Server) checkScales(in *runtime.Ciphertexts) *Error {
	// The decoder checked: one row per plan input ciphertext (one per
	// element of a feature-major input), Groups(samples) each.
	for i := range in.Rows() {
		for g := range s.rt.Groups(in.Samples()) {
			if m := in.Ciphertext(i, g).Scale.Mod; m != nil {
				return apiErr(http.StatusBadRequest, "malformed", "ciphertexts: input ciphertext %d group %d: the scale has a modulus (%v); CKKS scales have none", i, g, m)
			}
		}
	}
	return nil
}

// evaluate runs the plan with one evaluator (Workers=1) and encodes the result.
func (s *Server) evaluate(evk *runtime.EvaluationKeys, in *runtime.Ciphertexts) (res evalResult) {
	defer func() {
		if p := recover(); p != nil {
			s.m.panicsSaved.Add(1)
			res = evalResult{err: fmt.Errorf("internal error: %v", p)}
		}
	}()
	if s.testHookEval != nil {
		s.testHookEval()
	}
	start := time.Now()
	out, _, err := s.rt.Evaluate(evk, in, runtime.EvalOptions{Workers: 1})
	if err != nil {
		return evalResult{err: err}
	}
	b, err := out.MarshalBinary()
	if err != nil {
		return evalResult{err: err}
	}
	d := time.Since(start)
	s.m.observeEval(d)
	s.m.samples.Add(int64(in.Samples()))
	return evalResult{body: b, samples: in.Samples(), dur: d}
}

// PlanInfo is the JSON answer of GET /v1/plan/info.
type PlanInfo struct {
	API         string            `json:"api"`
	Fingerprint string            `json:"fingerprint"`
	PlanSHA256  string            `json:"plan_sha256"`
	PlanBytes   int               `json:"plan_bytes"`
	Producer    string            `json:"producer"`
	Params      ParamsInfo        `json:"params"`
	Batch       int               `json:"batch"`
	Inputs      []TensorInfo      `json:"inputs"`
	Outputs     []TensorInfo      `json:"outputs"`
	Keys        KeysInfo          `json:"keys"`
	Properties  map[string]string `json:"properties,omitempty"`
	Limits      Limits            `json:"limits"`
}

// ParamsInfo describes the CKKS parameters.
type ParamsInfo struct {
	LogN            int     `json:"log_n"`
	Slots           int     `json:"slots"`
	QBits           []int   `json:"q_bits"`
	PBits           []int   `json:"p_bits"`
	LogQP           float64 `json:"log_qp"`
	MaxLevel        int     `json:"max_level"`
	LogDefaultScale float64 `json:"log_default_scale"`
	SecurityBits    int     `json:"security_bits"`
	Insecure        bool    `json:"insecure"`
}

// TensorInfo describes a plan input or output and its slot layout.
type TensorInfo struct {
	Name      string   `json:"name"`
	Shape     []int64  `json:"shape"`
	Len       int      `json:"layout_len"`
	Period    int      `json:"layout_period"`
	Batch     int      `json:"layout_batch"`
	Level     *int     `json:"level,omitempty"`
	LogScale  *float64 `json:"log_scale,omitempty"`
	ClientOps []string `json:"client_ops,omitempty"`
	// Positions: a placed input's element positions in the period (plan
	// format 1.4); absent: element f at position f.
	Positions []uint32 `json:"layout_positions,omitempty"`
}

// KeysInfo says which evaluation keys the plan needs.
type KeysInfo struct {
	Relinearization bool     `json:"relinearization"`
	GaloisElements  []uint64 `json:"galois_elements"`
}

// Limits are the server's request limits.
type Limits struct {
	MaxKeyBytes        int64 `json:"max_key_bytes"`
	MaxCiphertextBytes int64 `json:"max_ciphertext_bytes"`
	KeyStoreBytes      int64 `json:"key_store_bytes"`
	Workers            int   `json:"workers"`
	QueueDepth         int   `json:"queue_depth"`
}

func (s *Server) planInfo() ([]byte, error) {
	p := s.rt.Plan()
	params := s.rt.Parameters()
	info := PlanInfo{
		API: APIVersion, Fingerprint: s.fp, PlanSHA256: s.planSum, PlanBytes: len(s.planFile), Producer: p.Producer,
		Params: ParamsInfo{
			LogN: int(p.Params.LogN), Slots: params.MaxSlots(), LogQP: math.Round(params.LogQP()*100) / 100,
			MaxLevel: params.MaxLevel(), LogDefaultScale: p.Params.LogDefaultScale,
			SecurityBits: int(p.Params.SecurityBits), Insecure: p.Params.Insecure,
		},
		Batch:      s.rt.Batch(),
		Keys:       KeysInfo{Relinearization: p.Keys.GetRelinearization(), GaloisElements: p.Keys.GetGaloisElements()},
		Properties: p.Metadata.GetProperties(),
		Limits: Limits{MaxKeyBytes: min(s.cfg.MaxKeyBytes, s.cfg.KeyStoreBytes), MaxCiphertextBytes: s.cfg.MaxCiphertextBytes,
			KeyStoreBytes: s.cfg.KeyStoreBytes, Workers: s.cfg.Workers, QueueDepth: s.cfg.QueueDepth},
	}
	if info.Keys.GaloisElements == nil {
		info.Keys.GaloisElements = []uint64{}
	}
	for _, q := range p.Params.Q {
		info.Params.QBits = append(info.Params.QBits, bits.Len64(q))
	}
	for _, q := range p.Params.P {
		info.Params.PBits = append(info.Params.PBits, bits.Len64(q))
	}
	for _, in := range p.Inputs {
		lvl, ls := int(in.Level), math.Log2(in.Scale)
		info.Inputs = append(info.Inputs, TensorInfo{Name: in.Name, Shape: in.Shape, Len: plan.InputLen(in),
			Period: int(in.Layout.GetPeriod()), Batch: int(in.Layout.GetBatch()), Level: &lvl, LogScale: &ls, Positions: in.Layout.GetPositions()})
	}
	for _, o := range p.Outputs {
		info.Outputs = append(info.Outputs, TensorInfo{Name: o.Name, Shape: o.Shape, Len: plan.OutputLen(o),
			Period: int(o.Layout.GetPeriod()), Batch: int(o.Layout.GetBatch()), ClientOps: o.ClientOps})
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
