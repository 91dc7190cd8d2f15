package whatsapp

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/wabridge/wabridge/bridge"
)

// Lenient JSON access for Meta's payloads. Meta adds fields and types
// without notice, so members are read one by one and a member of an
// unexpected shape is treated as absent instead of failing the whole
// payload. These map-based readers serve the Graph API responses (media.go);
// the webhook parser uses the single-pass readers of jsonview.go, which give
// the same answers without decoding every level into a map.

// object is a decoded JSON object whose members are still raw.
type object map[string]json.RawMessage

// asObject decodes raw as a JSON object; ok is false for anything else.
func asObject(raw json.RawMessage) (object, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, false
	}
	return o, true
}

// asArray decodes raw as a JSON array; ok is false for anything else.
func asArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		return nil, false
	}
	return a, true
}

// obj returns member key as an object (empty when absent or not an object).
func (o object) obj(key string) object {
	v, _ := asObject(o[key])
	return v
}

// arr returns member key as an array (nil when absent or not an array).
func (o object) arr(key string) []json.RawMessage {
	v, _ := asArray(o[key])
	return v
}

// str returns member key as a string; a number is returned as written;
// anything else is "".
func (o object) str(key string) string {
	raw := bytes.TrimSpace(o[key])
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// boolean returns member key when it is true (or the string "true").
func (o object) boolean(key string) bool {
	var b bool
	if json.Unmarshal(o[key], &b) == nil {
		return b
	}
	return o.str(key) == "true"
}

// num returns member key as a float (a number or a numeric string), 0 otherwise.
func (o object) num(key string) float64 {
	f, err := strconv.ParseFloat(o.str(key), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return f
}

// integer returns member key as an int (a number or a numeric string), 0 otherwise.
func (o object) integer(key string) int {
	f := o.num(key)
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

// maxUnix is 9999-12-31T23:59:59Z; later times do not marshal as JSON.
const maxUnix = 253402300799

// unixTime reads member key, unix seconds as a string ("1749416383", Meta's
// usual form) or a number; the zero time when absent, malformed or out of range.
func (o object) unixTime(key string) time.Time {
	f := o.num(key)
	if f <= 0 || f > maxUnix {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}

// plusDigits turns Meta's phone form ("16505551234", no plus) into E.164
// ("+16505551234"); other notations go through bridge.NormalizePhone; ""
// when s is empty or not a phone number.
func plusDigits(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	digits := strings.TrimPrefix(s, "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		return "+" + digits
	}
	return bridge.NormalizePhone(s)
}

// plusDigitsOf is plusDigits(v.str()): "+" and the digits of a string of
// digits in one step.
func plusDigitsOf(v jv) string {
	if b := v.b; len(b) > 2 && b[0] == '"' {
		inner := b[1 : len(b)-1]
		if digits(inner, 0) == len(inner) {
			out := make([]byte, 1+len(inner))
			out[0] = '+'
			copy(out[1:], inner)
			return unsafe.String(&out[0], len(out))
		}
	}
	return plusDigits(v.str())
}

// allDigits returns "+" and the digits of s, or "" when s has none; for the
// display phone number, which may be written with spaces or dashes.
func allDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "+" + b.String()
}
