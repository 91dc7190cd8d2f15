package sms

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Delivery receipt stat values (SMPP 3.4 Appendix B, Table B-2).
const (
	StatEnroute       = "ENROUTE"
	StatDelivered     = "DELIVRD"
	StatExpired       = "EXPIRED"
	StatDeleted       = "DELETED"
	StatUndeliverable = "UNDELIV"
	StatAccepted      = "ACCEPTD"
	StatUnknown       = "UNKNOWN"
	StatRejected      = "REJECTD"
)

// SMPP 3.4 message_state values (§5.2.28), as sent in the message_state
// TLV (0x0427) of a receipt and in query_sm_resp.
const (
	StateEnroute       byte = 1
	StateDelivered     byte = 2
	StateExpired       byte = 3
	StateDeleted       byte = 4
	StateUndeliverable byte = 5
	StateAccepted      byte = 6
	StateUnknown       byte = 7
	StateRejected      byte = 8
)

// MessageState maps a stat word to its SMPP message_state, ignoring case.
// Besides the eight SMPP 3.4 words it accepts the spelled-out forms some
// SMSCs send (DELIVERED, UNDELIVERABLE, ACCEPTED, REJECTED) and maps FAILED
// to UNDELIVERABLE; anything else is StateUnknown.
func MessageState(stat string) byte {
	for _, m := range stateWords {
		if strings.EqualFold(stat, m.word) {
			return m.state
		}
	}
	return StateUnknown
}

var stateWords = [...]struct {
	word  string
	state byte
}{
	{StatDelivered, StateDelivered},
	{StatUndeliverable, StateUndeliverable},
	{StatEnroute, StateEnroute},
	{StatExpired, StateExpired},
	{StatDeleted, StateDeleted},
	{StatAccepted, StateAccepted},
	{StatUnknown, StateUnknown},
	{StatRejected, StateRejected},
	{"DELIVERED", StateDelivered},
	{"UNDELIVERABLE", StateUndeliverable},
	{"ACCEPTED", StateAccepted},
	{"REJECTED", StateRejected},
	{"FAILED", StateUndeliverable},
}

// Receipt is the content of a delivery receipt text.
type Receipt struct {
	ID     string    // message id, as returned in submit_sm_resp
	Sub    int       // messages submitted
	Dlvrd  int       // messages delivered
	Submit time.Time // submit date
	Done   time.Time // done date
	Stat   string    // final (or intermediate) state word, e.g. StatDelivered
	Err    string    // network/SMSC specific error code
	Text   string    // first characters of the message
}

// receiptTextLen is how many characters of the message a receipt carries.
const receiptTextLen = 20

// FormatReceipt renders r in the SMPP 3.4 Appendix B layout:
//
//	id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:<text>
//
// Sub and Dlvrd are written as 3 zero-padded digits (clamped to 0..999).
// Dates are written in the time's own location; a zero time is written as
// 0000000000. An empty Stat is written as UNKNOWN. Err is written as given,
// except that an empty one is 000 and a shorter all-digit one is zero-padded
// to 3 digits. Text is cut to its first 20 characters and every control
// character (newlines included) becomes a space. ID, Stat and Err must not
// contain white space, or ParseReceipt cannot read them back.
func FormatReceipt(r Receipt) string {
	var sb strings.Builder
	sb.Grow(110 + len(r.ID) + len(r.Stat) + len(r.Err) + 4*receiptTextLen)
	sb.WriteString("id:")
	sb.WriteString(r.ID)
	sb.WriteString(" sub:")
	write3(&sb, r.Sub)
	sb.WriteString(" dlvrd:")
	write3(&sb, r.Dlvrd)
	sb.WriteString(" submit date:")
	writeReceiptDate(&sb, r.Submit)
	sb.WriteString(" done date:")
	writeReceiptDate(&sb, r.Done)
	sb.WriteString(" stat:")
	if r.Stat == "" {
		sb.WriteString(StatUnknown)
	} else {
		sb.WriteString(r.Stat)
	}
	sb.WriteString(" err:")
	if r.Err == "" || len(r.Err) < 3 && allDigits(r.Err) {
		sb.WriteString("000"[len(r.Err):])
	}
	sb.WriteString(r.Err)
	sb.WriteString(" text:")
	n := 0
	for _, c := range r.Text {
		if n == receiptTextLen {
			break
		}
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
			c = ' '
		}
		sb.WriteRune(c)
		n++
	}
	return sb.String()
}

func write3(sb *strings.Builder, n int) {
	n = max(0, min(n, 999))
	sb.WriteByte(byte('0' + n/100))
	sb.WriteByte(byte('0' + n/10%10))
	sb.WriteByte(byte('0' + n%10))
}

