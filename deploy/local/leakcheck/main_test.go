package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeakcheckReportsEveryKindRedacted: a directory of captured output
// with an e-mail, a demo phone number, an API key and the passwords of
// DATABASE_URL and REDIS_PASSWORD is reported line by line, exit 1, and
// no reported line contains what it found; clean output exits 0.
func TestLeakcheckReportsEveryKindRedacted(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	const (
		email = "maria.solis@example.cr"
		phone = "+506 8123 4567"
		key   = "rk_Ab12Cd_0123456789abcdefghijklmn"
		dbPw  = "pg-S3cret"
		rPw   = "redis-S3cret"
	)
	write("api.stderr", `{"level":"info","msg":"request","route":"/api/v1/exports","status":202}`+"\n"+
		`{"level":"warn","msg":"bad row","email":"`+email+`"}`+"\n")
	write("nested/worker.stdout", "ok\nphone "+phone+" and +50688880000\n")
	write("cli.stderr", "using key "+key+"\nconnect postgres://app:"+dbPw+"@db/x failed\nauth "+rPw+"\npassword "+dbPw+"\n"+
		"config: DATABASE_URL: not a URL: \"http://admin:xxxxx@db.internal:port/\"\nreactivation migrate: done\n")
	env := map[string]string{
		"DATABASE_URL":   "postgres://app:" + dbPw + "@db.internal:5432/reactivation",
		"REDIS_PASSWORD": rPw,
		"REDIS_URL":      "redis://127.0.0.1:6379/0",
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{dir}, func(k string) string { return env[k] }, &stdout, &stderr)
	require.Equal(t, 1, code, stderr.String())
	out := stdout.String()
	for _, want := range []string{
		filepath.Join(dir, "api.stderr") + ":2: e-mail address",
		filepath.Join(dir, "nested/worker.stdout") + ":2: phone number",
		filepath.Join(dir, "cli.stderr") + ":1: API key",
		filepath.Join(dir, "cli.stderr") + ":2: password in a URL: postgres://app:xxxxx@",
		filepath.Join(dir, "cli.stderr") + ":3: REDIS_PASSWORD",
		filepath.Join(dir, "cli.stderr") + ":4: the password of DATABASE_URL",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "cli.stderr:5", "a masked URL is neither a leak nor an e-mail address")
	require.Equal(t, 7, strings.Count(out, "\n"), "nothing else: %s", out)
	require.Equal(t, 2, strings.Count(out, "phone number"), "both formats")
	for _, leaked := range []string{email, phone, "+50688880000", key, dbPw, rPw, "maria"} {
		require.NotContains(t, out+stderr.String(), leaked, "the report never repeats a leak")
	}

	// --allow accepts a fixture's address; clean output exits 0.
	clean := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(clean, "api.stderr"), []byte("contact ops@reactivation.test\nrows 2000 1000\n"), 0o644))
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"--allow", `@reactivation\.test$`, clean}, func(k string) string { return env[k] }, &stdout, &stderr)
	require.Equal(t, 0, code, stdout.String())
	require.Empty(t, stdout.String())

	// A development password that is a common word ("reactivation") is
	// looked for only as a URL's password, and said so.
	stdout.Reset()
	stderr.Reset()
	dev := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dev, "cli.stderr"), []byte("reactivation migrate: done\n"), 0o644))
	weak := map[string]string{"DATABASE_URL": "postgres://reactivation:reactivation@127.0.0.1/reactivation"}
	code = run([]string{dev}, func(k string) string { return weak[k] }, &stdout, &stderr)
	require.Equal(t, 0, code, stdout.String())
	require.Contains(t, stderr.String(), "the password of DATABASE_URL: too common a word")

	require.Equal(t, 2, run(nil, func(string) string { return "" }, &stdout, &stderr), "no directory is a usage error")
}
