package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec/server"
)

func newServe() *cobra.Command {
	var (
		addr                                string
		cfg                                 server.Config
		maxKeyMiB, maxCtMiB, storeMiB       int64
		queueTimeout, evalTimeout, shutdown time.Duration
		quiet                               bool
	)
	cmd := &cobra.Command{
		Use:   "serve model.plan --addr 127.0.0.1:8080",
		Short: "Serve a plan over HTTP: encrypted inputs in, encrypted outputs out (evaluation keys only)",
		Long: `Serve a plan over HTTP (API under /v1/, see docs/api.md): clients fetch the plan,
upload their evaluation keys once (POST /v1/keys -> key id), and POST encrypted
inputs to /v1/evaluate?key=ID to get encrypted outputs. The server never holds a
secret key (it refuses one). Health: GET /v1/health; metrics (Prometheus text):
GET /v1/metrics. Ctrl-C or SIGTERM shuts down gracefully: in-flight evaluations
finish and are answered. Clients: fhec query, or the Go package client.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			planFile, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			cfg.MaxKeyBytes, cfg.MaxCiphertextBytes, cfg.KeyStoreBytes = maxKeyMiB<<20, maxCtMiB<<20, storeMiB<<20
			cfg.QueueTimeout, cfg.EvalTimeout, cfg.ShutdownTimeout = queueTimeout, evalTimeout, shutdown
			if !quiet {
				cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			s, err := server.New(planFile, cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			p := s.Runtime().Plan().Params
			sec := fmt.Sprintf("%d-bit security", p.SecurityBits)
			if p.Insecure {
				sec = "INSECURE test parameters"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s (CKKS logN %d, %s, fingerprint %s…) on http://%s/v1/\n",
				args[0], p.LogN, sec, s.Fingerprint()[:12], l.Addr())
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := s.Serve(ctx, l); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "shut down cleanly")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks one)")
	f.IntVar(&cfg.Workers, "workers", 0, "evaluations at once, one core each (default: all cores)")
	f.IntVar(&cfg.QueueDepth, "queue", 0, "requests that may wait for a worker; more get 503 (default 4 x workers)")
	f.Int64Var(&maxKeyMiB, "max-key-mib", 1024, "largest evaluation-key upload, MiB")
	f.Int64Var(&maxCtMiB, "max-ciphertext-mib", 0, "largest ciphertext request, MiB (0: 256, or a full group of the plan's input ciphertexts plus 1/8 if larger)")
	f.Int64Var(&storeMiB, "key-store-mib", 4096, "evaluation keys held at once, MiB (least recently used evicted)")
	f.IntVar(&cfg.MaxConcurrentUploads, "uploads", 2, "key uploads decoded at once; more get 503")
	f.DurationVar(&queueTimeout, "queue-timeout", 2*time.Minute, "longest wait for a worker (then 503)")
	f.DurationVar(&evalTimeout, "eval-timeout", 10*time.Minute, "longest evaluation (then 504)")
	f.DurationVar(&shutdown, "shutdown-timeout", 5*time.Minute, "longest graceful shutdown")
	f.BoolVar(&quiet, "quiet", false, "no request log on stderr")
	return cmd
}
