package client

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/fhec/fhec"
)

// LoadConfig describes a bounded load test: Clients concurrent clients,
// each with its own keys, each sending Requests requests one after another.
type LoadConfig struct {
	Server   string
	Clients  int
	Requests int
	// Input returns the input of request r of client c.
	Input func(c, r int) fhec.Tensor
	// Check returns nil if y is a correct answer for x.
	Check func(x, y fhec.Tensor) error
	// HTTPClient is shared by all clients (default: one with enough idle
	// connections for Clients).
	HTTPClient *http.Client
}

// LoadReport is the result of LoadTest. Latency is per request, from
// encryption to decrypted result (keys are made and uploaded before the
// clock starts).
type LoadReport struct {
	Requests, Correct int
	Errors            []string // at most 10
	P50, P99, Max     time.Duration
	Mean              time.Duration
	ServerEvalMean    time.Duration // mean time on a worker, as reported
	Wall              time.Duration // the timed phase
	Setup             time.Duration // keygen and key uploads
}

func (r *LoadReport) String() string {
	return fmt.Sprintf("%d/%d correct; latency p50 %v, p99 %v, max %v, mean %v (server eval mean %v); %.2f req/s over %v (setup %v)",
		r.Correct, r.Requests, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond),
		r.Mean.Round(time.Millisecond), r.ServerEvalMean.Round(time.Millisecond),
		float64(r.Requests)/r.Wall.Seconds(), r.Wall.Round(time.Millisecond), r.Setup.Round(time.Millisecond))
}

// Percentile returns the nearest-rank q-quantile (0 < q <= 1) of d.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// LoadTest runs the load test. Every client generates its keys in memory
// and uploads them before the timed phase, which starts for all at once.
func LoadTest(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	if cfg.Clients < 1 || cfg.Requests < 1 || cfg.Input == nil || cfg.Check == nil {
		return nil, fmt.Errorf("client: LoadTest needs Clients, Requests >= 1, Input and Check")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients, MaxIdleConns: cfg.Clients}}
	}
	setup := time.Now()
	clients := make([]*Client, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		c, err := New(cfg.Server, Options{HTTPClient: hc, Retries: 20})
		if err != nil {
			return nil, err
		}
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.UploadKeys(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("client %d setup: %w", i, err)
		}
	}
	rep := &LoadReport{Requests: cfg.Clients * cfg.Requests, Setup: time.Since(setup)}
	var (
		mu    sync.Mutex
		lat   []time.Duration
		evals time.Duration
	)
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range cfg.Requests {
				x := cfg.Input(i, r)
				t0 := time.Now()
				y, st, err := c.Infer(ctx, x)
				d := time.Since(t0)
				if err == nil {
					err = cfg.Check(x, y)
				}
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					if len(rep.Errors) < 10 {
						rep.Errors = append(rep.Errors, fmt.Sprintf("client %d request %d: %v", i, r, err))
					}
				} else {
					rep.Correct++
					evals += st.Eval
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	rep.P50, rep.P99, rep.Max = Percentile(lat, 0.50), Percentile(lat, 0.99), Percentile(lat, 1)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	rep.Mean = sum / time.Duration(len(lat))
	if rep.Correct > 0 {
		rep.ServerEvalMean = evals / time.Duration(rep.Correct)
	}
	return rep, nil
}
