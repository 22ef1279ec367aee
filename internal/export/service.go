package export

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/tasks"
)

// Config tunes a Service. Zero values mean the defaults.
type Config struct {
	// Retention is how long a file is kept after it is written; 7 days
	// when 0.
	Retention time.Duration
	// Location dates file names and anchors day-based filters; UTC when nil.
	Location *time.Location
	// PageSize is how many customers a run reads from the engine at a
	// time; 2500 when 0.
	PageSize int
	// ChunkSize is the size of the stored chunks; DefaultChunkSize when 0.
	ChunkSize int
}

// Audiences tell a run which of the engine's matches it keeps.
type Audiences interface {
	// Keep returns the predicate of the customers an export of companyID
	// keeps: members of group of campaign campaignID (when not ""), less
	// the suppressed customers unless includeSuppressed.
	Keep(ctx context.Context, companyID, campaignID, group string, includeSuppressed bool) (func(customerID string) bool, error)
}

// CampaignGroup names the campaign group an export lists.
type CampaignGroup struct {
	CampaignID string
	Group      string
}

// Params are a Service's dependencies.
type Params struct {
	Jobs *jobs.Store
	// Exports keeps the exports, their files and the audit log.
	Exports    Repository
	Dispatcher *jobs.Dispatcher
	// Engine is the search engine runs read from; the API needs none.
	Engine search.Searcher
	// Audiences resolve campaign groups and suppressions; runs need one,
	// the API none.
	Audiences Audiences
	Log       *zap.Logger
	Config    Config
}

// Service starts, runs, serves and cleans up exports. Safe for concurrent
// use.
type Service struct {
	jobs       *jobs.Store
	repo       Repository
	dispatcher *jobs.Dispatcher
	engine     search.Searcher
	audiences  Audiences
	log        *zap.Logger
	cfg        Config
}

// New returns a service over p, with p.Config's defaults filled.
func New(p Params) *Service {
	c := p.Config
	c.Retention = cmp.Or(c.Retention, 7*24*time.Hour)
	c.PageSize = cmp.Or(c.PageSize, 2500)
	c.ChunkSize = cmp.Or(c.ChunkSize, DefaultChunkSize)
	if c.Location == nil {
		c.Location = time.UTC
	}
	return &Service{jobs: p.Jobs, repo: p.Exports, dispatcher: p.Dispatcher, engine: p.Engine, audiences: p.Audiences, log: p.Log, cfg: c}
}

// jobParams is what the job row shows of an export's request.
type jobParams struct {
	Filter json.RawMessage `json:"filter"`
	Options
}

// Start creates an export of the customers matching f, which must name its
// company, and enqueues its run. createdBy is the API key's id. Bad options
// are a *segment.ValidationError.
func (s *Service) Start(ctx context.Context, f segment.Filter, o Options, createdBy string) (jobs.Job, error) {
	return s.start(ctx, f, o, CampaignGroup{}, createdBy)
}

// StartCampaign creates an export of group g of a frozen campaign of
// companyID (the caller has checked the campaign is the key's to see) and
// enqueues its run. Its filter is the company alone: the rows are the
// group's members the index holds.
func (s *Service) StartCampaign(ctx context.Context, companyID string, g CampaignGroup, o Options, createdBy string) (jobs.Job, error) {
	f := segment.Filter{}
	f.PinCompany(companyID)
	return s.start(ctx, f, o, g, createdBy)
}

func (s *Service) start(ctx context.Context, f segment.Filter, o Options, g CampaignGroup, createdBy string) (jobs.Job, error) {
	o, err := o.Normalize()
	if err != nil {
		return jobs.Job{}, err
	}
	if err := f.RequireCompany(); err != nil {
		return jobs.Job{}, err
	}
	filter := f.Canonical()
	n := jobs.New{CompanyID: *f.CompanyID, Type: jobs.TypeExport, CreatedBy: createdBy,
		Params: jobParams{Filter: filter, Options: o}}
	first := func(id string) (*asynq.Task, string, error) {
		return tasks.NewExportTask(tasks.ExportPayload{JobPayload: tasks.JobPayload{JobID: id}})
	}
	return s.dispatcher.Start(ctx, n, first, func(ctx context.Context, job jobs.Job) error {
		name := FileName(job.CompanyID, job.ID, o.Format, job.CreatedAt, s.cfg.Location)
		err := s.repo.InsertExport(ctx, Record{Job: job, Filter: filter, Options: o, Group: g, FileName: name,
			ExpiresAt: job.CreatedAt.Add(s.cfg.Retention)})
		if err != nil {
			return fmt.Errorf("record export %s: %w", job.ID, err)
		}
		return nil
	})
}

// Get returns the export id if the tenant may see it; NotFound otherwise,
// also for a job that is not an export.
func (s *Service) Get(ctx context.Context, t jobs.Tenant, id string) (Export, error) {
	j, err := s.jobs.Get(ctx, t, id)
	if err != nil {
		return Export{}, err
	}
	return s.exportOf(ctx, j)
}

