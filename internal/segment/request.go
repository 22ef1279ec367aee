package segment

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
)

// Page sizes of a synchronous search.
const (
	DefaultSize = 20
	MaxSize     = 100
)

// SearchRequest is the body of a synchronous search: the filter's fields at
// the top level, as the seed's clients send them, beside sort, size and
// cursor.
type SearchRequest struct {
	Filter Filter
	Sort   Sort
	// Size is 1..MaxSize; DefaultSize when absent.
	Size int
	// Cursor is the nextCursor of the previous page, "" for the first.
	Cursor string
}

// DecodeSearchRequest reads a synchronous search body strictly, like
// Decode, with "sort" (see ParseSort), "size" and "cursor" beside the
// filter fields. The filter comes back normalised.
func DecodeSearchRequest(data []byte) (SearchRequest, error) {
	fields, err := decodeObject(data)
	if err != nil {
		return SearchRequest{}, err
	}
	req := SearchRequest{Sort: DefaultSort, Size: DefaultSize}
	var p problems
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		if !slices.Contains([]string{"sort", "size", "cursor"}, name) {
			decodeFilterField(&req.Filter, name, raw, &p)
			continue
		}
		if string(raw) == "null" {
			continue
		}
		if msg := req.decodeOption(name, raw); msg != "" {
			p.add(name, "%s", msg)
		}
	}
	f, err := req.Filter.Normalize()
	p = append(p, validationErrors(err)...)
	if req.Size < 1 || req.Size > MaxSize {
		p.add("size", "must be between 1 and %d", MaxSize)
	}
	badSort := slices.ContainsFunc(p, func(fe FieldError) bool { return fe.Field == "sort" })
	if req.Cursor != "" && !badSort {
		if _, err := DecodeCursor(req.Cursor, req.Sort); err != nil {
			p = append(p, validationErrors(err)...)
		}
	}
	if len(p) > 0 {
		return SearchRequest{}, p.err()
	}
	req.Filter = f
	return req, nil
}

// decodeOption decodes sort, size or cursor into r.
func (r *SearchRequest) decodeOption(name string, raw json.RawMessage) string {
	switch name {
	case "size":
		v, msg := decodeInt(raw)
		if msg == "" {
			r.Size = int(max(min(v, MaxSize+1), 0))
		}
		return msg
	case "cursor":
		v, msg := decodeString(raw)
		r.Cursor = v
		return msg
	}
	v, msg := decodeString(raw)
	if msg != "" {
		return msg
	}
	s, err := ParseSort(v)
	if err != nil {
		return validationErrors(err)[0].Message
	}
	r.Sort = s
	return ""
}

// Canonical is a stable encoding of the request, for cache keys; the
// filter must be normalised (as DecodeSearchRequest leaves it).
func (r SearchRequest) Canonical() []byte {
	b, _ := json.Marshal(struct {
		Filter json.RawMessage `json:"filter"`
		Sort   string          `json:"sort"`
		Size   int             `json:"size"`
		Cursor string          `json:"cursor"`
	}{r.Filter.Canonical(), r.Sort.String(), r.Size, r.Cursor})
	return b
}

// validationErrors returns the field errors of err, a *ValidationError or
// nil.
func validationErrors(err error) []FieldError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Errors
	}
	return nil
}
