package whatsapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Single-pass reading of webhook bodies. Parse checks the whole body once
// (doc.check), recording every value and member name in document order on
// a tape, and then walks the tape: a jv is one JSON value inside the
// checked body, and the readers below step from member to member and from
// element to element by tape index, without decoding or scanning what they
// skip. They give exactly the answers of the map-based accessors in
// loose.go (which are what encoding/json.Unmarshal into
// map[string]json.RawMessage gives): the last of duplicate keys wins, keys
// compare after unescaping, strings are unescaped with invalid UTF-8
// replaced, a member of an unexpected shape reads as absent. The
// differential tests in parse_diff_test.go hold them to that.

// node is one value or member name of a checked body (a name is followed
// by its value's node).
type node struct {
	start, end int32 // body[start:end]: the value, or the name with its quotes
	next       int32 // the tape index just past this value and all it contains
}

// doc is a body that check accepted, with its tape. The tape holds at most
// one node per two bytes of body (12 bytes each).
type doc struct {
	body []byte
	tape []node
}

// docs recycles docs and their tapes between Parse calls; a tape grown
// past maxPooledTape nodes by a large body is left to the collector.
var docs = sync.Pool{New: func() any { return new(doc) }}

const maxPooledTape = 4096

func getDoc() *doc { return docs.Get().(*doc) }

// release returns d to the pool; no jv of it may be used afterwards.
func (d *doc) release() {
	d.body = nil
	if cap(d.tape) > maxPooledTape {
		d.tape = nil
	}
	d.tape = d.tape[:0]
	docs.Put(d)
}

// val is the value at tape index k.
func (d *doc) val(k int32) jv {
	n := d.tape[k]
	return jv{b: d.body[n.start:n.end:n.end], off: int(n.start), d: d, t: k}
}

// root returns the single value of a checked body without the whitespace
// around it.
func (d *doc) root() jv {
	if len(d.tape) == 0 {
		return jv{}
	}
	return d.val(0)
}

// jv is one JSON value of a checked body, without surrounding whitespace;
// b is nil when the value is absent. It aliases the body: everything kept
// in an event is copied out (string conversion, compact).
type jv struct {
	b   []byte
	off int   // b's offset in d.body
	d   *doc  // nil when absent
	t   int32 // the value's tape index in d
}

// isSpace reports JSON's insignificant whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i] (a
// quote) in valid JSON: the first quote after it that an even number of
// backslashes precedes.
func stringEnd(b []byte, i int) int {
	for i++; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		n := 0
		for j := i - 1; b[j] == '\\'; j-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// isObject: v is a JSON object (asObject's ok).
func (v jv) isObject() bool { return len(v.b) > 0 && v.b[0] == '{' }

// isArray: v is a JSON array (asArray's ok).
func (v jv) isArray() bool { return len(v.b) > 0 && v.b[0] == '[' }

// members steps over the members of an object: for it := v.members();
// it.next(); { it.key, it.val }. It yields nothing when v is not an object.
type members struct {
	d        *doc
	k, end   int32 // the next member's name node; the object's end on the tape
	key, val jv    // key is the member name as written, with its quotes
}

func (v jv) members() members {
	if !v.isObject() {
		return members{}
	}
	return members{d: v.d, k: v.t + 1, end: v.d.tape[v.t].next}
}

func (it *members) next() bool {
	if it.k >= it.end {
		return false
	}
	it.key = it.d.val(it.k)
	it.val = it.d.val(it.k + 1)
	it.k = it.d.tape[it.k+1].next
	return true
}

// keyIs reports whether the member name (quoted, as written) unescapes to name.
func keyIs(quoted []byte, name string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		// Without escapes the name is itself, or (invalid UTF-8) holds
		// U+FFFD and equals no name the parser asks for.
		return string(inner) == name
	}
	return unquote(quoted) == name
}

// member returns member name of object v (the last one of that name); nil
// when v is not an object or has no such member.
func (v jv) member(name string) jv {
	var val jv
	for it := v.members(); it.next(); {
		if keyIs(it.key.b, name) {
			val = it.val
		}
	}
	return val
}

// maxFields bounds the names one fields read can keep.
const maxFields = 24