func (s *Service) exportOf(ctx context.Context, j jobs.Job) (Export, error) {
	if j.Type != jobs.TypeExport {
		return Export{}, errs.E(errs.NotFound, "export %s not found", j.ID)
	}
	e, err := s.repo.Export(ctx, j)
	if errs.Is(err, errs.NotFound) {
		return Export{}, errs.E(errs.NotFound, "export %s not found", j.ID)
	}
	if err != nil {
		return Export{}, fmt.Errorf("load export %s: %w", j.ID, err)
	}
	return e, nil
}

// Open returns a succeeded export's file for download. It fails with
// ErrDeleted or ErrExpired once the file is gone, and with a Conflict
// while the export is not succeeded.
func (s *Service) Open(ctx context.Context, t jobs.Tenant, id string) (File, error) {
	e, err := s.Get(ctx, t, id)
	switch {
	case err != nil:
		return File{}, err
	case e.Deleted:
		return File{}, ErrDeleted
	case e.State != jobs.Succeeded:
		return File{}, &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("export %s is %s; only a succeeded export can be downloaded", id, e.State),
			Detail: map[string]any{"state": e.State}}
	case e.Expired:
		return File{}, ErrExpired
	}
	return File{Export: e, repo: s.repo}, nil
}

// File is a succeeded export's gzip file.
type File struct {
	Export
	repo Repository
}

// WriteTo copies the file to w chunk by chunk, one query per chunk, so a
// slow client holds no connection. It fails if the file is deleted midway
// or its size does not add up.
func (f File) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	for seq := 0; ; seq++ {
		data, ok, err := f.repo.Chunk(ctx, f.ID, seq)
		if err != nil {
			return n, fmt.Errorf("read export %s chunk %d: %w", f.ID, seq, err)
		}
		if !ok {
			break
		}
		k, err := w.Write(data)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	if n != f.SizeBytes {
		return n, fmt.Errorf("export %s: read %d of %d bytes (deleted meanwhile?)", f.ID, n, f.SizeBytes)
	}
	return n, nil
}

// Delete cancels a queued or running export (its run stops before its next
// page) or deletes a finished export's file, keeping the job with a
// deleted marker. Either way the chunks are removed.
func (s *Service) Delete(ctx context.Context, t jobs.Tenant, id string) error {
	e, err := s.Get(ctx, t, id)
	if err != nil {
		return err
	}
	if !e.State.Final() {
		canceled, err := s.jobs.Cancel(ctx, id, "canceled on request")
		if err != nil {
			return err
		}
		if canceled {
			return s.discard(ctx, id)
		}
		// It finished meanwhile: delete it as a finished export.
	}
	if err := s.repo.MarkDeleted(ctx, id); err != nil {
		return fmt.Errorf("delete export %s: %w", id, err)
	}
	return nil
}

// AuditEntry is one export in the audit log.
type AuditEntry struct {
	ExportID   string          `json:"exportId"`
	KeyID      string          `json:"keyId,omitempty"`
	CompanyID  string          `json:"companyId"`
	Filter     json.RawMessage `json:"filter"`
	Format     string          `json:"format"`
	Fields     []string        `json:"fields"`
	CampaignID string          `json:"campaignId,omitempty"`
	Group      string          `json:"group,omitempty"`
	// IncludeSuppressed: the export kept suppressed customers.
	IncludeSuppressed bool       `json:"includeSuppressed"`
	State             jobs.State `json:"state"`
	Rows              int64      `json:"rows"`
	Bytes             int64      `json:"bytes"`
	Error             string     `json:"error,omitempty"`
	CreatedAt         time.Time  `json:"createdAt"`
	FinishedAt        time.Time  `json:"finishedAt"`
}

// Audit limits.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 100
)

// Audit returns up to limit audit entries, newest first, after cursor (the
// nextCursor of the previous page, "" for the first). The next cursor is
// "" on the last page. A bad limit or cursor is a *segment.ValidationError.
func (s *Service) Audit(ctx context.Context, limit int, cursor string) ([]AuditEntry, string, error) {
	if limit < 1 || limit > MaxAuditLimit {
		return nil, "", &segment.ValidationError{Errors: []segment.FieldError{
			{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", MaxAuditLimit)}}}
	}
	after := int64(1<<63 - 1)
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		v, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil {
			return nil, "", &segment.ValidationError{Errors: []segment.FieldError{
				{Field: "cursor", Message: "is not a cursor this endpoint returned"}}}
		}
		after = v
	}
	out, ids, err := s.repo.AuditPage(ctx, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("read export audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ids[limit-1], 10)))
	}
	return out, next, nil
}

// isStale reports whether err says the run lost its right to write.
func isStale(err error) bool { return errors.Is(err, ErrStale) }
