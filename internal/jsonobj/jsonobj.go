// Package jsonobj reads the members of a JSON object without decoding
// them: where each key and value begins and ends, in one pass over the
// bytes. A document of which a caller needs a few fields (a snapshot's
// sort key, an export's columns) is read this way instead of being
// decoded whole; encoding/json then decodes only the few values picked.
package jsonobj

import "errors"

// ErrMalformed is the error of an object whose members cannot be found.
var ErrMalformed = errors.New("malformed JSON object")

// Members calls fn with the key (its bytes between the quotes, escapes
// left as they are) and the value (its JSON) of each member of the JSON
// object obj, in order, and returns ErrMalformed when obj is not an
// object. It finds where each value ends and checks no more: obj must be
// valid JSON (a decoded page's documents, a database's json column).
func Members(obj []byte, fn func(key, value []byte)) error {
	return each(obj, '{', '}', fn)
}

// Elements calls fn with each element (its JSON) of the JSON array arr,
// in order, and returns ErrMalformed when arr is not an array. Like
// Members, it checks no more than where each element ends.
func Elements(arr []byte, fn func(value []byte)) error {
	return each(arr, '[', ']', func(_, v []byte) { fn(v) })
}

// each walks the items of the container b opened by open and closed by
// close: members ("key": value) of an object, elements of an array.
func each(b []byte, open, close byte, fn func(key, value []byte)) error {
	i := space(b, 0)
	if i >= len(b) || b[i] != open {
		return ErrMalformed
	}
	i = space(b, i+1)
	if i < len(b) && b[i] == close {
		return nil
	}
	for {
		var key []byte
		if open == '{' {
			if i >= len(b) || b[i] != '"' {
				return ErrMalformed
			}
			end, ok := stringEnd(b, i)
			if !ok {
				return ErrMalformed
			}
			key = b[i+1 : end-1]
			if i = space(b, end); i >= len(b) || b[i] != ':' {
				return ErrMalformed
			}
			i = space(b, i+1)
		}
		end, ok := valueEnd(b, i)
		if !ok {
			return ErrMalformed
		}
		fn(key, b[i:end])
		if i = space(b, end); i >= len(b) {
			return ErrMalformed
		}
		switch b[i] {
		case ',':
			i = space(b, i+1)
		case close:
			return nil
		default:
			return ErrMalformed
		}
	}
}

// Pick returns a JSON object of the members of obj whose keys are in keys,
// in obj's order, for encoding/json to decode: it reads the other values'
// bytes only to step over them.
func Pick(obj []byte, keys []string) ([]byte, error) {
	out := append(make([]byte, 0, 256), '{')
	err := Members(obj, func(k, v []byte) {
		for _, want := range keys {
			if string(k) == want {
				if len(out) > 1 {
					out = append(out, ',')
				}
				out = append(append(append(append(out, '"'), k...), '"', ':'), v...)
				return
			}
		}
	})
	return append(out, '}'), err
}

// space returns the first index from i that is not JSON white space.
func space(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at b[i] ('"').
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// valueEnd returns the index after the JSON value that starts at b[i].
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := stringEnd(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j, j > i
}
