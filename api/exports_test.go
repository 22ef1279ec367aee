package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
)

// indexProfiles serves n customers, a third of them COMP002's.
func (b *testBundle) indexProfiles(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	docs := make([]profile.Profile, n)
	for i := range docs {
		docs[i] = profile.Profile{CustomerID: fmt.Sprintf("C%05d", i), CompanyID: "COMP001",
			Name: fmt.Sprintf("O'Brien, \"Toño\"\nJr. %d", i), Gender: "unknown"}
		if i%3 == 0 {
			docs[i].CompanyID = "COMP002"
		}
	}
	require.NoError(t, b.deps.Engine.CreateGeneration(ctx, "g1"))
	require.NoError(t, b.deps.Engine.Index(ctx, "g1", docs))
	_, err := b.deps.Engine.Count(ctx, "g1")
	require.NoError(t, err)
	require.NoError(t, b.deps.Engine.Promote(ctx, "g1"))
}

// runExport does what a worker does with an export's task.
func (b *testBundle) runExport(t *testing.T, id string) {
	t.Helper()
	_, err := b.deps.Jobs.Start(context.Background(), id)
	require.NoError(t, err)
	require.NoError(t, b.deps.Exports.Run(context.Background(), id))
}

// deleteExport deletes an export and returns its status afterwards.
func (b *testBundle) deleteExport(t *testing.T, id, key string) map[string]any {
	t.Helper()
	res, _ := b.do(t, "DELETE", "/api/v1/exports/"+id, key, nil)
	require.Equal(t, 204, res.StatusCode)
	res, body := b.do(t, "GET", "/api/v1/exports/"+id, key, nil)
	require.Equal(t, 200, res.StatusCode, body)
	return body
}

func (b *testBundle) raw(t *testing.T, method, path, key string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

func TestExportLifecycle(t *testing.T) {
	b := setup(t)
	b.indexProfiles(t, 300)
	comp1, comp2, admin := b.key(t, "COMP001"), b.key(t, "COMP002"), b.key(t, "")

	// A company key's filter is pinned to its company, whatever it says.
	res, body := b.do(t, "POST", "/api/v1/exports", comp1, map[string]any{
		"filter": map[string]any{"companyId": "COMP002"}, "format": "csv", "fields": []string{"customerId", "name"}, "excelBom": true})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["jobId"].(string)
	require.Equal(t, "/api/v1/exports/"+id, body["statusUrl"])
	require.Equal(t, "COMP001", body["job"].(map[string]any)["companyId"])

	res, body = b.do(t, "GET", "/api/v1/exports/"+id, comp1, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "queued", body["state"])
	require.Nil(t, body["downloadUrl"])
	res, body = b.do(t, "GET", "/api/v1/exports/"+id+"/download", comp1, nil)
	require.Equal(t, 409, res.StatusCode, body)

	b.runExport(t, id)
	res, body = b.do(t, "GET", "/api/v1/exports/"+id, comp1, nil)
	require.Equal(t, 200, res.StatusCode, body)
	require.Equal(t, "succeeded", body["state"])
	require.Equal(t, map[string]any{"rows": 200.0, "total": 200.0}, body["progress"])
	require.Equal(t, "csv", body["format"])
	require.Equal(t, []any{"customerId", "name"}, body["fields"])
	require.Equal(t, "/api/v1/exports/"+id+"/download", body["downloadUrl"])
	require.NotEmpty(t, body["expiresAt"])
	sum, size, name := body["sha256"].(string), int64(body["sizeBytes"].(float64)), body["fileName"].(string)
	require.Regexp(t, `^customers-COMP001-\d{4}-\d{2}-\d{2}-`+id[:8]+`\.csv\.gz$`, name)

	// Another company: 404 everywhere, as if the export did not exist.
	for _, method := range []string{"GET", "DELETE"} {
		res, body = b.do(t, method, "/api/v1/exports/"+id, comp2, nil)
		require.Equal(t, 404, res.StatusCode, "%s %v", method, body)
	}
	res, _ = b.raw(t, "GET", "/api/v1/exports/"+id+"/download", comp2)
	require.Equal(t, 404, res.StatusCode)
	// A job that is not an export is not an export.
	res, _ = b.do(t, "GET", "/api/v1/exports/"+refreshJob(t, b, comp1), comp1, nil)
	require.Equal(t, 404, res.StatusCode)

	res, file := b.raw(t, "GET", "/api/v1/exports/"+id+"/download", comp1)
	require.Equal(t, 200, res.StatusCode, string(file))
	require.Equal(t, "application/gzip", res.Header.Get("Content-Type"))
	require.Empty(t, res.Header.Get("Content-Encoding"), "the file is a .gz, not an encoded transfer")
	require.Equal(t, strconv.FormatInt(size, 10), res.Header.Get("Content-Length"))
	require.Equal(t, `"`+sum+`"`, res.Header.Get("ETag"))
	require.Equal(t, `attachment; filename=`+name, res.Header.Get("Content-Disposition"))
	got := sha256.Sum256(file)
	require.Equal(t, sum, hex.EncodeToString(got[:]))
	zr, err := gzip.NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, []byte{0xEF, 0xBB, 0xBF}, raw[:3])
	records, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 201)
	require.Equal(t, []string{"customerId", "name"}, records[0])
	require.Equal(t, []string{"C00001", "O'Brien, \"Toño\"\nJr. 1"}, records[1])

	res, file = b.raw(t, "GET", "/api/v1/exports/"+id+"/download", comp1, "If-None-Match", `"nope", "`+sum+`"`)
	require.Equal(t, 304, res.StatusCode)
	require.Empty(t, file)
	res, file = b.raw(t, "HEAD", "/api/v1/exports/"+id+"/download", comp1)
	require.Equal(t, 200, res.StatusCode)
	require.Empty(t, file)

	// The audit log is for admin keys.
	res, body = b.do(t, "GET", "/api/v1/exports/audit", comp1, nil)
	require.Equal(t, 403, res.StatusCode, body)
	res, body = b.do(t, "GET", "/api/v1/exports/audit?limit=10", admin, nil)
	require.Equal(t, 200, res.StatusCode, body)
	entries := body["entries"].([]any)
	require.Len(t, entries, 1)
	entry := entries[0].(map[string]any)
	require.Equal(t, id, entry["exportId"])
	require.Equal(t, 200.0, entry["rows"])
	require.Equal(t, float64(size), entry["bytes"])
	require.Equal(t, "succeeded", entry["state"])
	require.NotEmpty(t, entry["keyId"])
	res, body = b.do(t, "GET", "/api/v1/exports/audit?limit=0", admin, nil)
	require.Equal(t, 400, res.StatusCode, body)

	// Deleted: the job stays, the file goes.
	body = b.deleteExport(t, id, comp1)
	require.Equal(t, "succeeded", body["state"])
	require.Equal(t, true, body["deleted"])
	res, body = b.do(t, "GET", "/api/v1/exports/"+id+"/download", comp1, nil)
	require.Equal(t, 410, res.StatusCode, body)
	require.Equal(t, "https://reactivation.dev/problems/deleted", body["type"])
}

