package source

import (
	"encoding/binary"
	"errors"
	"math"
)

// An invoice's amount arrives as the source's numeric and is made cents
// here, rounded half away from zero: what (amount * 100)::bigint gives in
// PostgreSQL, without its numeric multiply and cast per invoice (a
// quarter of the invoices' own scan in a shard's lines query).

var (
	errCentsMalformed = errors.New("invoice amount: malformed numeric")
	errCentsRange     = errors.New("invoice amount: not a finite number of cents within 64 bits")
)

// centsBinary decodes a numeric in PostgreSQL's binary form: a header of
// digit count, weight (of the first digit, in powers of 10000), sign and
// display scale, then the base-10000 digits.
func centsBinary(raw []byte) (int64, error) {
	if len(raw) < 8 {
		return 0, errCentsMalformed
	}
	n := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	if len(raw) != 8+2*n {
		return 0, errCentsMalformed
	}
	if sign != 0 && sign != 0x4000 { // NaN or an infinity
		return 0, errCentsRange
	}
	var cents uint64
	up := false
	for i := 0; i < n; i++ {
		d := uint64(binary.BigEndian.Uint16(raw[8+2*i:]))
		if d > 9999 {
			return 0, errCentsMalformed
		}
		switch p := weight - i; {
		case p >= 0: // a whole digit: d * 10000^p units, 100 cents each
			v := d * 100
			for range p {
				if v > math.MaxInt64/10000 {
					return 0, errCentsRange
				}
				v *= 10000
			}
			if cents > math.MaxInt64-v {
				return 0, errCentsRange
			}
			cents += v
		case p == -1: // the first four decimals: two of cents, two that round
			cents += d / 100
			up = d%100 >= 50
		}
		// Later digits cannot move the rounding: the third and fourth
		// decimals alone say whether the rest of a cent reaches a half.
	}
	return signed(cents, up, sign != 0)
}

// centsText decodes a numeric in its text form: an optional sign, digits
// and an optional fraction (the form numeric_out writes).
func centsText(raw []byte) (int64, error) {
	neg := false
	if len(raw) > 0 && (raw[0] == '-' || raw[0] == '+') {
		neg = raw[0] == '-'
		raw = raw[1:]
	}
	var cents uint64
	i, digits := 0, 0
	var err error
	for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
		if cents, err = times10(cents, raw[i]-'0'); err != nil {
			return 0, err
		}
		digits++
	}
	up := false
	if i < len(raw) && raw[i] == '.' {
		i++
		for k := 0; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i, k = i+1, k+1 {
			switch {
			case k < 2:
				if cents, err = times10(cents, raw[i]-'0'); err != nil {
					return 0, err
				}
			case k == 2:
				up = raw[i] >= '5'
			}
			digits++
		}
	}
	if i != len(raw) || digits == 0 {
		if string(raw) == "NaN" || string(raw) == "Infinity" {
			return 0, errCentsRange
		}
		return 0, errCentsMalformed
	}
	// Whole units were read as cents: scale those the fraction did not.
	for k := fractionDigits(raw); k < 2; k++ {
		if cents, err = times10(cents, 0); err != nil {
			return 0, err
		}
	}
	return signed(cents, up, neg)
}

// times10 is c*10 + d, or an error past math.MaxInt64.
func times10(c uint64, d byte) (uint64, error) {
	if c > (math.MaxInt64-uint64(d))/10 {
		return 0, errCentsRange
	}
	return c*10 + uint64(d), nil
}

// fractionDigits counts the digits after raw's decimal point.
func fractionDigits(raw []byte) int {
	for i, c := range raw {
		if c == '.' {
			return len(raw) - i - 1
		}
	}
	return 0
}

// signed applies the rounding (up: the rest of a cent is at least a half)
// and the sign.
func signed(cents uint64, up, neg bool) (int64, error) {
	if up {
		cents++
	}
	if cents > math.MaxInt64 {
		return 0, errCentsRange
	}
	if neg {
		return -int64(cents), nil
	}
	return int64(cents), nil
}
