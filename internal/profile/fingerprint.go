package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

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
func Fingerprint(p Profile) string {
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore, p.RFMGroup = nil, nil, nil, ""
	p.PAlive, p.ExpectedPurchases90d = nil, nil
	for _, t := range []**time.Time{&p.CreatedAt, &p.UpdatedAt, &p.FirstPurchaseAt, &p.LastPurchaseAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("profile: encode for fingerprint: " + err.Error()) // plain fields cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
