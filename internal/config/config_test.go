package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.IndexAlias != "customers" || c.BusinessTimezone != "America/Costa_Rica" || c.APIAddr != ":8080" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.IndexReplicas != -1 {
		t.Fatalf("INDEX_REPLICAS should default to -1 (decided by the cluster), got %d", c.IndexReplicas)
	}
	if c.SourceDatabaseURL != c.DatabaseURL {
		t.Fatalf("SOURCE_DATABASE_URL should default to DATABASE_URL")
	}
	if c.Location == nil || c.Location.String() != "America/Costa_Rica" {
		t.Fatalf("location not loaded: %v", c.Location)
	}
}

func TestLoadRejectsBadValuesNamingTheVariable(t *testing.T) {
	cases := map[string]string{
		"REDIS_URL":              "nonsense",
		"DATABASE_URL":           "mysql://x/y",
		"SOURCE_DATABASE_URL":    "::",
		"ELASTICSEARCH_URL":      "ftp://x",
		"SEARCH_FLAVOR":          "solr",
		"INDEX_ALIAS":            "Customers",
		"BUSINESS_TIMEZONE":      "Mars/Olympus",
		"API_ADDR":               "8080",
		"WORKER_CONCURRENCY":     "0",
		"WORKER_POLL_INTERVAL":   "0s",
		"WORKER_QUEUES":          "sync:1",
		"SYNC_FULL_CRON":         "every night",
		"SYNC_INCREMENTAL_EVERY": "soon",
		"RATE_LIMIT_BURST":       "-1",
		"LOG_LEVEL":              "loud",
		"INDEX_REPLICAS":         "-2",
		"SCAN_SLICES":            "0",
		"ID_CHUNK":               "-1",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := Load()
			if err == nil {
				t.Fatalf("%s=%q accepted", name, value)
			}
			if !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error should be one line naming %s, got %q", name, err)
			}
		})
	}
}

func TestQueues(t *testing.T) {
	c := Defaults()
	c.WorkerQueues = "critical:5, sync:2,default:1,export:1"
	q, err := c.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if q["critical"] != 5 || q["sync"] != 2 || len(q) != 4 {
		t.Fatalf("queues = %v", q)
	}
	c.SyncIncrementalEvery = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "SYNC_INCREMENTAL_EVERY") {
		t.Fatalf("zero duration accepted: %v", err)
	}
	c.SyncIncrementalEvery = time.Minute
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// urlVariables lists every variable of Config whose name ends in _URL.
func urlVariables(t *testing.T) []string {
	t.Helper()
	var out []string
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		if name := typ.Field(i).Tag.Get("env"); strings.HasSuffix(name, "_URL") {
			out = append(out, name)
		}
	}
	if len(out) < 4 {
		t.Fatalf("found only %v", out)
	}
	return out
}

// badURLsWithASecret are values no URL variable accepts, each holding the
// password "s3cr3t-pw": a wrong scheme, an unparseable port, an unescaped
// '@' in the password, a DSN instead of a URL.
var badURLsWithASecret = []string{
	"mysql://admin:s3cr3t-pw@db.internal/x",
	"ftp://admin:s3cr3t-pw@db.internal:notaport/x",
	"admin:s3cr3t-pw@db.internal",
	"host=db.internal user=admin password=s3cr3t-pw",
	"postgres://admin:s3cr@t-pw@/x",
}

func TestURLErrorsNameTheVariableAndHideThePassword(t *testing.T) {
	for _, name := range urlVariables(t) {
		for _, value := range badURLsWithASecret {
			t.Run(name+"="+value, func(t *testing.T) {
				t.Setenv(name, value)
				_, err := Load()
				if err == nil {
					t.Fatalf("%s=%q accepted", name, value)
				}
				msg := err.Error()
				if !strings.Contains(msg, name) || strings.Contains(msg, "\n") {
					t.Fatalf("error should be one line naming %s, got %q", name, msg)
				}
				if strings.Contains(msg, "s3cr") || strings.Contains(msg, "t-pw") {
					t.Fatalf("error shows the password: %q", msg)
				}
			})
		}
	}
}
