// Package campaign measures win-back campaigns: it freezes the audience of
// a segment, splits it into treatment and holdout by a hash anyone can
// recompute, imports the delivery events of the message, keeps the
// per-company suppression list, and reports from the source's invoices who
// came back within the window in each group, with the lift, its 95%
// interval and p-value, incremental customers and revenue, and ROI.
package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// Groups of an audience.
const (
	Treatment     = "treatment"
	Holdout       = "holdout"
	GlobalControl = "globalControl"
)

// Channels a campaign is sent on; suppression is per channel.
var Channels = []string{"email", "sms", "whatsapp", "push"}

// States of a campaign.
const (
	// Freezing: the freeze job has not written the audience yet.
	Freezing = "freezing"
	// Ready: the audience is frozen and assigned.
	Ready = "ready"
	// Failed: the freeze job failed; the campaign has no audience.
	Failed = "failed"
	// Archived: kept for its report, hidden from nothing, changed by nothing.
	Archived = "archived"
)

// Defaults and bounds of a new campaign.
const (
	DefaultHoldoutPercent = 10
	MaxHoldoutPercent     = 50
	DefaultWindowDays     = 30
	MaxWindowDays         = 365
	DefaultChannel        = "email"
)

// Campaign is a campaign as the API shows it.
type Campaign struct {
	ID             string          `json:"id"`
	CompanyID      string          `json:"companyId"`
	Name           string          `json:"name"`
	Filter         json.RawMessage `json:"filter"`
	HoldoutPercent int             `json:"holdoutPercent"`
	// GlobalControlPercent is the company's control group when the
	// audience froze (0: none).
	GlobalControlPercent float64 `json:"globalControlPercent"`
	WindowDays           int     `json:"windowDays"`
	// SentAt is when the message went out; nil until the audience freezes
	// when the request named none.
	SentAt            *time.Time     `json:"sentAt"`
	Cost              *profile.Cents `json:"cost"`
	Currency          string         `json:"currency,omitempty"`
	Channel           string         `json:"channel"`
	IncludeSuppressed bool           `json:"includeSuppressed"`
	State             string         `json:"state"`
	JobID             string         `json:"jobId"`
	CreatedBy         string         `json:"-"`
	CreatedAt         time.Time      `json:"createdAt"`
	FrozenAt          *time.Time     `json:"frozenAt,omitempty"`
	ArchivedAt        *time.Time     `json:"archivedAt,omitempty"`
	Counts            Counts         `json:"counts"`
	Window            *Window        `json:"window,omitempty"`
}

// Counts are the sizes of the frozen audience's groups.
type Counts struct {
	Treatment     int64 `json:"treatment"`
	Holdout       int64 `json:"holdout"`
	GlobalControl int64 `json:"globalControl"`
	// Suppressed matching customers were left out of the audience.
	Suppressed int64 `json:"suppressed"`
}

// Total is the audience size.
func (c Counts) Total() int64 { return c.Treatment + c.Holdout + c.GlobalControl }

// Window is the measurement window [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Days  int       `json:"days"`
}

// WindowOf returns [sentAt, sentAt + days × 24 h).
func WindowOf(sentAt time.Time, days int) Window {
	return Window{Start: sentAt, End: sentAt.Add(time.Duration(days) * 24 * time.Hour), Days: days}
}

// New is a campaign to create, as a client sends it.
type New struct {
	Name              string          `json:"name"`
	Filter            json.RawMessage `json:"filter"`
	HoldoutPercent    *int            `json:"holdoutPercent"`
	SentAt            *time.Time      `json:"sentAt"`
	WindowDays        *int            `json:"windowDays"`
	Cost              *profile.Cents  `json:"cost"`
	Currency          string          `json:"currency"`
	Channel           string          `json:"channel"`
	IncludeSuppressed bool            `json:"includeSuppressed"`
}

