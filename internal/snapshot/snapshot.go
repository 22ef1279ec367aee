// Package snapshot materialises a large segment: every matching profile,
// frozen in a stable order in PostgreSQL with a summary, so a client pages
// through it by cursor while syncs change the index underneath.
package snapshot

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Params are the params of a large-segment search job: the canonical
// filter and the sort, as the worker decodes them.
type Params struct {
	Filter json.RawMessage `json:"filter"`
	Sort   string          `json:"sort"`
}

// Summary describes a materialised segment.
type Summary struct {
	Count    int64         `json:"count"`
	ByCity   []Bucket      `json:"byCity"`
	ByGender []Bucket      `json:"byGender"`
	Recency  []Bucket      `json:"recency"`
	Spend    SpendQuartile `json:"spend"`
	// ByRFMGroup counts customers per RFM group, every group of
	// scores.Groups in that order; empty when the index has no scores.
	ByRFMGroup []Bucket `json:"byRfmGroup"`
}

// Bucket is one group of a breakdown.
type Bucket struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// SpendQuartile gives the spend distribution's quartiles (nearest rank).
type SpendQuartile struct {
	Min    profile.Cents `json:"min"`
	Q1     profile.Cents `json:"q1"`
	Median profile.Cents `json:"median"`
	Q3     profile.Cents `json:"q3"`
	Max    profile.Cents `json:"max"`
}

// RecencyBuckets are the days-since-last-purchase groups, in order.
var RecencyBuckets = []struct {
	Key      string
	From, To int // inclusive days
}{
	{"0-30", 0, 30}, {"31-60", 31, 60}, {"61-90", 61, 90}, {"91-180", 91, 180}, {"181-365", 181, 365}, {"365+", 366, 1 << 30},
}

// Never is the recency bucket of customers who never purchased.
const Never = "never"

// Store keeps snapshots in the service database. Safe for concurrent use.
type Store struct{ db *pgxpool.Pool }

// NewStore returns a snapshot store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Materialize writes the snapshot of jobID: every match of q, as one
// consistent view of the index reads them, with its summary. It replaces
// what a crashed attempt left, in one transaction, so a snapshot is
// complete or absent.
//
// The engine scans unordered (search.Query.Unordered: one scroll on
// Elasticsearch, one statement's snapshot on PostgreSQL), the scan exports
// use, so a customer re-indexed, added or removed while the scan runs is
// neither doubled nor missed: the snapshot is the index as it was when the
// scan began. Rows go to PostgreSQL in one COPY that streams while the
// engine reads the next page; each row carries its sort key (see sortKey),
// which gives the snapshot q's order. progress is told the rows done after
// each page.
func (s *Store) Materialize(ctx context.Context, engine search.Searcher, jobID string, q search.Query, retention time.Duration, progress func(done int64)) (Summary, error) {
	q.Unordered = true
	q.Fields = nil
	today := civil(q.Now.In(q.Location))
	acc := newAccumulator()

	scanCtx, stopScan := context.WithCancel(ctx)
	defer stopScan()
	src := &pageSource{pages: make(chan [][]any, 1), progress: progress}
	go func() {
		defer close(src.pages)
		src.scanErr = engine.Scan(scanCtx, q, func(page []profile.Profile) error {
			rows := make([][]any, len(page))
			for i, p := range page {
				doc, err := json.Marshal(p)
				if err != nil {
					return fmt.Errorf("snapshot: encode customer: %w", err)
				}
				rows[i] = []any{jobID, sortKey(q.Sort, p), int64(p.TotalSpent), doc}
				acc.add(p, today, q.Location)
			}
			select {
			case src.pages <- rows:
				return nil
			case <-scanCtx.Done():
				return scanCtx.Err()
			}
		})
	}()

	var sum Summary
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM segment_snapshot_rows WHERE job_id = $1", jobID); err != nil {
			return fmt.Errorf("snapshot: reset: %w", err)
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"segment_snapshot_rows"},
			[]string{"job_id", "sort_key", "total_spent_cents", "doc"}, src)
		if err != nil {
			return fmt.Errorf("snapshot: store rows: %w", err)
		}
		sum = acc.summary()
		sum.Count = n
		if n > 0 {
			var q0, q1, q2, q3, q4 int64
			err := tx.QueryRow(ctx, `SELECT min(total_spent_cents),
				percentile_disc(0.25) WITHIN GROUP (ORDER BY total_spent_cents),
				percentile_disc(0.5) WITHIN GROUP (ORDER BY total_spent_cents),
				percentile_disc(0.75) WITHIN GROUP (ORDER BY total_spent_cents),
				max(total_spent_cents) FROM segment_snapshot_rows WHERE job_id = $1`, jobID).Scan(&q0, &q1, &q2, &q3, &q4)
			if err != nil {
				return fmt.Errorf("snapshot: quartiles: %w", err)
			}
			sum.Spend = SpendQuartile{profile.Cents(q0), profile.Cents(q1), profile.Cents(q2), profile.Cents(q3), profile.Cents(q4)}
		}
		_, err = tx.Exec(ctx, `INSERT INTO segment_snapshots (job_id, rows, expires_at) VALUES ($1, $2, now() + $3::interval)
			ON CONFLICT (job_id) DO UPDATE SET rows = $2, expires_at = now() + $3::interval, expired = false`, jobID, n, retention.String())
		if err != nil {
			return fmt.Errorf("snapshot: record: %w", err)
		}
		return nil
	})
	// The scan ends before the summary is read (the COPY drained it) or is
	// stopped here when the transaction failed first.
	stopScan()
	for range src.pages {
	}
	if err != nil {
		if src.scanErr != nil && !errors.Is(src.scanErr, context.Canceled) {
			return Summary{}, src.scanErr
		}
		return Summary{}, err
	}
	return sum, nil
}

