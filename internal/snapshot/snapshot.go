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

// Row is one customer of a snapshot as stored: its sort key (see sortKey),
// its spend (for the quartiles) and its profile as JSON.
type Row struct {
	SortKey    []byte
	TotalSpent int64
	Doc        []byte
}

// RowSource streams the rows of a snapshot being written: Next advances to
// the next row (false at the end or on error), Row returns it, Err is the
// error that ended the stream.
type RowSource interface {
	Next() bool
	Row() Row
	Err() error
}

// Header is the record of a stored snapshot.
type Header struct {
	Rows      int64
	ExpiresAt time.Time
	// Expired is true once the snapshot is past its retention (its rows
	// may be gone already).
	Expired bool
}

// Repository keeps snapshots. The postgres adapter implements it.
type Repository interface {
	// Replace stores the rows of jobID's snapshot, replacing what a previous
	// attempt left, in one transaction (complete or absent), with retention
	// from now. It returns how many rows it stored and their spend
	// quartiles (zero when none).
	Replace(ctx context.Context, jobID string, rows RowSource, retention time.Duration) (int64, SpendQuartile, error)
	// Header returns the record of jobID's snapshot; errs.NotFound when
	// it has not been written.
	Header(ctx context.Context, jobID string) (Header, error)
	// Rows returns up to limit rows of jobID's snapshot whose sort key is
	// after after, in sort key order.
	Rows(ctx context.Context, jobID string, after []byte, limit int) ([]Row, error)
	// Expire marks the snapshots past their retention expired, deletes
	// their rows and counts them.
	Expire(ctx context.Context) (int64, error)
	// Drop deletes jobID's snapshot, rows and record.
	Drop(ctx context.Context, jobID string) error
}

// Store keeps snapshots in a Repository. Safe for concurrent use.
type Store struct{ repo Repository }

// NewStore returns a snapshot store over repo.
func NewStore(repo Repository) *Store { return &Store{repo: repo} }

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
//
// When the engine's documents are tables of the repository's database
// (SQLSource, SQLRepository: the PostgreSQL engine), the database copies
// the rows itself in one statement, which is one consistent snapshot of
// it too, and counts the summary beside it (materializeSQL).
func (s *Store) Materialize(ctx context.Context, engine search.Searcher, jobID string, q search.Query, retention time.Duration, progress func(done int64)) (Summary, error) {
	if src, ok := engine.(SQLSource); ok {
		if repo, ok := s.repo.(SQLRepository); ok {
			sq, ok, err := src.SnapshotSQL(ctx, q)
			if err != nil {
				return Summary{}, fmt.Errorf("snapshot: %w", err)
			}
			if ok {
				return s.materializeSQL(ctx, repo, sq, jobID, q, retention, progress)
			}
		}
	}
	q.Fields = rowFields
	today := civil(q.Now.In(q.Location))
	acc := newAccumulator()

	scanCtx, stopScan := context.WithCancel(ctx)
	defer stopScan()
	src := &pageSource{pages: make(chan []Row, 1), progress: progress}
	go func() {
		defer close(src.pages)
		src.scanErr = search.ScanJSON(scanCtx, engine, q, func(page []search.Match) error {
			rows := make([]Row, len(page))
			for i, m := range page {
				rows[i] = Row{SortKey: sortKey(q.Sort, m.Profile), TotalSpent: int64(m.Profile.TotalSpent), Doc: m.JSON}
				acc.add(m.Profile, today, q.Location)
			}
			select {
			case src.pages <- rows:
				return nil
			case <-scanCtx.Done():
				return scanCtx.Err()
			}
		})
	}()

	n, spend, err := s.repo.Replace(ctx, jobID, src, retention)
	// The scan ends before the summary is read (the COPY drained it) or is
	// stopped here when the transaction failed first.
	stopScan()
	for range src.pages {
	}
	if err != nil {
		if src.scanErr != nil && !errors.Is(src.scanErr, context.Canceled) {
			return Summary{}, src.scanErr
		}
		return Summary{}, fmt.Errorf("snapshot: store: %w", err)
	}
	// The accumulator is complete: the repository drained the scan.
	sum := acc.summary()
	sum.Count, sum.Spend = n, spend
	return sum, nil
}

// rowFields are the profile fields a row is made of besides its JSON: the
// sort key's (every sort's field and the id) and the summary's.
var rowFields = []string{"customerId", "lastPurchaseAt", "totalSpent", "totalPurchases", "averageTicket", "name",
	"pAlive", "expectedPurchases90d", "city", "gender", "rfmGroup"}

// pageSource feeds the repository from the scan's pages (a RowSource).
// The scan goroutine writes scanErr before it closes pages.
type pageSource struct {
	pages    chan []Row
	scanErr  error
	progress func(done int64)
	page     []Row
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

func (p *pageSource) Row() Row { return p.page[p.next-1] }

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
	h, err := s.repo.Header(ctx, jobID)
	if errs.Is(err, errs.NotFound) {
		return Page{}, errs.E(errs.Conflict, "the segment search has not finished")
	}
	if err != nil {
		return Page{}, fmt.Errorf("snapshot: read: %w", err)
	}
	if h.Expired {
		return Page{}, ErrExpired
	}
	// One row more than asked tells whether there is a next page.
	rows, err := s.repo.Rows(ctx, jobID, after, size+1)
	if err != nil {
		return Page{}, fmt.Errorf("snapshot: read rows: %w", err)
	}
	p := Page{Total: h.Rows, ExpiresAt: h.ExpiresAt, Customers: []json.RawMessage{}}
	for i, r := range rows {
		if i == size {
			p.NextCursor = base64.RawURLEncoding.EncodeToString(rows[i-1].SortKey)
			break
		}
		p.Customers = append(p.Customers, r.Doc)
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
	n, err := s.repo.Expire(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot cleanup: %w", err)
	}
	return n, nil
}

// Drop deletes the snapshot of jobID, its rows and its record, at once
// rather than at expiry.
func (s *Store) Drop(ctx context.Context, jobID string) error {
	if err := s.repo.Drop(ctx, jobID); err != nil {
		return fmt.Errorf("snapshot: drop: %w", err)
	}
	return nil
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
	a.addCity(p.City, 1)
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
