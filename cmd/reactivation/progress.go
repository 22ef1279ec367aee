package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/reactivation/reactivation/internal/jobs"
)

// isTerminal reports whether f is a terminal, where progress is a bar
// rather than a line every few seconds.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// waitJob polls a job until it is final, drawing its progress on stderr.
func waitJob(ctx context.Context, store *jobs.Store, id string) (jobs.Job, error) {
	tty := isTerminal(os.Stderr)
	var bar *progressbar.ProgressBar
	lastLine := time.Time{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := store.GetAny(ctx, id)
		if err != nil {
			return j, err
		}
		if tty && j.Progress.Total > 0 {
			if bar == nil {
				bar = progressbar.NewOptions64(j.Progress.Total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(j.Type), progressbar.OptionShowCount(), progressbar.OptionSetElapsedTime(true))
			}
			_ = bar.Set64(j.Progress.Done)
		} else if !tty && !j.State.Final() && time.Since(lastLine) > 5*time.Second {
			fmt.Fprintf(os.Stderr, "%s %s: %d/%d\n", j.Type, j.State, j.Progress.Done, j.Progress.Total)
			lastLine = time.Now()
		}
		if j.State.Final() {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(os.Stderr)
			}
			return j, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return j, fmt.Errorf("gave up waiting for job %s (still %s; is a worker running?)", id, j.State)
			}
			return j, fmt.Errorf("stopped waiting for job %s (it goes on in the workers)", id)
		case <-tick.C:
		}
	}
}

// waitSucceeded waits up to timeout for the job and fails unless it
// succeeded.
func waitSucceeded(ctx context.Context, store *jobs.Store, id string, timeout time.Duration) (jobs.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	final, err := waitJob(ctx, store, id)
	if err != nil {
		return final, err
	}
	if final.State != jobs.Succeeded {
		return final, fmt.Errorf("%s %s %s: %s", final.Type, id, final.State, final.Error)
	}
	return final, nil
}

// elapsed is how long a final job ran.
func elapsed(j jobs.Job) time.Duration {
	if j.StartedAt == nil || j.FinishedAt == nil {
		return 0
	}
	return j.FinishedAt.Sub(*j.StartedAt).Round(time.Millisecond)
}

// byteProgress wraps w so that what is written through it is drawn on
// stderr out of total bytes when stderr is a terminal; done ends the bar.
func byteProgress(w io.Writer, total int64, what string) (_ io.Writer, done func()) {
	if !isTerminal(os.Stderr) {
		return w, func() {}
	}
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
	return io.MultiWriter(w, bar), func() {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
}
