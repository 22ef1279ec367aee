package redact

import (
	"strings"
	"testing"
)

func TestURLNeverShowsThePassword(t *testing.T) {
	const secret = "s3cr3t"
	cases := map[string]string{
		"postgres://admin:s3cr3t@db:5432/x?sslmode=disable": "postgres://admin:xxxxx@db:5432/x?sslmode=disable",
		"mysql://admin:s3cr3t@host/x":                       "mysql://admin:xxxxx@host/x",
		"redis://:s3cr3t@127.0.0.1:6379/0":                  "redis://:xxxxx@127.0.0.1:6379/0",
		"http://elastic:s3cr3t@es:9200":                     "http://elastic:xxxxx@es:9200",
		"postgres://admin:s3cr3t@db:notaport/x":             "postgres://admin:xxxxx@db:notaport/x",
		"postgres://admin:s3@cr/3t@db/x":                    "postgres://admin:xxxxx@db/x",
		"postgres://db/x?user=a&password=s3cr3t":            "postgres://db/x?user=a&password=xxxxx",
		"host=db user=a password=s3cr3t":                    "host=db user=a password=xxxxx",
		"redis://127.0.0.1:6379/0":                          "redis://127.0.0.1:6379/0",
		"admin:s3cr3t@db":                                   "admin:xxxxx@db",
		"::":                                                "::",
	}
	for in, want := range cases {
		got := URL(in)
		if got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "3cr") {
			t.Errorf("URL(%q) = %q shows the secret %s", in, got, secret)
		}
	}
}
