package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// fingerprintBytes is how much of the SHA-256 a fingerprint keeps.
const fingerprintBytes = 16

// Fingerprint is a short hash of everything a profile says (its JSON, with
// instants in UTC; SourceVersion is not part of it): two profiles have the
// same fingerprint exactly when they would be indexed as the same
// document. The engines store it in each document at write time, so a
// reconcile pass compares source and index by reading fingerprints back
// instead of whole documents.
//
// Scores are left out: they are derived from the rest with the
// generation's thresholds and model, and P(alive) moves with the clock, so
// equal purchase profiles must fingerprint equal whatever their scores.
//
// The JSON is AppendJSON's, the same bytes json.Marshal writes, so the
// fingerprints of documents already indexed stay valid; like it,
// Fingerprint panics on a profile json.Marshal cannot write.
func Fingerprint(p Profile) string {
	var buf [2 * fingerprintBytes]byte
	return string(AppendFingerprint(buf[:0], &p))
}

// AppendFingerprint appends Fingerprint(*p), in hex, to b, for a document
// that writes it without making a string. p is not changed.
func AppendFingerprint(b []byte, p *Profile) []byte {
	q := *p
	q.RecencyScore, q.FrequencyScore, q.MonetaryScore, q.RFMGroup = nil, nil, nil, ""
	q.PAlive, q.ExpectedPurchases90d = nil, nil
	var utc [4]time.Time
	q.CreatedAt, q.UpdatedAt = inUTC(q.CreatedAt, &utc[0]), inUTC(q.UpdatedAt, &utc[1])
	q.FirstPurchaseAt, q.LastPurchaseAt = inUTC(q.FirstPurchaseAt, &utc[2]), inUTC(q.LastPurchaseAt, &utc[3])
	// Most profiles' JSON fits: encoded on the stack, with no allocation.
	var buf [4096]byte
	sum := sha256.Sum256(q.AppendJSON(buf[:0]))
	return hex.AppendEncode(b, sum[:fingerprintBytes])
}

// inUTC is *t in UTC, kept in *u (the caller's, so it can stay on the
// stack); nil for nil.
func inUTC(t, u *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	*u = t.UTC()
	return u
}