// fields holds the members of one object named in keys, read in one pass
// (the last of duplicates wins). It keeps each member's tape index rather
// than the member itself: a few of these are live on the stack at once,
// and small frames keep the webhook handlers' goroutine stacks from
// growing (and being shrunk again by the garbage collector).
type fields struct {
	keys []string
	d    *doc
	at   [maxFields]int32 // 1 + the member's tape index; 0: absent
}

// read keeps the members of v named in keys (at most maxFields); it
// reports whether v is an object.
func (f *fields) read(v jv, keys []string) bool {
	f.keys, f.d = keys, v.d
	clear(f.at[:len(keys)])
	if !v.isObject() {
		return false
	}
	tape, body := v.d.tape, v.d.body
	for k, end := v.t+1, tape[v.t].next; k < end; k = tape[k+1].next {
		n := tape[k]
		inner := body[n.start+1 : n.end-1]
		if bytes.IndexByte(inner, '\\') >= 0 {
			name := unquote(body[n.start:n.end])
			for j, key := range keys {
				if name == key {
					f.at[j] = k + 2
					break
				}
			}
			continue
		}
		for j, key := range keys {
			if string(inner) == key {
				f.at[j] = k + 2
				break
			}
		}
	}
	return true
}

// get returns the member named key (which must be one of the keys read).
func (f *fields) get(key string) jv {
	for j, name := range f.keys {
		if name == key {
			if f.at[j] == 0 {
				return jv{}
			}
			return f.d.val(f.at[j] - 1)
		}
	}
	return jv{}
}

// elements steps over the elements of an array: for it := v.elements();
// it.next(); { it.val }. It yields nothing when v is not an array.
type elements struct {
	d      *doc
	k, end int32
	val    jv
}

func (v jv) elements() elements {
	if !v.isArray() {
		return elements{}
	}
	return elements{d: v.d, k: v.t + 1, end: v.d.tape[v.t].next}
}

func (it *elements) next() bool {
	if it.k >= it.end {
		return false
	}
	it.val = it.d.val(it.k)
	it.k = it.d.tape[it.k].next
	return true
}

// unquote returns the string a JSON string literal stands for, as
// encoding/json decodes it (invalid UTF-8 and lone surrogates become U+FFFD).
func unquote(quoted []byte) string {
	inner := quoted[1 : len(quoted)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain || bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return ""
	}
	return s
}

// str is v as a string (object.str): a string's value, a number as
// written, "" for anything else.
func (v jv) str() string {
	if len(v.b) == 0 {
		return ""
	}
	switch v.b[0] {
	case '"':
		return unquote(v.b)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(v.b)
	}
	return ""
}

// word is v.str() for a value that is mostly one of a few words: a plain
// string equal to one of them is that word, without a copy.
func (v jv) word(words ...string) string {
	if b := v.b; len(b) >= 2 && b[0] == '"' {
		for _, w := range words {
			if string(b[1:len(b)-1]) == w {
				return w
			}
		}
	}
	return v.str()
}

// strIs reports whether v.str() == s without building the string.
func (v jv) strIs(s string) bool {
	if b := v.b; len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1:len(b)-1]) == s
	}
	return v.str() == s
}

// boolean is v as a bool (object.boolean): true, or the string "true".
func (v jv) boolean() bool {
	if len(v.b) > 0 && v.b[0] == '"' {
		return v.strIs("true")
	}
	return string(v.b) == "true"
}

// num is v as a float (object.num): a number or a numeric string, 0 otherwise.
func (v jv) num() float64 {
	s := v.b
	if len(s) >= 2 && s[0] == '"' && bytes.IndexByte(s, '\\') < 0 {
		s = s[1 : len(s)-1] // a numeric string without escapes is its bytes
	} else if len(s) == 0 || s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return numOf(v.str())
	}
	if n, ok := smallInt(s); ok {
		return n // exactly what ParseFloat gives for up to 15 digits
	}
	// ParseFloat keeps nothing of its argument once it returns but in its
	// error, which is dropped here.
	return numOf(unsafe.String(unsafe.SliceData(s), len(s)))
}

// smallInt reads 1 to 15 ASCII digits (a unix time, an error code).
func smallInt(s []byte) (float64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return float64(n), true
}

// numOf is s as a finite float, 0 otherwise.
func numOf(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return f
}

