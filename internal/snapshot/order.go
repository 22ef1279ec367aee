package snapshot

import (
	"encoding/binary"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// A snapshot is read from an unordered scan, so its order is computed
// here rather than by the engine: every row is stored with its sort key,
// bytes whose byte-wise order (PostgreSQL's bytea comparison) is the
// search's order on both engines:
//
//	flag   0x00 when the customer has the sort value, 0x01 when not (no
//	       purchase, for lastPurchaseAt; no score): last in both directions
//	value  a number (a score: its segment.FloatKey) as 8 bytes big-endian
//	       with the sign bit flipped, or a name folded with profile.Fold (the engines' name.sort/name_key)
//	       and ended by 0x00; every byte complemented when descending
//	id     the customer id's bytes, ascending (the engines' tie-break,
//	       byte order like a keyword or COLLATE "C")
//
// Instants are cut to the millisecond, as both engines sort them.

// sortKey returns p's key in the order s (DefaultSort when zero).
func sortKey(s segment.Sort, p profile.Profile) []byte {
	s = s.OrDefault()
	key := make([]byte, 0, 1+9+len(p.CustomerID))
	var value []byte
	switch s.Field {
	case segment.SortLastPurchaseAt:
		if p.LastPurchaseAt != nil {
			value = number(p.LastPurchaseAt.UnixMilli())
		}
	case segment.SortTotalSpent:
		value = number(int64(p.TotalSpent))
	case segment.SortTotalPurchases:
		value = number(p.TotalPurchases)
	case segment.SortAverageTicket:
		value = number(int64(p.AverageTicket))
	case segment.SortName:
		value = append([]byte(profile.Fold(p.Name)), 0)
	case segment.SortPAlive:
		value = score(p.PAlive)
	case segment.SortExpectedPurchases90d:
		value = score(p.ExpectedPurchases90d)
	}
	if value == nil {
		key = append(key, 1)
	} else {
		if s.Desc {
			for i := range value {
				value[i] = ^value[i]
			}
		}
		key = append(append(key, 0), value...)
	}
	return append(key, p.CustomerID...)
}

// score encodes a score by its order-preserving key (segment.FloatKey,
// what the engines sort), nil when the customer has none.
func score(v *float64) []byte {
	if v == nil {
		return nil
	}
	return number(segment.FloatKey(*v))
}

// number encodes n so that byte order is numeric order.
func number(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n)^(1<<63))
}
