package search

import "context"

// Fingerprint is what a reconcile pass reads back of one serving
// document: whose it is, profile.Fingerprint of its content and the source
// version it was written with.
type Fingerprint struct {
	CustomerID  string
	CompanyID   string
	Fingerprint string
	Version     int64
}

// FingerprintReader reads documents' fingerprints from the serving
// generation without their content. Implementations are safe for
// concurrent use.
type FingerprintReader interface {
	// Fingerprints calls fn with the fingerprints of every serving
	// document with lo < customer id <= hi in byte order (lo "" from the
	// first, hi "" to the last), in pages. No serving generation: no calls.
	Fingerprints(ctx context.Context, lo, hi string, fn func([]Fingerprint) error) error
	// FingerprintsOf returns the fingerprints of those of ids that have a
	// serving document.
	FingerprintsOf(ctx context.Context, ids []string) ([]Fingerprint, error)
}