// integer is v as an int (object.integer), 0 when out of int32 range.
func (v jv) integer() int {
	f := v.num()
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

// unixTime is v as unix seconds (object.unixTime); the zero time when
// absent, malformed or out of range.
func (v jv) unixTime() time.Time {
	f := v.num()
	if f <= 0 || f > maxUnix {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}

// compact returns a copy of raw without insignificant whitespace (nil when
// empty or JSON null), so stored raw JSON and keys derived from it are
// stable. raw must be valid JSON (the result is then json.Compact's).
func compact(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if !hasSpace(raw) {
		return append(json.RawMessage(nil), raw...) // already compact, as Meta sends it
	}
	out := make(json.RawMessage, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '"':
			end := stringEnd(raw, i)
			out = append(out, raw[i:end]...)
			i = end
		case isSpace(c):
			i++
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '"' && !isSpace(raw[j]) {
				j++
			}
			out = append(out, raw[i:j]...)
			i = j
		}
	}
	return out
}

// hasSpace reports whether b holds a JSON whitespace byte anywhere (in a
// string or not).
func hasSpace(b []byte) bool {
	return bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\n') >= 0 ||
		bytes.IndexByte(b, '\t') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// hashKey is a stable idempotency key for an item whose compact JSON is c:
// prefix + ":" + the hex SHA-256 of c.
func hashKey(prefix string, c json.RawMessage) string {
	sum := sha256.Sum256(c)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return prefix + ":" + string(h[:])
}

// maxDepth is encoding/json's nesting limit: deeper documents are invalid.
const maxDepth = 10000

// validJSON reports whether b is one valid JSON value, exactly as
// json.Valid does.
func validJSON(b []byte) bool {
	d := getDoc()
	defer d.release()
	return d.check(b)
}

// check reports whether body is one valid JSON value, exactly as json.Valid
// does (including its nesting limit; bodies of 2 GiB and more are
// refused), without its per-byte state machine, and records the tape.
func (d *doc) check(body []byte) bool {
	d.body = body
	d.tape = d.tape[:0]
	if len(body) > math.MaxInt32 {
		return false
	}
	b := body
	var buf [32]int32
	stack := buf[:0] // the open containers, as tape indexes
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		if c := b[i]; c == '{' || c == '[' {
			stack = append(stack, int32(len(d.tape)))
			d.tape = append(d.tape, node{start: int32(i)})
			if len(stack) > maxDepth {
				return false
			}
			i = skipSpace(b, i+1)
			if i >= len(b) || b[i] != c+2 { // c+2 closes c: '{'→'}', '['→']'
				if c == '{' {
					if i = d.key(i); i < 0 {
						return false
					}
				}
				continue
			}
			d.close(stack[len(stack)-1], i)
			stack = stack[:len(stack)-1]
			i++
		} else {
			j := scanScalar(b, i)
			if j < 0 {
				return false
			}
			d.tape = append(d.tape, node{start: int32(i), end: int32(j), next: int32(len(d.tape) + 1)})
			i = j
		}
		// After a value: close containers, then a comma before the next value.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			k := stack[len(stack)-1]
			top := b[d.tape[k].start]
			if b[i] == top+2 {
				d.close(k, i)
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
			if top == '{' {
				if i = d.key(i); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// close ends the container at tape index k, closed by body[i].
func (d *doc) close(k int32, i int) {
	d.tape[k].end, d.tape[k].next = int32(i+1), int32(len(d.tape))
}

// key checks `"name" :` at body[i], records the name and returns the
// index of the value after it, or -1.
func (d *doc) key(i int) int {
	b := d.body
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	end := scanString(b, i)
	if end < 0 {
		return -1
	}
	d.tape = append(d.tape, node{start: int32(i), end: int32(end), next: int32(len(d.tape) + 1)})
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// scanScalar checks the string, number or literal at b[i] and returns the
// index just past it, or -1.
func scanScalar(b []byte, i int) int {
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return -1
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanString checks the string at b[i] (a quote) and returns the index just
// past it, or -1. Bytes from 0x20 up are taken as they are (encoding/json
// does not check UTF-8); control characters must be escaped. Runs of
// ordinary bytes are stepped over four at a time.
func scanString(b []byte, i int) int {
	for i++; ; i++ {
		for i+4 <= len(b) && plainByte[b[i]] && plainByte[b[i+1]] && plainByte[b[i+2]] && plainByte[b[i+3]] {
			i += 4
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
}

// plainByte marks the bytes a string holds as they are: not a quote, a
// backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i]
// and returns the index just past it, or -1.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index of the first non-digit of b at or after i.
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
