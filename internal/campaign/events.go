package campaign

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/metrics"
)

// Delivery events.
const (
	EventDelivered    = "delivered"
	EventOpened       = "opened"
	EventClicked      = "clicked"
	EventBounced      = "bounced"
	EventUnsubscribed = "unsubscribed"
	EventComplained   = "complained"
)

// Events lists every delivery event.
var Events = []string{EventDelivered, EventOpened, EventClicked, EventBounced, EventUnsubscribed, EventComplained}

// Event formats an import accepts.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// MaxRejections bounds the rejections an import reports line by line.
const MaxRejections = 1000

// EventRow is one delivery event of one customer.
type EventRow struct {
	Line       int       `json:"line"`
	CustomerID string    `json:"customerId"`
	Event      string    `json:"event"`
	At         time.Time `json:"at"`
	// BounceType is "hard" or "soft" for a bounce; a bounce without one
	// is hard.
	BounceType string `json:"bounceType,omitempty"`
}

// suppresses reports whether the event puts the customer on the
// suppression list: an unsubscribe, a complaint or a hard bounce.
func (e EventRow) suppresses() bool {
	return e.Event == EventUnsubscribed || e.Event == EventComplained || (e.Event == EventBounced && e.BounceType != "soft")
}

// Rejection is a row an import refused, by line of the body (1-based; a
// CSV header is line 1).
type Rejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ImportResult is what an import did.
type ImportResult struct {
	// Received counts the body's event rows.
	Received int `json:"received"`
	// Accepted rows were new; Duplicates were already recorded (or
	// repeated in the body): the same row twice counts once.
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	// Suppressed counts customers newly put on the suppression list.
	Suppressed int         `json:"suppressed"`
	Rejected   int         `json:"rejected"`
	Rejections []Rejection `json:"rejections"`
}

func (r *ImportResult) reject(line int, format string, args ...any) {
	r.Rejected++
	if len(r.Rejections) < MaxRejections {
		r.Rejections = append(r.Rejections, Rejection{Line: line, Reason: fmt.Sprintf(format, args...)})
	}
}

// ParseEvents reads NDJSON objects {"customerId", "event", "at",
// "bounceType"} or CSV with a header naming customerId, event, at and
// optionally bounceType. Rows it cannot read are rejections; an unreadable
// body as a whole is an error.
func ParseEvents(body io.Reader, format string) ([]EventRow, ImportResult, error) {
	res := ImportResult{Rejections: []Rejection{}}
	var rows []EventRow
	keep := func(r EventRow) {
		res.Received++
		if reason := r.problem(); reason != "" {
			res.reject(r.Line, "%s", reason)
			return
		}
		rows = append(rows, r)
	}
	switch format {
	case FormatNDJSON:
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var raw struct {
				CustomerID string `json:"customerId"`
				Event      string `json:"event"`
				At         string `json:"at"`
				BounceType string `json:"bounceType"`
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&raw); err != nil {
				res.Received++
				res.reject(line, "not a JSON object of customerId, event, at, bounceType: %v", err)
				continue
			}
			keep(rowOf(line, raw.CustomerID, raw.Event, raw.At, raw.BounceType))
		}
		if err := sc.Err(); err != nil {
			return nil, res, invalid("body", "could not read the NDJSON body: %v", err)
		}
	case FormatCSV:
		cr := csv.NewReader(body)
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		header, err := cr.Read()
		if err != nil {
			return nil, res, invalid("body", "a CSV body starts with a header: customerId,event,at[,bounceType]")
		}
		col := map[string]int{}
		for i, h := range header {
			col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
		}
		for _, need := range []string{"customerId", "event", "at"} {
			if _, ok := col[need]; !ok {
				return nil, res, invalid("body", "the CSV header must name %s (have %s)", need, strings.Join(header, ","))
			}
		}
		get := func(rec []string, name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			line, _ := cr.FieldPos(0)
			if err != nil {
				var perr *csv.ParseError
				if errors.As(err, &perr) {
					res.Received++
					res.reject(perr.StartLine, "not a CSV row: %v", perr.Err)
					continue
				}
				return nil, res, invalid("body", "could not read the CSV body: %v", err)
			}
			keep(rowOf(line, get(rec, "customerId"), get(rec, "event"), get(rec, "at"), get(rec, "bounceType")))
		}
	default:
		return nil, res, invalid("Content-Type", "send application/x-ndjson or text/csv")
	}
	return rows, res, nil
}