func TestExportExpires(t *testing.T) {
	b := setup(t)
	b.indexProfiles(t, 30)
	admin := b.key(t, "")
	res, body := b.do(t, "POST", "/api/v1/exports", admin, map[string]any{
		"filter": map[string]any{"companyId": "COMP002"}, "format": "ndjson"})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["jobId"].(string)
	require.Equal(t, "COMP002", body["job"].(map[string]any)["companyId"], "the job belongs to the filter's company")
	b.runExport(t, id)
	res, _ = b.raw(t, "GET", "/api/v1/exports/"+id+"/download", b.key(t, "COMP002"))
	require.Equal(t, 200, res.StatusCode)

	_, err := b.deps.DB.Exec(context.Background(), "UPDATE exports SET expires_at = now() WHERE job_id = $1", id)
	require.NoError(t, err)
	res, body = b.do(t, "GET", "/api/v1/exports/"+id+"/download", admin, nil)
	require.Equal(t, 410, res.StatusCode, body)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Equal(t, "https://reactivation.dev/problems/expired", body["type"])
	res, body = b.do(t, "GET", "/api/v1/exports/"+id, admin, nil)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, true, body["expired"])
	require.Nil(t, body["downloadUrl"])
}

func TestExportCancel(t *testing.T) {
	b := setup(t)
	key := b.key(t, "COMP001")
	res, body := b.do(t, "POST", "/api/v1/exports", key, map[string]any{})
	require.Equal(t, 202, res.StatusCode, body)
	id := body["jobId"].(string)
	body = b.deleteExport(t, id, key)
	require.Equal(t, "canceled", body["state"])
	require.Equal(t, false, body["deleted"])
	res, body = b.do(t, "GET", "/api/v1/exports/"+id+"/download", key, nil)
	require.Equal(t, 409, res.StatusCode, body)
}

func TestExportBadInputNamesTheField(t *testing.T) {
	b := setup(t)
	comp, admin := b.key(t, "COMP001"), b.key(t, "")
	cases := []struct {
		key, body, field string
	}{
		{comp, `{"format":"xlsx"}`, "format"},
		{comp, `{"format":3}`, "format"},
		{comp, `{"fields":["name","password"]}`, "fields[1]"},
		{comp, `{"fields":[]}`, "fields"},
		{comp, `{"fields":"name"}`, "fields"},
		{comp, `{"format":"ndjson","excelBom":true}`, "excelBom"},
		{comp, `{"filter":{"minTotalSpent":"lots"}}`, "filter.minTotalSpent"},
		{comp, `{"filter":{"colour":"red"}}`, "filter.colour"},
		{comp, `{"filter":[]}`, "filter"},
		{admin, `{"filter":{"city":"Cartago"}}`, "filter.companyId"},
		{comp, `{"extra":1}`, "extra"},
	}
	for _, c := range cases {
		res, body := b.do(t, "POST", "/api/v1/exports", c.key, c.body)
		require.Equal(t, 400, res.StatusCode, "%s: %v", c.body, body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Equal(t, c.field, body["errors"].([]any)[0].(map[string]any)["field"], c.body)
	}
}
