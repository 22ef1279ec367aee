package elastic

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/errs"
)

// TestBulkResultsReadEachItem: a filtered answer is read item by item,
// in request order, when the engine says some failed: 409 and a delete's
// 404 are settled, 429 and 5xx are sent again, anything else rejects the
// call naming the customer.
func TestBulkResultsReadEachItem(t *testing.T) {
	items := []item{{action: "index", id: "a"}, {action: "index", id: "b"}, {action: "delete", id: "c"},
		{action: "index", id: "d"}, {action: "index", id: "e"}}
	retry, err := bulkResults([]byte(`{"errors":false}`), items)
	require.NoError(t, err)
	require.Empty(t, retry)

	answer := `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"x"}}},
		{"delete":{"status":404}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}},{"index":{"status":503}}]}`
	retry, err = bulkResults([]byte(answer), items)
	require.NoError(t, err)
	require.Equal(t, []item{items[3], items[4]}, retry)

	answer = `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}},
		{"delete":{"status":200}},{"index":{"status":429}},{"index":{"status":201}}]}`
	_, err = bulkResults([]byte(answer), items)
	require.True(t, errs.Is(err, errs.Invalid))
	require.Contains(t, err.Error(), "customer b rejected by the search engine: mapper_parsing_exception: bad")

	_, err = bulkResults([]byte(`{"errors":true,"items":[{"index":{"status":201}}]}`), items)
	require.ErrorContains(t, err, "1 results for 5 items")
}
