package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/procs"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func init() {
	Register(Scenario{
		Name: "export",
		Description: "CSV export of the largest company and of every customer (one export per company) by a worker process, " +
			"against a raw scroll of the same documents (--engine postgres: a COPY of the same rows); a large-segment snapshot of the largest company beside its export; " +
			"the worker's peak RSS",
		Run: runExport,
	})
}

// exportPhase is one measured set of exports.
type exportPhase struct {
	name    string
	filters []string
}

func runExport(ctx context.Context, env Env, r *Report) error {
	if env.Engine != EnginePostgres && env.Config.ElasticsearchURL == "" {
		return errors.New("the export scenario measures the search engine: set ELASTICSEARCH_URL")
	}
	r.Engine = env.Engine
	cfg, d, err := openIndexedData(ctx, env)
	if err != nil {
		return err
	}
	defer d.Close()
	baseline := "raw_scroll"
	if env.Engine == EnginePostgres {
		baseline = "copy"
	}

	worker, err := startWorkerProcess(ctx, cfg)
	if err != nil {
		return err
	}
	defer worker.Stop()

	companies, err := companiesBySize(ctx, d)
	if err != nil {
		return err
	}
	var client *elasticsearch.Client
	if env.Engine != EnginePostgres {
		if client, err = elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor); err != nil {
			return err
		}
	}
	svc := d.Exports
	all := make([]string, len(companies))
	for i, c := range companies {
		all[i] = fmt.Sprintf(`{"companyId":%q}`, c)
	}
	var peak float64
	for _, ph := range []exportPhase{{"largest", all[:1]}, {"all", all}} {
		fmt.Fprintf(env.Out, "export %s (%d export(s)) ...\n", ph.name, len(ph.filters))
		if err := worker.resetPeak(); err != nil {
			return err
		}
		var rows, size int64
		var took time.Duration
		var ids []string
		var now time.Time
		for _, filter := range ph.filters {
			done, err := runOneExport(ctx, svc, d.Jobs, filter)
			if err != nil {
				return err
			}
			res, err := svc.Get(ctx, jobs.Tenant{Admin: true}, done.ID)
			if err != nil {
				return err
			}
			rows += done.Progress.Done
			size += res.SizeBytes
			took += done.FinishedAt.Sub(*done.StartedAt)
			ids = append(ids, done.ID)
			now = done.CreatedAt
		}
		rss, err := worker.peakRSS()
		if err != nil {
			return err
		}
		peak = max(peak, rss)

		fmt.Fprintf(env.Out, "%s %s ...\n", strings.ReplaceAll(baseline, "_", " "), ph.name)
		var scrolled int64
		var scroll time.Duration
		if env.Engine == EnginePostgres {
			scrolled, scroll, err = copyRows(ctx, d, companies[:len(ph.filters)])
		} else {
			scrolled, scroll, err = bestRawScroll(ctx, client, cfg, ph.filters, now)
		}
		if err != nil {
			return err
		}
		if scrolled != rows {
			return fmt.Errorf("export %s wrote %d rows, the %s read %d", ph.name, rows, baseline, scrolled)
		}
		exportRate, rawRate := float64(rows)/took.Seconds(), float64(scrolled)/scroll.Seconds()
		r.Add("export_"+ph.name+"_rows", float64(rows), "rows")
		r.Add("export_"+ph.name+"_seconds", took.Seconds(), "s")
		r.Add("export_"+ph.name+"_rows_per_second", exportRate, "rows/s")
		r.Add("export_"+ph.name+"_gzip_bytes", float64(size), "bytes")
		r.Add(baseline+"_"+ph.name+"_rows_per_second", rawRate, "rows/s")
		r.Add("export_"+ph.name+"_vs_"+baseline, exportRate/rawRate, "ratio")
		r.Add("worker_peak_rss_"+ph.name+"_mb", rss, "MB")

		if ph.name == "largest" {
			r.AtLeast("export_vs_"+baseline, exportRate/rawRate, 0.8)
			if err := snapshotBeside(ctx, env, d, ph.filters[0], rows, exportRate, r); err != nil {
				return err
			}
			start := time.Now()
			if err := verifyDownload(ctx, svc, ids[0]); err != nil {
				return err
			}
			r.Add("download_largest_seconds", time.Since(start).Seconds(), "s")
		} else {
			r.AtLeast("export_all_vs_"+baseline, exportRate/rawRate, 0.8)
		}
		for _, id := range ids {
			if err := svc.Delete(ctx, jobs.Tenant{Admin: true}, id); err != nil {
				return err
			}
		}
	}
	r.AtMost("worker_peak_rss_mb", peak, 150)
	return nil
}

// openIndexedData opens the benchmark data of env (see dataConfig) with
// no job of an earlier run left queued or running, and the index serving
// every customer.
func openIndexedData(ctx context.Context, env Env) (config.Config, *app.App, error) {
	cfg, err := dataConfig(ctx, env)
	if err != nil {
		return cfg, nil, err
	}
	if env.Engine == EnginePostgres {
		cfg.ElasticsearchURL = ""
		cfg.IndexAlias += "_pg" // its own sync state and view beside the Elasticsearch run's
	}
	d, err := app.Open(ctx, cfg, env.Log)
	if err != nil {
		return cfg, nil, err
	}
	_, err = d.Jobs.CancelActive(ctx)
	if err == nil {
		err = ensureIndexed(ctx, env, cfg, d)
	}
	if err != nil {
		d.Close()
		return cfg, nil, err
	}
	return cfg, d, nil
}

