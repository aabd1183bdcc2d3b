package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/fhec/fhec"
	"github.com/fhec/fhec/ir"
	"github.com/fhec/fhec/runtime"
)

// spinner shows an indeterminate progress bar for long work when w is a
// terminal, and prints nothing otherwise (scripts get plain lines). It
// returns the function that stops it.
func spinner(w io.Writer, what string) func() {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				bar.Add(1)
			}
		}
	}()
	return func() {
		close(done)
		bar.Finish()
	}
}

// progress shows a bar of total steps for long work when w is a terminal
// (nothing otherwise). It returns the function that sets the steps done and
// the one that removes the bar.
func progress(w io.Writer, what string, total int) (set func(done int), stop func()) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func(int) {}, func() {}
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	return func(done int) { bar.Set(done) }, func() { bar.Finish() }
}

func printIR(c *fhec.Compiled) string { return ir.Print(c.IR) }

// bootstrapProgress draws the bootstrapping key generation as a bar with
// the size made so far.
func bootstrapProgress(w io.Writer) runtime.Progress {
	return func(done, total int, bytes int64) {
		const width = 30
		n := width * done / max(1, total)
		fmt.Fprintf(w, "\rbootstrapping keys [%s%s] %d/%d keys, %.2f GiB", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, float64(bytes)/(1<<30))
	}
}