// rowOf builds a row; a bad timestamp leaves At zero for problem to name.
func rowOf(line int, customer, event, at, bounce string) EventRow {
	r := EventRow{Line: line, CustomerID: strings.TrimSpace(customer), Event: strings.ToLower(strings.TrimSpace(event)),
		BounceType: strings.ToLower(strings.TrimSpace(bounce))}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(at)); err == nil {
		r.At = t.UTC()
	}
	return r
}

// problem says what is wrong with a row, "" when nothing.
func (e EventRow) problem() string {
	switch {
	case e.CustomerID == "":
		return "customerId is empty"
	case !isEvent(e.Event):
		return "event must be one of " + strings.Join(Events, ", ")
	case e.At.IsZero():
		return "at must be an RFC 3339 timestamp such as 2026-10-01T15:04:05Z"
	case e.BounceType != "" && (e.Event != EventBounced || (e.BounceType != "hard" && e.BounceType != "soft")):
		return `bounceType must be "hard" or "soft", and only on a bounced event`
	}
	return ""
}

func isEvent(s string) bool {
	for _, e := range Events {
		if e == s {
			return true
		}
	}
	return false
}

// ImportEvents records parsed rows of campaign id for the tenant: rows of
// customers not in the frozen audience (unknown ones included) are
// rejected with their line; a row already recorded counts once. Suppressing
// events put the customer on the company's suppression list for the
// campaign's channel. res carries what parsing found.
func (s *Service) ImportEvents(ctx context.Context, t jobs.Tenant, id string, rows []EventRow, res ImportResult) (ImportResult, error) {
	c, err := s.Get(ctx, t, id)
	if err != nil {
		return res, err
	}
	if c.State != Ready && c.State != Archived {
		return res, conflict("campaign %s is %s; events need a frozen audience", id, c.State)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.CustomerID
	}
	got, err := s.store.MembersAmong(ctx, id, ids)
	if err != nil {
		return res, err
	}
	member := map[string]bool{}
	for _, g := range got {
		member[g] = true
	}
	var custs, events []string
	var ats []time.Time
	var suppCusts, suppReasons []string
	var suppAts []time.Time
	for _, r := range rows {
		if !member[r.CustomerID] {
			res.reject(r.Line, "customer is not in the campaign's audience")
			continue
		}
		custs, events, ats = append(custs, r.CustomerID), append(events, r.Event), append(ats, r.At)
		if r.suppresses() {
			suppCusts, suppReasons, suppAts = append(suppCusts, r.CustomerID), append(suppReasons, r.Event), append(suppAts, r.At)
		}
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		evs, err := s.store.InsertEvents(ctx, id, custs, events, ats)
		if err != nil {
			return err
		}
		for _, e := range evs {
			metrics.CampaignEvents.WithLabelValues(e).Inc()
		}
		res.Accepted = len(evs)
		res.Duplicates = len(custs) - len(evs)
		n, err := s.store.Suppress(ctx, c.CompanyID, c.Channel, c.ID, suppCusts, suppReasons, suppAts)
		res.Suppressed = int(n)
		return err
	})
	return res, err
}

// suppressedSet returns the company's customers suppressed on channel;
// channel "" means on any channel.
func (s *Service) suppressedSet(ctx context.Context, companyID, channel string) (map[string]struct{}, error) {
	ids, err := s.store.Suppressed(ctx, companyID, channel)
	if err != nil {
		return nil, err
	}
	out := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		out[id] = struct{}{}
	}
	return out, nil
}

// Keep returns which customers an export of companyID keeps besides its
// filter: members of group of campaign campaignID (when not ""), less the
// customers suppressed on the campaign's channel (any channel for a plain
// export) unless includeSuppressed. It implements export.Audiences.
func (s *Service) Keep(ctx context.Context, companyID, campaignID, group string, includeSuppressed bool) (func(string) bool, error) {
	channel := ""
	var members map[string]string
	if campaignID != "" {
		c, err := s.Get(ctx, jobs.Tenant{CompanyID: companyID}, campaignID)
		if err != nil {
			return nil, err
		}
		channel = c.Channel
		if members, err = s.Members(ctx, campaignID); err != nil {
			return nil, err
		}
	}
	suppressed := map[string]struct{}{}
	if !includeSuppressed {
		var err error
		if suppressed, err = s.suppressedSet(ctx, companyID, channel); err != nil {
			return nil, err
		}
	}
	return func(customerID string) bool {
		if _, ok := suppressed[customerID]; ok {
			return false
		}
		return members == nil || members[customerID] == group
	}, nil
}
