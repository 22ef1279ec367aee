package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/errs"
)

// Keys keeps API keys in the api_keys table (auth.Repository). Safe for
// concurrent use.
type Keys struct{ db *pgxpool.Pool }

var _ auth.Repository = (*Keys)(nil)

// NewKeys returns the key repository of the service database.
func NewKeys(db *pgxpool.Pool) *Keys { return &Keys{db: db} }

// CreateKey implements auth.Repository.
func (r *Keys) CreateKey(ctx context.Context, k auth.StoredKey) (time.Time, error) {
	var created time.Time
	err := conn(ctx, r.db).QueryRow(ctx, `
		INSERT INTO api_keys (id, name, prefix, secret_hash, company_id, admin, scopes)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7) RETURNING created_at`,
		k.ID, k.Name, k.Prefix, k.SecretHash, k.CompanyID, k.Admin, auth.ScopeStrings(k.Scopes)).Scan(&created)
	return created, translate(err, "insert key")
}

// KeyByPrefix implements auth.Repository.
func (r *Keys) KeyByPrefix(ctx context.Context, prefix string) (auth.StoredKey, error) {
	k, err := scanKey(conn(ctx, r.db).QueryRow(ctx, selectKeys+" WHERE prefix = $1", prefix))
	return k, notFound(err, "read key", errs.E(errs.NotFound, "no such key"))
}

// TouchKey implements auth.Repository.
func (r *Keys) TouchKey(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, id)
	return translate(err, "touch key")
}

// ListKeys implements auth.Repository.
func (r *Keys) ListKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := conn(ctx, r.db).Query(ctx, selectKeys+" ORDER BY created_at DESC, id")
	if err != nil {
		return nil, translate(err, "list keys")
	}
	stored, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.StoredKey, error) { return scanKey(row) })
	if err != nil {
		return nil, translate(err, "list keys")
	}
	out := make([]auth.Key, len(stored))
	for i, k := range stored {
		out[i] = k.Key
	}
	return out, nil
}

// RevokeKey implements auth.Repository.
func (r *Keys) RevokeKey(ctx context.Context, ref string) (auth.Key, error) {
	k, err := scanKey(conn(ctx, r.db).QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 OR prefix = $1 RETURNING `+keyColumns, ref))
	return k.Key, notFound(err, "revoke key", errs.E(errs.NotFound, "no such key"))
}

// DeleteKeys implements auth.Repository.
func (r *Keys) DeleteKeys(ctx context.Context, ids []string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM api_keys WHERE id = ANY($1)", ids)
	return translate(err, "delete keys")
}

const keyColumns = `id, name, prefix, coalesce(company_id, ''), admin, scopes, created_at, revoked_at, last_used_at, secret_hash`

const selectKeys = `SELECT ` + keyColumns + ` FROM api_keys`

func scanKey(row pgx.Row) (auth.StoredKey, error) {
	var k auth.StoredKey
	var scopes []string
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.CompanyID, &k.Admin, &scopes, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt, &k.SecretHash)
	if err != nil {
		return auth.StoredKey{}, err
	}
	for _, s := range scopes {
		k.Scopes = append(k.Scopes, auth.Scope(s))
	}
	return k, nil
}
