package export

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Order is the sort of the export's count query. The rows themselves come
// unordered (search.Query.Unordered): Elasticsearch then scrolls one
// consistent view of the index, which is both faster than paging with
// search_after and immune to re-indexing during the export.
var Order = segment.Sort{Field: segment.SortName}

// compression trades a larger file for throughput: the run is bound by
// the engine and the CPU it shares with it.
const compression = gzip.BestSpeed

// errCanceled stops a run whose job was canceled.
var errCanceled = errors.New("export canceled")

// Run writes the file of export job id, which the worker has marked
// running. Each call starts the file over. The file becomes visible, with
// its size and checksum, in the transaction that marks the job succeeded;
// a canceled job's run stops at its next page and removes what it wrote.
// It returns nil when the job is canceled or another run took over.
func (s *Service) Run(ctx context.Context, id string) error {
	j, err := s.jobs.GetAny(ctx, id)
	if err != nil {
		return err
	}
	if j.State != jobs.Running {
		return nil
	}
	e, err := s.exportOf(ctx, j)
	if err != nil {
		return err
	}
	f, err := segment.Decode(e.Filter)
	if err != nil {
		return &errs.Error{Code: errs.Invalid, Message: "export " + id + " has an invalid filter", Err: err}
	}
	if s.audiences == nil {
		return errors.New("export: the service has no audience source to apply suppressions with")
	}
	keep, err := s.audiences.Keep(ctx, e.CompanyID, e.CampaignID, e.Group, e.IncludeSuppressed)
	if err != nil {
		return fmt.Errorf("export %s audience: %w", id, err)
	}
	attempt, err := s.repo.BeginAttempt(ctx, id)
	if err != nil {
		return err
	}
	q := search.Query{Filter: f, Sort: Order, Size: 1, Now: j.CreatedAt, Location: s.cfg.Location}
	first, err := s.engine.Search(ctx, q)
	if err != nil {
		return fmt.Errorf("count export %s: %w", id, err)
	}
	if err := s.jobs.SetProgress(ctx, id, jobs.Progress{Total: first.Total}); err != nil {
		return err
	}

	file := newChunker(s.cfg.ChunkSize, func(seq int, data []byte) error {
		return s.repo.InsertChunk(ctx, id, attempt, seq, data)
	})
	gz, err := gzip.NewWriterLevel(file, compression)
	if err != nil {
		return err
	}
	enc, err := NewEncoder(gz, e.Format, e.Fields, CSVOptions{BOM: e.ExcelBOM, FormulaEscape: e.CSVFormulaEscape})
	if err != nil {
		return err
	}
	q.Size = s.cfg.PageSize
	q.Unordered = true
	// The id decides what keep keeps, whatever columns the file has.
	q.Fields = append([]string{"customerId"}, e.Fields...)
	rows, err := s.stream(ctx, id, q, enc, first.Total, keep)
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		r := FileResult{Rows: rows, SizeBytes: file.n, SHA256: file.sum(), FileName: e.FileName}
		seq, last := file.last()
		err = s.repo.CompleteFile(ctx, id, attempt, seq, last, r, s.cfg.Retention)
	}
	if errors.Is(err, errCanceled) || isStale(err) {
		return s.stopped(ctx, id)
	}
	return err
}

// stream reads pages from the engine while it encodes the previous one
// (search.Prefetch). It records progress after every page and stops with
// errCanceled when the job is no longer running. Rows keep refuses
// (suppressed, not in the campaign group) are left out.
func (s *Service) stream(ctx context.Context, id string, q search.Query, enc Encoder, total int64, keep func(string) bool) (int64, error) {
	var rows int64
	err := search.Prefetch(ctx, s.engine, q, func(ctx context.Context, ps []profile.Profile) error {
		kept := ps[:0]
		for _, p := range ps {
			if keep(p.CustomerID) {
				kept = append(kept, p)
			}
		}
		if err := enc.Encode(kept); err != nil {
			return err
		}
		rows += int64(len(kept))
		metrics.ExportRows.Add(float64(len(kept)))
		if err := s.jobs.SetProgress(ctx, id, jobs.Progress{Done: rows, Total: max(total, rows)}); err != nil {
			return err
		}
		state, err := s.jobs.State(ctx, id)
		if err != nil {
			return err
		}
		if state != jobs.Running {
			return errCanceled
		}
		return nil
	})
	return rows, err
}

// stopped ends a run that may no longer write: when its job was canceled
// (or failed meanwhile) it removes the chunks; when a newer run took over,
// running or succeeded, it leaves them alone.
func (s *Service) stopped(ctx context.Context, id string) error {
	state, err := s.jobs.State(ctx, id)
	if err != nil {
		return err
	}
	if state == jobs.Running || state == jobs.Succeeded {
		s.log.Info("export run superseded by a newer one", zap.String("job_id", id))
		return nil
	}
	s.log.Info("export run stopped", zap.String("job_id", id), zap.String("state", string(state)))
	return s.discard(ctx, id)
}

// Fail finishes an export whose run failed for the last time: the job
// failed with reason, its chunks removed, the audit written.
func (s *Service) Fail(ctx context.Context, id, reason string) error {
	if _, err := s.jobs.Fail(ctx, id, reason); err != nil {
		return err
	}
	return s.discard(ctx, id)
}

// CleanupStats counts what Cleanup did.
type CleanupStats struct {
	// Expired exports had their files deleted after the retention period.
	Expired int64
	// Orphans are chunks of failed, canceled or deleted exports removed.
	Orphans int64
	// Audited exports were final without an audit row (a job the reaper
	// failed) and got one.
	Audited int64
}

// Cleanup deletes the files of finished exports past their expiry, marking
// them expired, removes chunks nothing will serve, and audits final
// exports the audit log missed. It is idempotent.
func (s *Service) Cleanup(ctx context.Context) (CleanupStats, error) {
	var st CleanupStats
	var err error
	if st.Expired, err = s.repo.ExpireFiles(ctx); err != nil {
		return st, fmt.Errorf("expire exports: %w", err)
	}
	if st.Orphans, err = s.repo.RemoveOrphanChunks(ctx); err != nil {
		return st, fmt.Errorf("remove orphan export chunks: %w", err)
	}
	ids, err := s.repo.Unaudited(ctx)
	if err != nil {
		return st, fmt.Errorf("find unaudited exports: %w", err)
	}
	for _, id := range ids {
		if err := s.repo.WriteAudit(ctx, id); err != nil {
			return st, fmt.Errorf("audit export %s: %w", id, err)
		}
		st.Audited++
	}
	return st, nil
}

// discard removes the chunks of an export that will not be served and
// audits it.
func (s *Service) discard(ctx context.Context, id string) error {
	if err := s.repo.DiscardFile(ctx, id); err != nil {
		return fmt.Errorf("discard export %s: %w", id, err)
	}
	if err := s.repo.WriteAudit(ctx, id); err != nil {
		return fmt.Errorf("audit export %s: %w", id, err)
	}
	return nil
}
