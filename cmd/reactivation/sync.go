package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/jobs"
)

func syncCommand(ctx context.Context, args []string) error {
	fs := newFlags("sync")
	mode := fs.String("mode", "", "full or incremental")
	wait := fs.Bool("wait", false, "wait until the run ends; exit 0 only if it succeeded")
	timeout := fs.Duration("timeout", 2*time.Hour, "give up waiting after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *mode != "full" && *mode != "incremental" {
		return usageError{"--mode must be full or incremental"}
	}
	return app.Start(ctx, "reactivation", func(ctx context.Context, d *app.Deps) error {
		job, err := d.Sync.Start(ctx, *mode, jobs.Tenant{Admin: true}, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "sync %s enqueued: job %s\n", *mode, job.ID)
		if !*wait {
			fmt.Println(job.ID)
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		final, err := waitJob(ctx, d.Jobs, job.ID)
		if err != nil {
			return err
		}
		if final.State != jobs.Succeeded {
			return fmt.Errorf("sync %s %s: %s", job.ID, final.State, final.Error)
		}
		fmt.Fprintf(os.Stderr, "sync %s succeeded in %s: %s\n", job.ID,
			final.FinishedAt.Sub(*final.StartedAt).Round(time.Millisecond), final.Result)
		return nil
	})
}

// waitJob polls a job until it is final, drawing its progress.
func waitJob(ctx context.Context, store *jobs.Store, id string) (jobs.Job, error) {
	tty := term.IsTerminal(int(os.Stderr.Fd()))
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
		} else if !tty && time.Since(lastLine) > 5*time.Second {
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