// pageSource feeds the COPY from the scan's pages (pgx.CopyFromSource).
// The scan goroutine writes scanErr before it closes pages.
type pageSource struct {
	pages    chan [][]any
	scanErr  error
	progress func(done int64)
	page     [][]any
	next     int
	done     int64
	closed   bool
}

func (p *pageSource) Next() bool {
	for p.next >= len(p.page) {
		if p.page != nil {
			p.done += int64(len(p.page))
			if p.progress != nil {
				p.progress(p.done)
			}
		}
		page, ok := <-p.pages
		if !ok {
			p.closed, p.page = true, nil
			return false
		}
		p.page, p.next = page, 0
	}
	p.next++
	return true
}

func (p *pageSource) Values() ([]any, error) { return p.page[p.next-1], nil }

// Err is the scan's error once the scan has ended.
func (p *pageSource) Err() error {
	if p.closed {
		return p.scanErr
	}
	return nil
}

// Page is one page of a snapshot.
type Page struct {
	Total      int64             `json:"total"`
	Customers  []json.RawMessage `json:"customers"`
	NextCursor string            `json:"nextCursor"`
	ExpiresAt  time.Time         `json:"expiresAt"`
}

// Read returns size rows of jobID's snapshot after cursor ("" from the
// start), in the snapshot's order. The cursor is the last row's sort key.
func (s *Store) Read(ctx context.Context, jobID, cursor string, size int) (Page, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return Page{}, err
	}
	var p Page
	var expired bool
	err = s.db.QueryRow(ctx, "SELECT rows, expires_at, expired OR expires_at < now() FROM segment_snapshots WHERE job_id = $1", jobID).
		Scan(&p.Total, &p.ExpiresAt, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return Page{}, errs.E(errs.Conflict, "the segment search has not finished")
	}
	if err != nil {
		return Page{}, err
	}
	if expired {
		return Page{}, ErrExpired
	}
	// One row more than asked tells whether there is a next page.
	rows, err := s.db.Query(ctx, "SELECT sort_key, doc FROM segment_snapshot_rows WHERE job_id = $1 AND sort_key > $2 ORDER BY sort_key LIMIT $3",
		jobID, after, size+1)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	p.Customers = []json.RawMessage{}
	var last []byte
	for rows.Next() {
		var key, doc []byte
		if err := rows.Scan(&key, &doc); err != nil {
			return Page{}, err
		}
		if len(p.Customers) == size {
			p.NextCursor = base64.RawURLEncoding.EncodeToString(last)
			break
		}
		p.Customers = append(p.Customers, doc)
		last = key
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	return p, nil
}