func writeReceiptDate(sb *strings.Builder, t time.Time) {
	if t.IsZero() {
		sb.WriteString("0000000000")
		return
	}
	var buf [10]byte
	sb.Write(t.AppendFormat(buf[:0], "0601021504"))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Receipt fields, in the order ParseReceipt records them.
const (
	rfID = iota
	rfSub
	rfDlvrd
	rfSubmit
	rfDone
	rfStat
	rfErr
	rfText
	rfCount
)

// receiptKeys are the field labels ParseReceipt recognises (compared
// ignoring case), colon included.
var receiptKeys = [...]struct {
	key   string
	field int
}{
	{"id:", rfID},
	{"sub:", rfSub},
	{"dlvrd:", rfDlvrd},
	{"submit date:", rfSubmit},
	{"submit_date:", rfSubmit},
	{"submitdate:", rfSubmit},
	{"done date:", rfDone},
	{"done_date:", rfDone},
	{"donedate:", rfDone},
	{"stat:", rfStat},
	{"err:", rfErr},
	{"text:", rfText},
}

// ParseReceipt reads a delivery receipt text as real SMSCs send it
// (SMPP 3.4 Appendix B is only a suggestion):
//
//   - labels are matched ignoring case ("Text:", "ID:"), at the start or
//     after white space, ',' or ';'; "submit_date:" / "done_date:" are
//     accepted too; unknown labels are ignored;
//   - fields may come in any order; the first occurrence of a label wins, so
//     a later "stat:" inside the text stays text;
//   - a field's value ends where the next recognised label starts; for every
//     field but text it is the first word of that (white space, ',' and ';'
//     end a word), text is the whole trimmed value;
//   - ids are kept verbatim (hex, decimal, UUID, ...); Stat is upper-cased
//     (ASCII); sub and dlvrd are decimal (0 when unreadable); dates may have
//     10 (YYMMDDhhmm) or 12 (YYMMDDhhmmss) digits, are read as UTC in
//     20YY, and are zero when missing or unreadable;
//   - missing fields stay zero; trailing NULs are ignored.
//
// ok is false when neither an id nor a stat is found.
func ParseReceipt(s string) (r Receipt, ok bool) {
	s = strings.TrimRight(s, "\x00")
	type hit struct{ field, start, val int }
	var (
		hits  [rfCount]hit
		nhits int
		seen  [rfCount]bool
	)
	for i := 0; i < len(s); i++ {
		if i > 0 && !isReceiptSep(s[i-1]) {
			continue
		}
		for _, k := range receiptKeys {
			if !seen[k.field] && len(s)-i >= len(k.key) && strings.EqualFold(s[i:i+len(k.key)], k.key) {
				seen[k.field] = true
				hits[nhits] = hit{k.field, i, i + len(k.key)}
				nhits++
				i += len(k.key) - 1
				break
			}
		}
	}
	for j := range nhits {
		end := len(s)
		if j+1 < nhits {
			end = hits[j+1].start
		}
		v := s[hits[j].val:end]
		if hits[j].field == rfText {
			r.Text = strings.TrimSpace(v)
			continue
		}
		v = firstWord(v)
		switch hits[j].field {
		case rfID:
			r.ID = v
		case rfSub:
			r.Sub, _ = strconv.Atoi(v)
		case rfDlvrd:
			r.Dlvrd, _ = strconv.Atoi(v)
		case rfSubmit:
			r.Submit = parseReceiptDate(v)
		case rfDone:
			r.Done = parseReceiptDate(v)
		case rfStat:
			r.Stat = upperASCII(v)
		case rfErr:
			r.Err = v
		}
	}
	return r, r.ID != "" || r.Stat != ""
}

func isReceiptSep(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', ',', ';':
		return true
	}
	return false
}

// firstWord skips leading separators and returns the word that follows.
func firstWord(v string) string {
	i := 0
	for i < len(v) && isReceiptSep(v[i]) {
		i++
	}
	j := i
	for j < len(v) && !isReceiptSep(v[j]) {
		j++
	}
	return v[i:j]
}

func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for k := i; k < len(b); k++ {
				if 'a' <= b[k] && b[k] <= 'z' {
					b[k] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// parseReceiptDate reads YYMMDDhhmm or YYMMDDhhmmss as UTC; zero on error.
func parseReceiptDate(v string) time.Time {
	if (len(v) != 10 && len(v) != 12) || !allDigits(v) {
		return time.Time{}
	}
	sec := 0
	if len(v) == 12 {
		sec = two(v, 10)
	}
	t, ok := civil(2000+two(v, 0), two(v, 2), two(v, 4), two(v, 6), two(v, 8), sec, 0)
	if !ok {
		return time.Time{}
	}
	return t
}

// two reads the two decimal digits at s[i:i+2] (already checked).
func two(s string, i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }

// civil builds a UTC time, reporting false for out-of-range fields (no
// normalisation: 31 February is an error).
func civil(year, month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}
