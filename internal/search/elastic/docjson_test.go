package elastic_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/profile/profiletest"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

// TestAppendDocumentIsMarshal: for random profiles, AppendDocument
// writes, after what the buffer held, the bytes of json.Marshal of the
// Doc, members and their order included.
func TestAppendDocumentIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for range 10000 {
		p := profiletest.Profile(r)
		want, err := json.Marshal(elastic.Document(p))
		require.NoError(t, err)
		require.Equal(t, "{}\n"+string(want), string(elastic.AppendDocument([]byte("{}\n"), &p)))
	}
}

// TestAppendDocumentEmpty: the zero profile, with no tokens and no lists.
func TestAppendDocumentEmpty(t *testing.T) {
	var p profile.Profile
	want, err := json.Marshal(elastic.Document(p))
	require.NoError(t, err)
	require.Equal(t, string(want), string(elastic.AppendDocument(nil, &p)))
}

// BenchmarkAppendDocument compares AppendDocument, into a reused buffer,
// with json.Marshal of Document.
func BenchmarkAppendDocument(b *testing.B) {
	p := profiletest.Typical()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(elastic.Document(p)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendDocument", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = elastic.AppendDocument(buf[:0], &p)
		}
	})
}