// decodeCursor returns the sort key a cursor carries. A cursor of the
// snapshots written before sort keys holds a row number in decimal, which
// those rows' keys encode as a big-endian integer; a key never starts with
// an ASCII digit (see sortKey), so the two cannot be confused.
func decodeCursor(cursor string) ([]byte, error) {
	if cursor == "" {
		return []byte{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 {
		return nil, segment.InvalidCursor()
	}
	if b[0] < '0' || b[0] > '9' {
		return b, nil
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq < 0 {
		return nil, segment.InvalidCursor()
	}
	return binary.BigEndian.AppendUint64(nil, uint64(seq)), nil
}

// ErrExpired is returned for a snapshot past its retention.
var ErrExpired = &errs.Error{Code: errs.NotFound, Message: "the segment snapshot expired; run the search again", Detail: map[string]any{"expired": true}}

// Cleanup deletes the rows of expired snapshots and returns how many
// snapshots it expired.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `WITH gone AS (
			UPDATE segment_snapshots SET expired = true WHERE NOT expired AND expires_at < now() RETURNING job_id
		), rows AS (
			DELETE FROM segment_snapshot_rows WHERE job_id IN (SELECT job_id FROM gone)
		) SELECT count(*) FROM gone`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("snapshot cleanup: %w", err)
	}
	return n, nil
}

// accumulator builds the breakdowns while the scan streams.
type accumulator struct {
	cities  map[string]map[string]int64 // folded -> spelling -> count
	genders map[string]int64
	recency map[string]int64
	groups  map[string]int64
}

func newAccumulator() *accumulator {
	return &accumulator{cities: map[string]map[string]int64{}, genders: map[string]int64{}, recency: map[string]int64{},
		groups: map[string]int64{}}
}

func (a *accumulator) add(p profile.Profile, today time.Time, loc *time.Location) {
	key := profile.Fold(p.City)
	if a.cities[key] == nil {
		a.cities[key] = map[string]int64{}
	}
	a.cities[key][p.City]++
	a.genders[p.Gender]++
	if p.RFMGroup != "" {
		a.groups[p.RFMGroup]++
	}
	if p.LastPurchaseAt == nil {
		a.recency[Never]++
		return
	}
	days := int(today.Sub(civil(p.LastPurchaseAt.In(loc))).Hours() / 24)
	for _, b := range RecencyBuckets {
		if days >= b.From && days <= b.To {
			a.recency[b.Key]++
			return
		}
	}
	a.recency[RecencyBuckets[0].Key]++ // a purchase dated after today
}

func (a *accumulator) summary() Summary {
	s := Summary{ByCity: []Bucket{}, ByGender: []Bucket{}}
	for _, spellings := range a.cities {
		// Show a city by its most common spelling, ties by the smallest.
		var best string
		var total, bestN int64
		for sp, n := range spellings {
			total += n
			if n > bestN || (n == bestN && sp < best) {
				best, bestN = sp, n
			}
		}
		s.ByCity = append(s.ByCity, Bucket{Key: best, Count: total})
	}
	sortBuckets(s.ByCity)
	for g, n := range a.genders {
		s.ByGender = append(s.ByGender, Bucket{Key: g, Count: n})
	}
	sortBuckets(s.ByGender)
	for _, b := range RecencyBuckets {
		s.Recency = append(s.Recency, Bucket{Key: b.Key, Count: a.recency[b.Key]})
	}
	s.Recency = append(s.Recency, Bucket{Key: Never, Count: a.recency[Never]})
	s.ByRFMGroup = rfmBuckets(a.groups)
	return s
}

func sortBuckets(b []Bucket) {
	sort.Slice(b, func(i, j int) bool {
		if b[i].Count != b[j].Count {
			return b[i].Count > b[j].Count
		}
		return b[i].Key < b[j].Key
	})
}

// civil is t's calendar date as midnight UTC, for day arithmetic.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
