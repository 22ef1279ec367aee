package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
)

// The indexing half of Engine: generations are physical indexes named
// <alias>_<generation>; the alias points at the serving one.

// index returns the physical index of generation gen.
func (e *Engine) index(gen string) string { return e.alias + "_" + gen }

var generationName = regexp.MustCompile(`^[0-9]{8}t[0-9]{6}_[0-9a-f]{6}$`)

// LoadIndexBody is IndexBody with the settings of an index being filled:
// no refresh, no replicas, and a translog synced in the background (a
// crash mid-run loses nothing that matters: the run is redone).
func LoadIndexBody() []byte {
	var body map[string]any
	if err := json.Unmarshal(IndexBody(), &body); err != nil {
		panic(err) // IndexBody is ours and valid
	}
	settings := body["settings"].(map[string]any)
	settings["refresh_interval"] = "-1"
	settings["number_of_replicas"] = 0
	settings["translog"] = map[string]any{"durability": "async", "flush_threshold_size": "1gb"}
	b, _ := json.Marshal(body)
	return b
}

// servingSettings undoes LoadIndexBody's load settings, with replicas.
func servingSettings(replicas int) string {
	return fmt.Sprintf(`{"index":{"refresh_interval":null,"number_of_replicas":%d,"translog.durability":"request","translog.flush_threshold_size":null}}`, replicas)
}

// CreateGeneration creates the generation's index with load settings (see
// LoadIndexBody). An existing index is a Conflict.
func (e *Engine) CreateGeneration(ctx context.Context, gen string) error {
	b := LoadIndexBody()
	res, err := e.client.Indices.Create(e.index(gen), e.client.Indices.Create.WithBody(bytes.NewReader(b)),
		e.client.Indices.Create.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		msg := readError(res)
		if strings.Contains(msg, "resource_already_exists_exception") {
			return errs.E(errs.Conflict, "index %s exists", e.index(gen))
		}
		return fmt.Errorf("create index %s: %s", e.index(gen), msg)
	}
	return nil
}

// Index writes docs into generation gen, each unless the generation holds
// a newer version of the customer. They become visible at the
// generation's next refresh (Count and Promote refresh).
func (e *Engine) Index(ctx context.Context, gen string, docs []profile.Profile) error {
	return e.bulk(ctx, e.index(gen), indexItems(docs), "")
}

// Upsert writes docs into the serving generation through the alias, each
// unless the index holds a newer version of the customer or a newer
// delete of it. It returns once searches see the writes
// (refresh=wait_for), so a cache told of the change afterwards never
// stores an answer computed before it.
func (e *Engine) Upsert(ctx context.Context, docs []profile.Profile) error {
	return e.bulk(ctx, e.alias, indexItems(docs), "wait_for")
}

// Delete removes the customers' documents from the serving generation
// with versioned deletes: the engine keeps each delete's version for
// index.gc_deletes (search.TombstoneRetention), so an older write arriving
// later loses.
func (e *Engine) Delete(ctx context.Context, tombs []search.Tombstone) error {
	items := make([]item, len(tombs))
	for i, t := range tombs {
		items[i] = item{action: "delete", id: t.CustomerID, routing: t.CompanyID, version: t.Version}
	}
	return e.bulk(ctx, e.alias, items, "wait_for")
}

// item is one bulk operation, versioned externally: the engine applies it
// only if its version is at least the document's (external_gte).
type item struct {
	action      string
	id, routing string
	version     int64
	doc         *profile.Profile // index only
}

func indexItems(docs []profile.Profile) []item {
	items := make([]item, len(docs))
	for i := range docs {
		p := &docs[i]
		items[i] = item{action: "index", id: p.CustomerID, routing: Routing(*p), version: p.SourceVersion, doc: p}
	}
	return items
}

// retryable statuses of a bulk item: the engine is busy or a shard is
// briefly unavailable; the item is sent again.
func retryable(status int) bool { return status == 429 || status >= 500 }

// settled statuses of a bulk item that did not apply and need not: a
// newer version is there already (409), or there was nothing to delete
// (404, the tombstone is kept all the same).
func settled(action string, status int) bool {
	return status == http.StatusConflict || (action == "delete" && status == http.StatusNotFound)
}

