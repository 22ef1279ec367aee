package jsonobj_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jsonobj"
)

// TestMembersAreEncodingJSONs: on random objects (nested arrays and
// objects, strings with every escape and brackets inside, numbers,
// literals, white space or none), each member's key and value are what
// encoding/json reads, in order.
func TestMembersAreEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 3000 {
		obj := randomObject(r, 0)
		for _, b := range [][]byte{mustMarshal(t, obj), mustIndent(t, obj)} {
			var want map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &want))
			got := map[string]json.RawMessage{}
			require.NoError(t, jsonobj.Members(b, func(k, v []byte) {
				var key string // the key's bytes as written, escapes and all
				require.NoError(t, json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &key))
				got[key] = append([]byte(nil), v...)
			}), "object %d", i)
			require.Len(t, got, len(want))
			for k, v := range want {
				require.JSONEq(t, string(v), string(got[k]), "object %d key %q", i, k)
			}
		}
	}
}

// TestElements: each element of random arrays is what encoding/json
// reads, in order; what is not an array is ErrMalformed.
func TestElements(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for i := range 1000 {
		arr := make([]any, r.IntN(5))
		for j := range arr {
			arr[j] = randomValue(r, 0)
		}
		for _, b := range [][]byte{mustMarshal(t, arr), mustIndent(t, arr)} {
			var want []json.RawMessage
			require.NoError(t, json.Unmarshal(b, &want))
			var got [][]byte
			require.NoError(t, jsonobj.Elements(b, func(v []byte) { got = append(got, v) }), "array %d", i)
			require.Len(t, got, len(want))
			for j := range want {
				require.JSONEq(t, string(want[j]), string(got[j]), "array %d element %d", i, j)
			}
		}
	}
	for _, src := range []string{``, `{}`, `[`, `[1,`, `[1 2]`, `[1,]`} {
		require.ErrorIs(t, jsonobj.Elements([]byte(src), func([]byte) {}), jsonobj.ErrMalformed, src)
	}
}

// TestPick: the members named, in the object's order, as an object
// encoding/json decodes; the others stepped over.
func TestPick(t *testing.T) {
	obj := []byte(`{"a": [1, {"b": "}]"}], "name": "x\"y", "n" : 7, "skip": {"name": "inner"}, "t": true}`)
	got, err := jsonobj.Pick(obj, []string{"t", "name", "n", "missing"})
	require.NoError(t, err)
	require.Equal(t, `{"name":"x\"y","n":7,"t":true}`, string(got))
	var v struct {
		Name string
		N    int
		T    bool
	}
	require.NoError(t, json.Unmarshal(got, &v))
	require.Equal(t, "x\"y", v.Name)
}

// TestMalformed: what is not an object, or ends early, is ErrMalformed.
func TestMalformed(t *testing.T) {
	for _, src := range []string{``, ` `, `[]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":"b`, `{"a":[1,2`, `{"a":1 "b":2}`, `{"a":1,}`, `{a:1}`} {
		err := jsonobj.Members([]byte(src), func(k, v []byte) {})
		require.ErrorIs(t, err, jsonobj.ErrMalformed, src)
	}
	require.NoError(t, jsonobj.Members([]byte(` { } `), func(k, v []byte) { t.Fatal("no member") }))
}

var pieces = []string{"", "a", `q"uote`, `back\slash`, "}", "]", "{[", "\n\t", "é🍕", "\u2028", `\"`, ",:"}

func randomObject(r *rand.Rand, depth int) map[string]any {
	obj := map[string]any{}
	for range r.IntN(6) {
		obj[pieces[r.IntN(len(pieces))]+strings.Repeat("k", r.IntN(3))] = randomValue(r, depth)
	}
	return obj
}

func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(7); {
	case n == 0 && depth < 3:
		return randomObject(r, depth+1)
	case n == 1 && depth < 3:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomValue(r, depth+1)
		}
		return a
	case n == 2:
		return r.NormFloat64() * 1e6
	case n == 3:
		return r.IntN(2) == 0
	case n == 4:
		return nil
	default:
		return pieces[r.IntN(len(pieces))] + pieces[r.IntN(len(pieces))]
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func mustIndent(t *testing.T, v any) []byte {
	b, err := json.MarshalIndent(v, " ", "\t ")
	require.NoError(t, err)
	return b
}
