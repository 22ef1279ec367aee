package api

import (
	"sync"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/segment"
)

// searchMemoSize bounds the memo: it is emptied when it holds this many.
const searchMemoSize = 4096

// searchMemoBody is the largest body the memo keeps.
const searchMemoBody = 2048

// searchMemo remembers the decoded search requests of recent bodies, by
// key scope and body: dashboards send the same searches again and again,
// and decoding and validating a body and encoding its cache keys were a
// quarter of a cached answer's CPU in the API (its profile under the
// search bench). Decoding is a pure function of the body and the key's
// scope, so a remembered request is the one decoding would give. Only
// valid requests are kept. Safe for concurrent use.
type searchMemo struct {
	mu sync.RWMutex
	m  map[string]decodedSearch
}

// decodedSearch is a search body decoded, scoped to its key's company,
// with its canonical cache-key parts. Shared: never modified.
type decodedSearch struct {
	req      segment.SearchRequest
	response string // the whole request, canonical
	total    string // the filter alone, canonical
}

// memoKey is the memo's key of body sent with k.
func memoKey(k auth.Key, body []byte) string {
	scope := "company:" + k.CompanyID
	if k.Admin {
		scope = "admin"
	}
	return scope + "\x00" + string(body)
}

func (m *searchMemo) get(key string) (decodedSearch, bool) {
	m.mu.RLock()
	d, ok := m.m[key]
	m.mu.RUnlock()
	return d, ok
}

func (m *searchMemo) put(key string, d decodedSearch) {
	if len(key) > searchMemoBody+64 {
		return
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= searchMemoSize {
		m.m = make(map[string]decodedSearch, searchMemoSize)
	}
	m.m[key] = d
	m.mu.Unlock()
}