// ensureIndexed runs a full sync with a worker process unless the
// alias already serves every customer in a generation of this release.
func ensureIndexed(ctx context.Context, env Env, cfg config.Config, d *app.App) error {
	gen, err := d.Engine.Current(ctx)
	if err != nil {
		return err
	}
	if gen != "" && !d.EarlierLayout {
		n, err := d.Engine.Count(ctx, gen)
		if err != nil {
			return err
		}
		if n == int64(env.Customers) {
			return nil
		}
	}
	fmt.Fprintln(env.Out, "indexing: full sync ...")
	stop, err := runWorker(ctx, cfg)
	if err != nil {
		return err
	}
	defer stop()
	job, err := d.Sync.Start(ctx, syncrun.ModeFull, jobs.Tenant{Admin: true}, "bench")
	if err != nil {
		return err
	}
	_, err = waitSucceeded(ctx, d.Jobs, job.ID, "full sync")
	return err
}

// companiesBySize lists the companies, the largest first.
func companiesBySize(ctx context.Context, d *app.App) ([]string, error) {
	rows, err := d.Source.Query(ctx, "SELECT company_id FROM customers GROUP BY 1 ORDER BY count(*) DESC, 1")
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	rows.Close()
	return out, rows.Err()
}

// runOneExport starts a CSV export of the default fields and waits for it.
func runOneExport(ctx context.Context, svc *export.Service, store *jobs.Store, filter string) (jobs.Job, error) {
	f, err := segment.Decode([]byte(filter))
	if err != nil {
		return jobs.Job{}, err
	}
	job, err := svc.Start(ctx, f, export.Options{}, "bench")
	if err != nil {
		return jobs.Job{}, err
	}
	done, err := waitFinal(ctx, store, job.ID, time.Hour)
	if err != nil {
		return done, err
	}
	if done.State != jobs.Succeeded {
		return done, fmt.Errorf("export %s: %s", done.State, done.Error)
	}
	return done, nil
}

// verifyDownload reads an export's file as the API serves it and checks it
// against its checksum.
func verifyDownload(ctx context.Context, svc *export.Service, id string) error {
	f, err := svc.Open(ctx, jobs.Tenant{Admin: true}, id)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := f.WriteTo(ctx, h); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("export %s: checksum %s, stored %s", id, got, f.SHA256)
	}
	return nil
}

// bestRawScroll times raw scrolls of the filters' documents twice and
// keeps the faster, the stricter baseline.
func bestRawScroll(ctx context.Context, client *elasticsearch.Client, cfg config.Config, filters []string, now time.Time) (int64, time.Duration, error) {
	var best time.Duration
	var hits int64
	for range 2 {
		var total int64
		var took time.Duration
		for _, filter := range filters {
			n, d, err := rawScroll(ctx, client, cfg, filter, now)
			if err != nil {
				return 0, 0, err
			}
			total += n
			took += d
		}
		if best == 0 || took < best {
			best, hits = took, total
		}
	}
	return hits, best, nil
}

// rawScroll reads every document matching filter through a scroll in
// index order, 1000 at a time, the same query, routing and _source as the
// engine's for an export of the default columns, decoding no more than
// each hit's id, routing and raw source.
func rawScroll(ctx context.Context, client *elasticsearch.Client, cfg config.Config, filter string, now time.Time) (int64, time.Duration, error) {
	f, err := segment.Decode([]byte(filter))
	if err != nil {
		return 0, 0, err
	}
	plan, err := segment.NewPlan(f, segment.Sort{}, 1000, 1000, "", now, cfg.Location)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	var n int64
	err = elastic.ScanIndex(ctx, client, elastic.Scroll{
		Index: cfg.IndexAlias, Query: elastic.Query(plan.Filter, plan.Bounds), Routing: *plan.Filter.CompanyID,
		Source: map[string]any{"includes": elastic.SourceFields(export.DefaultFields)}, Size: 1000, KeepAlive: time.Minute,
	}, func(hits []elastic.Hit) error {
		n += int64(len(hits))
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("raw scroll: %w", err)
	}
	return n, time.Since(start), nil
}

// workerProcess is the worker binary run with the bench configuration, so
// its memory is its own.
type workerProcess struct{ *procs.Process }

// startWorkerProcess starts the worker binary over cfg with two task
// slots; extra ("NAME=value") overrides that.
func startWorkerProcess(ctx context.Context, cfg config.Config, extra ...string) (*workerProcess, error) {
	p, err := startBinary(ctx, "worker", cfg, append([]string{"WORKER_CONCURRENCY=2"}, extra...)...)
	if err != nil {
		return nil, err
	}
	return &workerProcess{p}, nil
}

// resetPeak starts a new peak RSS measurement (Linux clear_refs "5").
func (w *workerProcess) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", w.Pid()), []byte("5"), 0)
}

// peakRSS is the worker's peak resident set size since the last reset, in
// MB (VmHWM).
func (w *workerProcess) peakRSS() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
