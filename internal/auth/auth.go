// Package auth issues and checks API keys. A key belongs to one company, or
// is an admin key spanning companies, and carries scopes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
)

// Scope is a permission a key carries.
type Scope string

// Scopes.
const (
	ScopeSearch Scope = "search"
	ScopeExport Scope = "export"
	ScopeSync   Scope = "sync"
	ScopeAdmin  Scope = "admin"
)

// AllScopes lists every scope.
var AllScopes = []Scope{ScopeSearch, ScopeExport, ScopeSync, ScopeAdmin}

// ParseScopes parses "search,export".
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if sc == "" {
			continue
		}
		if !slices.Contains(AllScopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (want %v)", sc, AllScopes)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scopes given")
	}
	return out, nil
}

// Key is a stored API key, without its secret.
type Key struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CompanyID  string     `json:"companyId,omitempty"`
	Admin      bool       `json:"admin"`
	Scopes     []Scope    `json:"scopes"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// Has reports whether k carries scope; admin keys carry every scope.
func (k Key) Has(scope Scope) bool { return k.Admin || slices.Contains(k.Scopes, scope) }

// keyPrefix marks our secrets so they are recognisable in leaked text.
const keyPrefix = "rk_"

// NewKey describes a key to create.
type NewKey struct {
	Name      string
	CompanyID string // required unless Admin
	Admin     bool
	Scopes    []Scope
}

// Store keeps keys in PostgreSQL. Safe for concurrent use.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a key store on the service database.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Create stores a new key and returns it with its secret, which is shown
// once and never stored.
func (s *Store) Create(ctx context.Context, nk NewKey) (Key, string, error) {
	if strings.TrimSpace(nk.Name) == "" {
		return Key{}, "", errs.E(errs.Invalid, "a key needs a name")
	}
	if nk.Admin == (nk.CompanyID != "") {
		return Key{}, "", errs.E(errs.Invalid, "a key is either an admin key or belongs to one company")
	}
	if len(nk.Scopes) == 0 {
		return Key{}, "", errs.E(errs.Invalid, "a key needs at least one scope")
	}
	prefix := randomString(6)
	secret := keyPrefix + prefix + "_" + randomString(24)
	sum := sha256.Sum256([]byte(secret))
	k := Key{ID: uuid.NewString(), Name: nk.Name, Prefix: prefix, CompanyID: nk.CompanyID, Admin: nk.Admin, Scopes: nk.Scopes}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, name, prefix, secret_hash, company_id, admin, scopes)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7) RETURNING created_at`,
		k.ID, k.Name, k.Prefix, sum[:], k.CompanyID, k.Admin, scopeStrings(k.Scopes)).Scan(&k.CreatedAt)
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	return k, secret, nil
}

// Authenticate returns the live key whose secret is secret. Unknown,
// malformed and revoked keys are all Unauthorized.
func (s *Store) Authenticate(ctx context.Context, secret string) (Key, error) {
	rest, ok := strings.CutPrefix(secret, keyPrefix)
	prefix, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || prefix == "" {
		return Key{}, errs.E(errs.Unauthorized, "invalid API key")
	}
	var hash []byte
	k, err := s.scanOne(ctx, "WHERE prefix = $1", prefix, &hash)
	if errs.Is(err, errs.NotFound) {
		return Key{}, errs.E(errs.Unauthorized, "invalid API key")
	}
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return Key{}, errs.E(errs.Unauthorized, "invalid API key")
	}
	if k.RevokedAt != nil {
		return Key{}, errs.E(errs.Unauthorized, "API key revoked")
	}
	// last_used_at is informational; at most one write a minute per key,
	// decided from the row just read, so most requests cost one query.
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		_, _ = s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, k.ID)
	}
	return k, nil
}

// List returns every key, newest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	rows, err := s.pool.Query(ctx, selectKeys+" ORDER BY created_at DESC, id")
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var hash []byte
		k, err := scanKey(rows, &hash)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Revoke revokes the key with id or prefix ref.
func (s *Store) Revoke(ctx context.Context, ref string) (Key, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 OR prefix = $1`, ref)
	if err != nil {
		return Key{}, fmt.Errorf("revoke key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Key{}, errs.E(errs.NotFound, "no key %q", ref)
	}
	var hash []byte
	return s.scanOne(ctx, "WHERE id = $1 OR prefix = $1", ref, &hash)
}

const selectKeys = `SELECT id, name, prefix, coalesce(company_id, ''), admin, scopes, created_at, revoked_at, last_used_at, secret_hash FROM api_keys`

func (s *Store) scanOne(ctx context.Context, where string, arg any, hash *[]byte) (Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, selectKeys+" "+where, arg), hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, errs.E(errs.NotFound, "no such key")
	}
	return k, err
}

func scanKey(row pgx.Row, hash *[]byte) (Key, error) {
	var k Key
	var scopes []string
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.CompanyID, &k.Admin, &scopes, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt, hash)
	if err != nil {
		return Key{}, err
	}
	for _, s := range scopes {
		k.Scopes = append(k.Scopes, Scope(s))
	}
	return k, nil
}

func scopeStrings(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return strings.NewReplacer("-", "x", "_", "y").Replace(base64.RawURLEncoding.EncodeToString(b))[:n]
}
