package server

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// evalBuckets are the upper bounds (seconds) of the evaluation-time histogram.
var evalBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// metrics are exported in the Prometheus text format on /v1/metrics.
type metrics struct {
	start time.Time

	mu       sync.Mutex
	requests map[[2]string]int64 // (endpoint, code) -> count
	rejected map[string]int64    // reason -> count
	evalHist []int64             // cumulative per evalBuckets, + Inf last
	evalSum  float64
	evalN    int64

	waiting     atomic.Int64 // requests admitted, waiting for a worker
	busy        atomic.Int64 // evaluations running
	evalErrors  atomic.Int64
	samples     atomic.Int64
	keyUploads  atomic.Int64
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	abandoned   atomic.Int64 // evaluations whose requester was gone or timed out
	panicsSaved atomic.Int64
}

func (m *metrics) init() {
	m.start = time.Now()
	m.requests = map[[2]string]int64{}
	m.rejected = map[string]int64{}
	m.evalHist = make([]int64, len(evalBuckets)+1)
}

func (m *metrics) request(endpoint string, code int) {
	m.mu.Lock()
	m.requests[[2]string{endpoint, fmt.Sprint(code)}]++
	m.mu.Unlock()
}

func (m *metrics) reject(reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

func (m *metrics) observeEval(d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evalSum += sec
	m.evalN++
	i := sort.SearchFloat64s(evalBuckets, sec)
	m.evalHist[i]++
}

func (s *Server) writeMetrics(w io.Writer) {
	m := &s.m
	n, used, budget, evictions := s.keys.stats()
	var b strings.Builder
	gauge := func(name, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	gauge("fhec_uptime_seconds", "Seconds since the server started.", fmt.Sprintf("%.3f", time.Since(m.start).Seconds()))
	gauge("fhec_workers", "Evaluation workers.", s.cfg.Workers)
	gauge("fhec_workers_busy", "Evaluations running.", m.busy.Load())
	gauge("fhec_queue_capacity", "Requests that may wait for a worker.", s.cfg.QueueDepth)
	gauge("fhec_queue_waiting", "Requests waiting for a worker.", m.waiting.Load())
	draining := 0
	if s.draining.Load() {
		draining = 1
	}
	gauge("fhec_draining", "1 while shutting down.", draining)
	gauge("fhec_keys_stored", "Evaluation key sets held.", n)
	gauge("fhec_key_store_bytes", "Bytes of evaluation keys held.", used)
	gauge("fhec_key_store_budget_bytes", "Budget for evaluation keys.", budget)
	counter("fhec_key_evictions_total", "Key sets evicted to make room (least recently used first).", evictions)
	counter("fhec_key_uploads_total", "Key sets accepted.", m.keyUploads.Load())
	counter("fhec_evaluation_errors_total", "Evaluations that failed after their inputs were accepted.", m.evalErrors.Load())
	counter("fhec_evaluated_samples_total", "Samples evaluated.", m.samples.Load())
	counter("fhec_evaluations_abandoned_total", "Evaluations finished after their requester left or timed out.", m.abandoned.Load())
	counter("fhec_request_body_bytes_total", "Request body bytes read.", m.bytesIn.Load())
	counter("fhec_response_body_bytes_total", "Ciphertext bytes sent.", m.bytesOut.Load())
	counter("fhec_handler_panics_total", "Handler panics recovered (bugs).", m.panicsSaved.Load())

	m.mu.Lock()
	fmt.Fprintf(&b, "# HELP fhec_evaluation_seconds Time to evaluate one request on a worker.\n# TYPE fhec_evaluation_seconds histogram\n")
	var cum int64
	for i, le := range evalBuckets {
		cum += m.evalHist[i]
		fmt.Fprintf(&b, "fhec_evaluation_seconds_bucket{le=\"%g\"} %d\n", le, cum)
	}
	cum += m.evalHist[len(evalBuckets)]
	fmt.Fprintf(&b, "fhec_evaluation_seconds_bucket{le=\"+Inf\"} %d\nfhec_evaluation_seconds_sum %g\nfhec_evaluation_seconds_count %d\n", cum, m.evalSum, m.evalN)

	fmt.Fprintf(&b, "# HELP fhec_http_requests_total HTTP requests by endpoint and status code.\n# TYPE fhec_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "fhec_http_requests_total{endpoint=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintf(&b, "# HELP fhec_rejected_total Requests refused for capacity or shutdown, by reason.\n# TYPE fhec_rejected_total counter\n")
	reasons := make([]string, 0, len(m.rejected))
	for r := range m.rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "fhec_rejected_total{reason=%q} %d\n", r, m.rejected[r])
	}
	m.mu.Unlock()
	io.WriteString(w, b.String())
}