// Validate fills defaults and checks every field except the filter (the
// caller decodes and scopes it). Problems are a *segment.ValidationError
// naming each bad field.
func (n New) Validate() (New, error) {
	var p []segment.FieldError
	add := func(field, format string, args ...any) {
		p = append(p, segment.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || len(n.Name) > 200 {
		add("name", "is required, at most 200 characters")
	}
	if n.HoldoutPercent == nil {
		v := DefaultHoldoutPercent
		n.HoldoutPercent = &v
	}
	if v := *n.HoldoutPercent; v < 0 || v > MaxHoldoutPercent {
		add("holdoutPercent", "must be an integer between 0 and %d", MaxHoldoutPercent)
	}
	if n.WindowDays == nil {
		v := DefaultWindowDays
		n.WindowDays = &v
	}
	if v := *n.WindowDays; v < 1 || v > MaxWindowDays {
		add("windowDays", "must be an integer between 1 and %d", MaxWindowDays)
	}
	if n.Cost != nil && *n.Cost < 0 {
		add("cost", "must not be negative")
	}
	n.Currency = strings.ToUpper(strings.TrimSpace(n.Currency))
	if n.Currency != "" && (len(n.Currency) != 3 || strings.Trim(n.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		add("currency", "must be a three-letter ISO 4217 code")
	}
	if n.Channel == "" {
		n.Channel = DefaultChannel
	}
	if !validChannel(n.Channel) {
		add("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if len(p) > 0 {
		return n, &segment.ValidationError{Errors: p}
	}
	return n, nil
}

func validChannel(c string) bool {
	for _, v := range Channels {
		if v == c {
			return true
		}
	}
	return false
}

// invalid is a validation error naming one field.
func invalid(field, format string, args ...any) error {
	return &segment.ValidationError{Errors: []segment.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// notFound is the error for a campaign that does not exist or is not the
// caller's to see.
func notFound(id string) error { return errs.E(errs.NotFound, "campaign %s not found", id) }

// Hash is the assignment hash of key: the first 8 bytes of SHA-256 of the
// UTF-8 string key, read as a big-endian unsigned integer u. A customer is
// "below p percent" when u / 2^64 < p / 100.
func Hash(key string) uint64 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

// Assigner assigns customers of one campaign to groups. It is the rule of
// the API documentation:
//
//   - a customer with SHA-256("global:<companyId>:<customerId>") below the
//     company's global control percent is in GlobalControl;
//   - otherwise, with SHA-256("<campaignId>:<customerId>") below the
//     holdout percent, in Holdout;
//   - otherwise in Treatment;
//
// where "below p" means: the hash's first 8 bytes as a big-endian unsigned
// integer u satisfy u / 2^64 < p / 100. The zero Assigner is not usable.
type Assigner struct {
	campaignID, companyID string
	holdout, global       float64
	// thresholds: u < limit is "below"; full means every u is below.
	holdoutLimit, globalLimit uint64
	holdoutAll, globalAll     bool
}

// NewAssigner returns the assigner of a campaign.
func NewAssigner(campaignID, companyID string, holdoutPercent int, globalPercent float64) Assigner {
	a := Assigner{campaignID: campaignID, companyID: companyID, holdout: float64(holdoutPercent), global: globalPercent}
	a.holdoutLimit, a.holdoutAll = limitOf(a.holdout)
	a.globalLimit, a.globalAll = limitOf(a.global)
	return a
}

// limitOf returns the smallest u that is not below percent (the first u
// with u·10000 >= hundredths·2^64, i.e. ceil(hundredths·2^64 / 10000)), so
// "below" is one integer comparison per customer.
func limitOf(percent float64) (uint64, bool) {
	if percent >= 100 {
		return 0, true
	}
	if percent <= 0 {
		return 0, false
	}
	hundredths := big.NewInt(int64(math.Round(percent * 100)))
	num := new(big.Int).Lsh(hundredths, 64)
	q, r := new(big.Int).QuoRem(num, big.NewInt(10000), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Uint64(), false
}

func (a Assigner) isBelow(u, limit uint64, all bool) bool { return all || u < limit }

// Group returns the group of customerID.
func (a Assigner) Group(customerID string) string {
	if a.global > 0 && a.isBelow(Hash("global:"+a.companyID+":"+customerID), a.globalLimit, a.globalAll) {
		return GlobalControl
	}
	if a.holdout > 0 && a.isBelow(Hash(a.campaignID+":"+customerID), a.holdoutLimit, a.holdoutAll) {
		return Holdout
	}
	return Treatment
}

func conflict(format string, args ...any) error { return errs.E(errs.Conflict, format, args...) }
