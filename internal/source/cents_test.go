package source_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestCentsArePostgreSQLs decodes amounts as PostgreSQL sends them, in
// binary and in text (behind a pooler that only speaks the simple
// protocol), and requires the cents (amount * 100)::bigint gives on the
// same server: halves rounded away from zero, more decimals than cents,
// whole numbers across the base-10000 digits, signs, and 20,000 random
// amounts; NaN, infinities and amounts past 64 bits of cents are errors.
func TestCentsArePostgreSQLs(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	cfg := pool.Config().Copy()
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	simple, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer simple.Close()

	values := []string{"0", "-0", "0.00", "1", "-1", "0.005", "-0.005", "0.0049999", "-0.0049999", "0.015", "1.125",
		"1.135", "-2.675", "0.00001", "0.995", "9999.995", "10000", "10000.5", "99999999.99", "123456789012.34",
		"-123456789012.345", "5e3", "100000000.00000001", "0.5", "12.3", "92233720368547758.07", "-92233720368547758.07"}
	rng := rand.New(rand.NewSource(15))
	for range 20000 {
		whole := rng.Int63n(1_000_000_000_000) >> rng.Intn(40)
		v := fmt.Sprintf("%d", whole)
		if d := rng.Intn(7); d > 0 {
			v += "." + fmt.Sprintf("%0*d", d, rng.Int63n(int64(pow10(d))))
		}
		if rng.Intn(4) == 0 {
			v = "-" + v
		}
		values = append(values, v)
	}
	for _, c := range []struct {
		name   string
		pool   *pgxpool.Pool
		decode func([]byte) (int64, error)
	}{{"binary", pool, source.CentsBinary}, {"text", simple, source.CentsText}} {
		type amount struct {
			raw  []byte
			want int64
		}
		var amounts []amount
		rows, err := c.pool.Query(ctx, "SELECT v::numeric, (v::numeric * 100)::bigint FROM unnest($1::text[]) v", values)
		require.NoError(t, err, c.name)
		_, err = pgx.ForEachRow(rows, []any{nil, new(int64)}, func() error {
			var want int64
			if err := rows.Scan(nil, &want); err != nil {
				return err
			}
			amounts = append(amounts, amount{append([]byte(nil), rows.RawValues()[0]...), want})
			return nil
		})
		require.NoError(t, err, c.name)
		require.Len(t, amounts, len(values))
		for i, a := range amounts {
			got, err := c.decode(a.raw)
			require.NoError(t, err, "%s: %s (%q)", c.name, values[i], a.raw)
			require.Equal(t, a.want, got, "%s: %s (%q)", c.name, values[i], a.raw)
		}

		rows, err = c.pool.Query(ctx, "SELECT v::numeric FROM unnest($1::text[]) v",
			[]string{"NaN", "Infinity", "-Infinity", "92233720368547758.08", "-92233720368547758.09", "1e30"})
		require.NoError(t, err, c.name)
		bad, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
			return append([]byte(nil), r.RawValues()[0]...), nil
		})
		require.NoError(t, err, c.name)
		for _, raw := range bad {
			_, err := c.decode(raw)
			require.Error(t, err, "%s %q", c.name, raw)
		}
	}
	_, err = source.CentsText([]byte("12a"))
	require.Error(t, err)
	_, err = source.CentsBinary([]byte{0, 1, 0})
	require.Error(t, err)
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
