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

// StoredKey is a key as the repository keeps it: the key and the SHA-256
// of its secret.
type StoredKey struct {
	Key
	SecretHash []byte
}

// Repository keeps keys. The postgres adapter implements it.
type Repository interface {
	// CreateKey stores k and returns its creation time.
	CreateKey(ctx context.Context, k StoredKey) (time.Time, error)
	// KeyByPrefix returns the key whose prefix is prefix; errs.NotFound
	// when there is none.
	KeyByPrefix(ctx context.Context, prefix string) (StoredKey, error)
	// TouchKey records that the key id was just used.
	TouchKey(ctx context.Context, id string) error
	// ListKeys returns every key, newest first.
	ListKeys(ctx context.Context) ([]Key, error)
	// RevokeKey revokes the key whose id or prefix is ref (a revoked key
	// stays revoked at its first time) and returns it; errs.NotFound when
	// there is none.
	RevokeKey(ctx context.Context, ref string) (Key, error)
	// DeleteKeys deletes the keys ids.
	DeleteKeys(ctx context.Context, ids []string) error
}

// Store issues and checks keys kept by a Repository. Safe for concurrent
// use.
type Store struct {
	repo  Repository
	cache *keyCache // nil: every Authenticate reads the repository
}

// NewStore returns a key store over repo that reads the repository on
// every Authenticate (the CLI's).
func NewStore(repo Repository) *Store { return &Store{repo: repo} }

// NewCachedStore returns a key store over repo whose Authenticate trusts a
// key read from the repository for ttl (the API's; DefaultKeyCacheTTL):
// a key revoked, deleted or changed elsewhere keeps working in this
// process for at most ttl, one revoked or deleted through this Store stops
// at once. ttl <= 0 is NewStore.
func NewCachedStore(repo Repository, ttl time.Duration) *Store {
	if ttl <= 0 {
		return NewStore(repo)
	}
	return &Store{repo: repo, cache: &keyCache{ttl: ttl, keys: map[string]cachedKey{}}}
}

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
	created, err := s.repo.CreateKey(ctx, StoredKey{Key: k, SecretHash: sum[:]})
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	k.CreatedAt = created
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
	sk, err := s.keyByPrefix(ctx, prefix)
	if errs.Is(err, errs.NotFound) {
		return Key{}, errs.E(errs.Unauthorized, "invalid API key")
	}
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], sk.SecretHash) != 1 {
		return Key{}, errs.E(errs.Unauthorized, "invalid API key")
	}
	k := sk.Key
	if k.RevokedAt != nil {
		return Key{}, errs.E(errs.Unauthorized, "API key revoked")
	}
	// last_used_at is informational; at most one write a minute per key,
	// decided from the row read (or cached), so most requests cost no query.
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		_ = s.repo.TouchKey(ctx, k.ID)
		if s.cache != nil {
			s.cache.touched(prefix, time.Now())
		}
	}
	return k, nil
}

// keyByPrefix reads the key of prefix through the cache, if any.
func (s *Store) keyByPrefix(ctx context.Context, prefix string) (StoredKey, error) {
	if s.cache == nil {
		return s.repo.KeyByPrefix(ctx, prefix)
	}
	return s.cache.get(ctx, prefix, s.repo.KeyByPrefix)
}

// List returns every key, newest first.
func (s *Store) List(ctx context.Context) ([]Key, error) {
	keys, err := s.repo.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// Revoke revokes the key with id or prefix ref.
func (s *Store) Revoke(ctx context.Context, ref string) (Key, error) {
	k, err := s.repo.RevokeKey(ctx, ref)
	if errs.Is(err, errs.NotFound) {
		return Key{}, errs.E(errs.NotFound, "no key %q", ref)
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke key: %w", err)
	}
	if s.cache != nil {
		s.cache.forget(k.Prefix)
	}
	return k, nil
}

// Delete deletes the keys ids outright (a benchmark's temporary keys);
// Revoke is how a key in use ends.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if err := s.repo.DeleteKeys(ctx, ids); err != nil {
		return fmt.Errorf("delete keys: %w", err)
	}
	if s.cache != nil {
		s.cache.forgetAll() // ids, not prefixes: the cache is cheap to refill
	}
	return nil
}

// ScopeStrings returns scopes as strings, for storage.
func ScopeStrings(scopes []Scope) []string {
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
