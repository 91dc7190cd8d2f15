package sms

import (
	"errors"
	"fmt"
	"time"
)

// ErrBadSMPPTime is wrapped by every ParseSMPPTime error.
var ErrBadSMPPTime = errors.New("sms: malformed SMPP time")

// ParseSMPPTime reads an SMPP 3.4 time (§7.1.1), as used by
// schedule_delivery_time and validity_period:
//
//   - absolute "YYMMDDhhmmsstnnp": local time in year 20YY, t tenths of a
//     second, nn the offset from UTC in quarter hours (00..48), p '+' when
//     local time is ahead of UTC or '-' when behind;
//   - relative "YYMMDDhhmmss000R": years, months, days, hours, minutes and
//     seconds added to now (calendar arithmetic in UTC). The "tnn" digits
//     should be 000 and are ignored. Relative fields are not range-checked
//     (e.g. 48 hours is fine).
//
// The result is in UTC. The empty string gives the zero time and no error
// (the field is not set). Malformed strings (length other than 16,
// non-digits, p not '+', '-' or 'R', out-of-range absolute fields) give an
// error wrapping ErrBadSMPPTime. The C-Octet String NUL must already be
// stripped.
func ParseSMPPTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != 16 {
		return time.Time{}, fmt.Errorf("%w: %q has length %d, want 16", ErrBadSMPPTime, s, len(s))
	}
	if !allDigits(s[:15]) {
		return time.Time{}, fmt.Errorf("%w: %q has a non-digit", ErrBadSMPPTime, s)
	}
	yy, mo, dd, hh, mi, ss := two(s, 0), two(s, 2), two(s, 4), two(s, 6), two(s, 8), two(s, 10)
	switch p := s[15]; p {
	case 'R':
		return now.UTC().AddDate(yy, mo, dd).Add(
			time.Duration(hh)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(ss)*time.Second), nil
	case '+', '-':
		tenths, nn := int(s[12]-'0'), two(s, 13)
		if nn > 48 {
			return time.Time{}, fmt.Errorf("%w: %q has UTC offset %d quarter hours", ErrBadSMPPTime, s, nn)
		}
		t, ok := civil(2000+yy, mo, dd, hh, mi, ss, tenths*int(100*time.Millisecond))
		if !ok {
			return time.Time{}, fmt.Errorf("%w: %q is not a valid date and time", ErrBadSMPPTime, s)
		}
		off := time.Duration(nn) * 15 * time.Minute
		if p == '-' {
			off = -off
		}
		return t.Add(-off), nil
	default:
		return time.Time{}, fmt.Errorf("%w: %q ends in %q, want '+', '-' or 'R'", ErrBadSMPPTime, s, p)
	}
}

// FormatSMPPTime renders t as an absolute SMPP time in UTC,
// "YYMMDDhhmmsst00+" (tenths truncated). Years outside 2000..2099 cannot
// be represented and are written modulo 100.
func FormatSMPPTime(t time.Time) string {
	t = t.UTC()
	var b [16]byte
	put := func(i, v int) { b[i], b[i+1] = byte('0'+v/10%10), byte('0'+v%10) }
	put(0, (t.Year()%100+100)%100)
	put(2, int(t.Month()))
	put(4, t.Day())
	put(6, t.Hour())
	put(8, t.Minute())
	put(10, t.Second())
	b[12] = byte('0' + t.Nanosecond()/int(100*time.Millisecond))
	b[13], b[14], b[15] = '0', '0', '+'
	return string(b[:])
}