// Count refreshes generation gen and counts its documents.
func (e *Engine) Count(ctx context.Context, gen string) (int64, error) {
	if err := e.refresh(ctx, e.index(gen)); err != nil {
		return 0, err
	}
	res, err := e.client.Count(e.client.Count.WithIndex(e.index(gen)), e.client.Count.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return 0, fmt.Errorf("count %s: %s", e.index(gen), readError(res))
	}
	var out struct {
		Count int64 `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return out.Count, nil
}

func (e *Engine) refresh(ctx context.Context, index string) error {
	res, err := e.client.Indices.Refresh(e.client.Indices.Refresh.WithIndex(index), e.client.Indices.Refresh.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("refresh %s: %s", index, readError(res))
	}
	return nil
}

// Promote restores serving settings on gen, points the alias at it in one
// atomic request, and drops every older generation.
func (e *Engine) Promote(ctx context.Context, gen string) error {
	idx := e.index(gen)
	replicas, err := e.servingReplicas(ctx)
	if err != nil {
		return err
	}
	res, err := e.client.Indices.PutSettings(strings.NewReader(servingSettings(replicas)), e.client.Indices.PutSettings.WithIndex(idx),
		e.client.Indices.PutSettings.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("restore settings: %w", err)
	}
	if err := checkClose(res); err != nil {
		return fmt.Errorf("restore settings of %s: %w", idx, err)
	}
	if err := e.refresh(ctx, idx); err != nil {
		return err
	}
	current, err := e.aliasIndexes(ctx)
	if err != nil {
		return err
	}
	actions := []map[string]any{}
	for _, old := range current {
		if old != idx {
			actions = append(actions, map[string]any{"remove": map[string]any{"index": old, "alias": e.alias}})
		}
	}
	actions = append(actions, map[string]any{"add": map[string]any{"index": idx, "alias": e.alias}})
	b, _ := json.Marshal(map[string]any{"actions": actions})
	res, err = e.client.Indices.UpdateAliases(bytes.NewReader(b), e.client.Indices.UpdateAliases.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("swap alias: %w", err)
	}
	if err := checkClose(res); err != nil {
		return fmt.Errorf("swap alias %s to %s: %w", e.alias, idx, err)
	}
	gens, err := e.generations(ctx)
	if err != nil {
		return err
	}
	for _, g := range gens {
		if g != gen {
			if err := e.DropGeneration(ctx, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// Current returns the generation the alias points at, "" when none.
func (e *Engine) Current(ctx context.Context) (string, error) {
	idx, err := e.aliasIndexes(ctx)
	if err != nil || len(idx) == 0 {
		return "", err
	}
	return strings.TrimPrefix(idx[0], e.alias+"_"), nil
}

// DropGeneration deletes generation gen; a missing one is not an error.
func (e *Engine) DropGeneration(ctx context.Context, gen string) error {
	res, err := e.client.Indices.Delete([]string{e.index(gen)}, e.client.Indices.Delete.WithContext(ctx),
		e.client.Indices.Delete.WithIgnoreUnavailable(true))
	if err != nil {
		return fmt.Errorf("drop generation: %w", err)
	}
	if res.StatusCode == http.StatusNotFound {
		res.Body.Close()
		return nil
	}
	return checkClose(res)
}

// aliasIndexes lists the indexes the alias points at.
func (e *Engine) aliasIndexes(ctx context.Context) ([]string, error) {
	res, err := e.client.Indices.GetAlias(e.client.Indices.GetAlias.WithName(e.alias), e.client.Indices.GetAlias.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("get alias: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if res.IsError() {
		return nil, fmt.Errorf("get alias %s: %s", e.alias, readError(res))
	}
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, err
	}
	var names []string
	for name := range out {
		names = append(names, name)
	}
	return names, nil
}

// generations lists the generations that exist for the alias.
func (e *Engine) generations(ctx context.Context) ([]string, error) {
	res, err := e.client.Indices.Get([]string{e.alias + "_*"}, e.client.Indices.Get.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list generations: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return nil, fmt.Errorf("list generations: %s", readError(res))
	}
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, err
	}
	var gens []string
	for name := range out {
		if g := strings.TrimPrefix(name, e.alias+"_"); generationName.MatchString(g) {
			gens = append(gens, g)
		}
	}
	return gens, nil
}

func checkClose(res *esapi.Response) error {
	defer res.Body.Close()
	if res.IsError() {
		return errors.New(readError(res))
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return nil
}

func readError(res *esapi.Response) string {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	return fmt.Sprintf("%s: %s", res.Status(), strings.TrimSpace(string(b)))
}
