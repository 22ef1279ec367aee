package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/procs"
)

// startBinary starts the server binary name (api, worker) that sits beside
// the running executable (make build puts them all in bin/) over cfg, with
// extra ("NAME=value") overriding it, and returns once it is ready. The
// bench starts every API and worker this way, so what it measures runs in
// a process of its own, as in production. They log warnings only, like the
// bench itself: an info line per request or task would be part of what is
// measured.
func startBinary(ctx context.Context, name string, cfg config.Config, extra ...string) (*procs.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("the bench runs the %s binary beside %s (make build): %w", name, self, err)
	}
	return procs.Start(ctx, bin, cfg, procs.Options{Env: append([]string{"LOG_LEVEL=warn"}, extra...)})
}

// runWorker starts a worker process over cfg; stop ends it. It fails
// unless the worker became ready.
func runWorker(ctx context.Context, cfg config.Config) (stop func(), err error) {
	w, err := startBinary(ctx, "worker", cfg)
	if err != nil {
		return nil, err
	}
	return w.Stop, nil
}
