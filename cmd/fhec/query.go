package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhec/fhec/client"
	"github.com/fhec/fhec/internal/tensorio"
)

func newQuery() *cobra.Command {
	var serverURL, keyDir, out, pin string
	var timeout time.Duration
	var skipMemory bool
	cmd := &cobra.Command{
		Use:   "query --server URL --key keys/ x.npy -o y.npy",
		Short: "Run the model on an fhec server, encrypted: keygen if needed, encrypt, upload, evaluate, decrypt",
		Long: `Run the model served by 'fhec serve' on inputs that stay encrypted.

The client fetches and verifies the server's plan, uses the keys in --key DIR
(secret.key and eval.key, as 'fhec keygen' writes them) or generates them there
if the directory has none, uploads the evaluation keys once (the server keeps
them under their SHA-256), encrypts x, has the server evaluate it and decrypts
the result. The secret key never leaves this machine.

Inputs (x.npy, .pb or .json): [batch, ...model input without its batch dim].`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || keyDir == "" || out == "" {
				return fmt.Errorf("query needs --server, --key and -o")
			}
			x, err := tensorio.ReadFile(args[0])
			if err != nil {
				return err
			}
			logw := cmd.ErrOrStderr()
			c, err := client.New(serverURL, client.Options{KeyDir: keyDir, PlanSHA256: pin, SkipMemoryCheck: skipMemory,
				Logf: func(format string, a ...any) { fmt.Fprintf(logw, "fhec: "+format+"\n", a...) }})
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			y, st, err := c.Infer(ctx, x)
			if err != nil {
				return err
			}
			if err := tensorio.WriteFile(out, y); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%v -> %v in %s (server: evaluate %s, queued %s; round trip %s) -> %s\n",
				x.Shape, y.Shape, time.Since(start).Round(time.Millisecond), st.Eval.Round(time.Millisecond),
				st.Wait.Round(time.Millisecond), st.RoundTrip.Round(time.Millisecond), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "server URL, e.g. http://127.0.0.1:8080")
	f.StringVar(&keyDir, "key", "", "key directory (secret.key, eval.key; generated if absent)")
	f.StringVarP(&out, "output", "o", "", "decrypted output tensor file (.npy, .pb, .json)")
	f.StringVar(&pin, "plan-sha256", "", "refuse a server whose plan file has another SHA-256")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long")
	f.BoolVar(&skipMemory, "skip-memory-check", false, "generate keys even when their estimated size exceeds the available memory")
	return cmd
}
