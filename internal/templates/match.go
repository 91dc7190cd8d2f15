package templates

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrNoMatch is returned by Match when no template fits the text.
var ErrNoMatch = errors.New("templates: no template matches the text")

// ErrAmbiguous is matched (errors.Is) by every *AmbiguousError.
var ErrAmbiguous = errors.New("templates: the text matches ambiguously")

// AmbiguousError is Match's error when the text does not determine one
// template and one set of parameters.
type AmbiguousError struct {
	// Templates are the keys (name/language) of the templates concerned, sorted.
	Templates []string
	// Reason says why: several templates fit, or one fits in several ways,
	// or one name fits in several languages, none of them preferred.
	Reason string
}

func (e *AmbiguousError) Error() string {
	return "templates: ambiguous match (" + e.Reason + "): " + strings.Join(e.Templates, ", ")
}

// Unwrap makes errors.Is(err, ErrAmbiguous) true.
func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// Result is the template a text was written from, with its parameters.
type Result struct {
	// Template is the catalogue's template (shared; do not modify).
	Template *Template
	// Params are the positional values: Params[0] fills {{1}}. Nil for
	// named templates.
	Params []string
	// Named are the named values by parameter name. Nil for positional templates.
	Named map[string]string
	// Plain is set when the text fitted only once the formatting markers
	// around placeholders (*{{1}}*) were removed; Render then shows the
	// values with the markers, as WhatsApp will.
	Plain bool
}

// Values returns the result's parameters as Values for Render and Send.
func (r Result) Values() Values { return Values{Body: r.Params, Named: r.Named} }

// MaxTextLen is the longest text (in bytes) Match considers; longer texts
// do not match. A filled template body is far shorter.
const MaxTextLen = 16 << 10

// maxSteps bounds the search for the ways a template with a repeated
// placeholder fits; a longer search is treated as ambiguous.
const maxSteps = 100_000

// Matcher resolves plain text to the approved template it was written from.
// It is built once per catalogue (NewMatcher) and is safe for concurrent use;
// Match compiles nothing.
//
// Each approved, body-only template body becomes a pattern of literal
// pieces and parameter slots. Text and pattern are compared after both are
// trimmed and every run of white space (unicode.IsSpace: spaces, tabs,
// newlines, no-break spaces …) is collapsed to one space, so a run in the
// body matches any non-empty run in the text. Everything else is literal,
// byte for byte: regular-expression characters, braces that are not a
// placeholder, emoji, umlauts. A slot matches a non-empty stretch of the
// text that
//   - neither begins nor ends with white space (the surrounding white space
//     belongs to the literal text; so "Code:{{1}}" does not match "Code: 5"),
//   - contains no line break or tab and no run of more than four white-space
//     characters (WhatsApp refuses such parameters, so the text cannot have
//     come from that template).
//
// A text fits a template when the whole text is consumed; a template
// without placeholders fits only its own text. Every way of
// fitting it is counted: the template is used only when there is exactly
// one way. "{{1}}{{2}}" against "ab", or "{{1}} {{2}}" against "New York
// Times", fit in several ways and are reported as ambiguous, never guessed.
// A placeholder that occurs twice must receive equal text (compared modulo
// white space) at both places; finding the ways such a template fits is
// bounded (maxSteps), and a text that exceeds the bound is reported as
// ambiguous rather than guessed.
//
// Formatting markers around a placeholder: Meta lists authentication bodies
// as "*{{1}}* is your verification code. …"; the legacy text usually lacks
// the asterisks. A body whose placeholders are wrapped in a WhatsApp
// formatting marker (*{{1}}*, _{{1}}_, ~{{1}}~) is therefore tried a second
// time with those wrapping markers removed, but only when the body as
// listed does not fit at all (Result.Plain tells which one fitted). In that
// second try a value may not begin or end with the marker that wrapped its
// placeholder. So "*123456* is your …" and "123456 is your …" both yield
// 123456, while "*123456 is your …" fits neither way.
//
// Across templates: no template fits → ErrNoMatch. Templates of one name
// only: if exactly one language fits it is used; if several do, the first of
// the caller's languages among them is used, and with none of them it is
// ambiguous. Templates of two or more names fit → ambiguous. The chosen
// template fitting in more than one way → ambiguous. Ambiguity is an
// *AmbiguousError, which matches ErrAmbiguous with errors.Is.
type Matcher struct {
	exact   map[string][]*entry // templates without placeholders, by collapsed body
	entries []*entry            // templates with placeholders, in catalogue order
	n       int
	pool    sync.Pool // *scratch
}

// entry is one template compiled for matching.
type entry struct {
	t *Template
	// lits are the literal pieces around the placeholders, white space
	// collapsed: len(lits) == len(slots)+1 (empty between adjacent ones).
	lits []string
	// slots are, per placeholder occurrence, the index into t.BodyParams.
	slots   []int
	repeats bool // a placeholder occurs more than once
	minLen  int  // shortest text that can fit: literals plus one byte per slot
	// wrapped is set for the second try (Plain): per slot, the formatting
	// marker its value may not begin or end with, or 0.
	wrapped []byte
	alt     *entry
}

// NewMatcher compiles the catalogue. Only templates that are APPROVED and
// BodyOnly take part (a template needing a header or button value cannot be
// sent from plain text); nil entries and later duplicates of a name and
// language are skipped.
func NewMatcher(ts []*Template) *Matcher {
	m := &Matcher{exact: map[string][]*entry{}}
	m.pool.New = func() any { return new(scratch) }
	seen := map[string]bool{}
	for _, t := range ts {
		if t == nil || !t.Approved() || !t.BodyOnly() || seen[t.Key()] || !wellFormed(t) {
			continue
		}
		e := compile(t, t.Body, nil)
		if len(e.slots) == 0 {
			if e.lits[0] == "" {
				continue
			}
			seen[t.Key()] = true
			m.exact[e.lits[0]] = append(m.exact[e.lits[0]], e)
			m.n++
			continue
		}
		seen[t.Key()] = true
		if pb, wrapped := plainBody(t.Body); pb != t.Body {
			e.alt = compile(t, pb, wrapped)
		}
		m.entries = append(m.entries, e)
		m.n++
	}
	return m
}

// wellFormed reports whether t's BodyParams are its body's placeholders and
// fit its parameter format, as Parse guarantees (t may be built by hand).
func wellFormed(t *Template) bool {
	return slices.Equal(placeholders(t.Body), t.BodyParams) && checkParamNames(t.IsNamed(), t.BodyParams) == nil
}

// Len is the number of templates taking part in matching.
func (m *Matcher) Len() int { return m.n }

// compile turns a body into an entry; wrapped is nil for the body as listed.
func compile(t *Template, body string, wrapped []byte) *entry {
	body = strings.TrimFunc(body, unicode.IsSpace)
	e := &entry{t: t, wrapped: wrapped}
	prev := 0
	seen := map[int]bool{}
	for _, l := range placeholderRE.FindAllStringSubmatchIndex(body, -1) {
		e.lits = append(e.lits, collapse(body[prev:l[0]]))
		idx := slices.Index(t.BodyParams, body[l[2]:l[3]])
		if seen[idx] {
			e.repeats = true
		}
		seen[idx] = true
		e.slots = append(e.slots, idx)
		prev = l[1]
	}
	e.lits = append(e.lits, collapse(body[prev:]))
	for _, l := range e.lits {
		e.minLen += len(l)
	}
	e.minLen += len(e.slots)
	return e
}

// markers are WhatsApp's formatting characters that may wrap a placeholder.
const markers = "*_~"

// plainBody removes formatting markers that wrap a placeholder: "*{{1}}*" →
// "{{1}}". wrapped holds, per placeholder occurrence, the marker removed or 0.
func plainBody(body string) (plain string, wrapped []byte) {
	var b strings.Builder
	prev := 0
	for _, l := range placeholderRE.FindAllStringIndex(body, -1) {
		s, e := l[0], l[1]
		if s-1 >= prev && e < len(body) && strings.IndexByte(markers, body[s-1]) >= 0 && body[e] == body[s-1] {
			wrapped = append(wrapped, body[s-1])
			b.WriteString(body[prev : s-1])
			b.WriteString(body[s:e])
			prev = e + 1
			continue
		}
		wrapped = append(wrapped, 0)
		b.WriteString(body[prev:e])
		prev = e
	}
	b.WriteString(body[prev:])
	return b.String(), wrapped
}

// isSpace is the white space of matching.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// badSpace reports white space a parameter may not contain: line breaks and tabs.
func badSpace(r rune) bool {
	switch r {
	case '\n', '\r', '\t', '\v', '\f', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// collapse replaces every white-space run of s by one space.
func collapse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inRun := false
	for _, r := range s {
		if isSpace(r) {
			if !inRun {
				b.WriteByte(' ')
			}
			inRun = true
			continue
		}
		inRun = false
		b.WriteRune(r)
	}
	return b.String()
}

// text is a text prepared for matching.
type text struct {
	orig string  // the trimmed text
	n    string  // orig with each white-space run collapsed to one space
	runs []wsRun // the runs, in order
	bad  []int   // positions in n of runs no parameter may contain, ascending
}

// wsRun is one white-space run: its space at n[at], its bytes orig[start:end].
type wsRun struct{ at, start, end int }

func prepare(s string) *text {
	s = strings.TrimFunc(s, isSpace)
	t := &text{orig: s}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		start, count, bad := i, 0, false
		for i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
			if !isSpace(r) {
				break
			}
			bad = bad || badSpace(r)
			count++
			i += size
		}
		at := b.Len()
		b.WriteByte(' ')
		t.runs = append(t.runs, wsRun{at: at, start: start, end: i})
		if bad || count > maxParamSpaces {
			t.bad = append(t.bad, at)
		}
	}
	t.n = b.String()
	return t
}

// origAt maps a position in n that does not follow a space's interior to orig.
func (t *text) origAt(x int) int {
	k := sort.Search(len(t.runs), func(i int) bool { return t.runs[i].at >= x })
	if k == 0 {
		return x
	}
	r := t.runs[k-1]
	return r.end + x - r.at - 1
}

// limit is the first position at or after pos a parameter may not cover.
func (t *text) limit(pos int) int {
	k := sort.SearchInts(t.bad, pos)
	if k < len(t.bad) {
		return t.bad[k]
	}
	return len(t.n)
}

// scratch is the per-call working memory, pooled.
type scratch struct {
	memo   []int8
	latest []int
	bounds []int
}

// fit is one way an entry fits: per slot, its start and end in text.n.
type fit []int

// state matches one entry against one text.
type state struct {
	e      *entry
	t      *text
	memo   []int8 // per (slot, position): ways the rest fits, capped; -1 unknown
	latest []int  // per literal i ≥ 1: the last position it may start at
	cap    int
}

// tryEntry counts the ways e fits t (capped: 2 means "more than one") and
// returns the values of the single way, per t.BodyParams index.
func (m *Matcher) tryEntry(e *entry, t *text, sc *scratch) (int, []string) {
	N := t.n
	n := len(e.slots)
	if len(N) < e.minLen || !strings.HasPrefix(N, e.lits[0]) || !strings.HasSuffix(N, e.lits[n]) {
		return 0, nil
	}
	// latest[i]: the last start of literal i that leaves one byte per slot
	// before the next literal; no such start means no fit.
	sc.latest = slices.Grow(sc.latest[:0], n+1)[:n+1]
	sc.latest[n] = len(N) - len(e.lits[n])
	for i := n - 1; i >= 1; i-- {
		end := sc.latest[i+1] - 1
		j := strings.LastIndex(N[:max(end, 0)], e.lits[i])
		if j < len(e.lits[0])+i {
			return 0, nil
		}
		sc.latest[i] = j
	}
	size := n * (len(N) + 1)
	sc.memo = slices.Grow(sc.memo[:0], size)[:size]
	for i := range sc.memo {
		sc.memo[i] = -1
	}
	s := &state{e: e, t: t, memo: sc.memo, latest: sc.latest, cap: 2}
	if e.repeats {
		s.cap = 1 // the relaxed count only tells whether a rest can fit
	}
	start := len(e.lits[0])
	count := s.count(0, start)
	if count == 0 {
		return 0, nil
	}
	if !e.repeats && count > 1 {
		return 2, nil
	}
	var fits []fit
	sc.bounds = slices.Grow(sc.bounds[:0], 2*n)[:2*n]
	if !e.repeats {
		s.collect(0, start, sc.bounds, &fits, nil, 1, nil)
	} else {
		budget := maxSteps
		s.collect(0, start, sc.bounds, &fits, make([]string, len(e.t.BodyParams)), 2, &budget)
		if budget < 0 {
			return 2, nil
		}
	}
	switch len(fits) {
	case 0:
		return 0, nil
	case 1:
		return 1, s.values(fits[0])
	}
	return 2, nil
}

// ends calls fn for every way slot i, starting at pos, can end: end is the
// slot's end, next the position after the literal that follows it. fn
// returns false to stop.
func (s *state) ends(i, pos int, fn func(end, next int) bool) {
	N := s.t.n
	m := len(N)
	if pos >= m || N[pos] == ' ' {
		return
	}
	var marker byte // a value may not begin or end with it (second try)
	if s.e.wrapped != nil {
		marker = s.e.wrapped[i]
		if marker != 0 && N[pos] == marker {
			return
		}
	}
	limit := s.t.limit(pos)
	lit := s.e.lits[i+1]
	if i == len(s.e.slots)-1 {
		// The last literal is the text's suffix (checked by tryEntry).
		end := m - len(lit)
		if end > pos && end <= limit && N[end-1] != ' ' && (marker == 0 || N[end-1] != marker) {
			fn(end, m)
		}
		return
	}
	latest := s.latest[i+1]
	if lit == "" {
		// Adjacent placeholders: every rune boundary that splits two
		// non-space characters.
		_, size := utf8.DecodeRuneInString(N[pos:])
		for end := pos + size; end <= limit && end <= latest && end < m; {
			if N[end-1] != ' ' && N[end] != ' ' && (marker == 0 || N[end-1] != marker) {
				if !fn(end, end) {
					return
				}
			}
			_, size = utf8.DecodeRuneInString(N[end:])
			end += size
		}
		return
	}
	hi := min(limit, latest) + len(lit)
	if hi > m {
		hi = m
	}
	for from := pos + 1; from < hi; {
		j := strings.Index(N[from:hi], lit)
		if j < 0 {
			return
		}
		end := from + j
		if N[end-1] != ' ' && (marker == 0 || N[end-1] != marker) {
			if !fn(end, end+len(lit)) {
				return
			}
		}
		from = end + 1
	}
}

// count returns the number of ways slots i… fit from pos to the end,
// capped at s.cap.
func (s *state) count(i, pos int) int {
	if i == len(s.e.slots) {
		if pos == len(s.t.n) {
			return 1
		}
		return 0
	}
	k := i*(len(s.t.n)+1) + pos
	if v := s.memo[k]; v >= 0 {
		return int(v)
	}
	total := 0
	s.ends(i, pos, func(_, next int) bool {
		total += s.count(i+1, next)
		if total >= s.cap {
			total = s.cap
			return false
		}
		return true
	})
	s.memo[k] = int8(total)
	return total
}

// collect appends up to limit fits of slots i… from pos to out; bounds
// holds the slots before i. With assigned (per t.BodyParams index, the
// normalised value of a placeholder seen before, or "") a repeated
// placeholder must take the same value again, and budget counts the steps
// (below zero: gave up).
func (s *state) collect(i, pos int, bounds []int, out *[]fit, assigned []string, limit int, budget *int) {
	if i == len(s.e.slots) {
		*out = append(*out, slices.Clone(bounds))
		return
	}
	idx := s.e.slots[i]
	fixed := ""
	if assigned != nil {
		fixed = assigned[idx]
	}
	s.ends(i, pos, func(end, next int) bool {
		if budget != nil {
			if *budget--; *budget < 0 {
				return false
			}
		}
		if fixed != "" && (end-pos != len(fixed) || s.t.n[pos:end] != fixed) {
			return true
		}
		if s.count(i+1, next) == 0 {
			return true
		}
		bounds[2*i], bounds[2*i+1] = pos, end
		if assigned != nil && fixed == "" {
			assigned[idx] = s.t.n[pos:end]
			s.collect(i+1, next, bounds, out, assigned, limit, budget)
			assigned[idx] = ""
		} else {
			s.collect(i+1, next, bounds, out, assigned, limit, budget)
		}
		return len(*out) < limit && (budget == nil || *budget >= 0)
	})
}

// values returns the original text of each placeholder's first place, by
// t.BodyParams index.
func (s *state) values(f fit) []string {
	out := make([]string, len(s.e.t.BodyParams))
	done := make([]bool, len(out))
	for k, idx := range s.e.slots {
		if done[idx] {
			continue
		}
		done[idx] = true
		out[idx] = s.t.orig[s.t.origAt(f[2*k]):s.t.origAt(f[2*k+1])]
	}
	return out
}

// hit is one template that fits.
type hit struct {
	e     *entry
	ways  int // 1, or 2 for "more than one"
	value []string
}

// Match returns the approved template text was written from and its
// parameters, following the rules documented on Matcher. languages is the
// caller's order of preference, used only when one template name fits in
// several languages. Errors: ErrNoMatch (also for empty, over-long or
// invalid UTF-8 text) and *AmbiguousError (errors.Is ErrAmbiguous).
func (m *Matcher) Match(s string, languages []string) (Result, error) {
	if len(s) > MaxTextLen {
		return Result{}, fmt.Errorf("%w: text longer than %d bytes", ErrNoMatch, MaxTextLen)
	}
	if !utf8.ValidString(s) {
		return Result{}, fmt.Errorf("%w: text is not valid UTF-8", ErrNoMatch)
	}
	t := prepare(s)
	if t.n == "" {
		return Result{}, fmt.Errorf("%w: empty text", ErrNoMatch)
	}
	var hits []hit
	for _, e := range m.exact[t.n] {
		hits = append(hits, hit{e: e, ways: 1})
	}
	sc := m.pool.Get().(*scratch)
	for _, e := range m.entries {
		ways, vals := m.tryEntry(e, t, sc)
		if ways == 0 && e.alt != nil {
			e = e.alt
			ways, vals = m.tryEntry(e, t, sc)
		}
		if ways > 0 {
			hits = append(hits, hit{e: e, ways: ways, value: vals})
		}
	}
	m.pool.Put(sc)
	return decide(hits, languages)
}

// decide applies the rules across templates.
func decide(hits []hit, languages []string) (Result, error) {
	if len(hits) == 0 {
		return Result{}, ErrNoMatch
	}
	keys := func(hs []hit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.e.t.Key())
		}
		slices.Sort(out)
		return out
	}
	name := hits[0].e.t.Name
	for _, h := range hits[1:] {
		if h.e.t.Name != name {
			return Result{}, &AmbiguousError{Templates: keys(hits), Reason: "several templates fit"}
		}
	}
	chosen := -1
	if len(hits) == 1 {
		chosen = 0
	} else {
	pick:
		for _, lang := range languages {
			for i, h := range hits {
				if h.e.t.Language == lang {
					chosen = i
					break pick
				}
			}
		}
		if chosen < 0 {
			return Result{}, &AmbiguousError{Templates: keys(hits), Reason: "the template fits in several languages, none of them preferred"}
		}
	}
	h := hits[chosen]
	if h.ways > 1 {
		return Result{}, &AmbiguousError{Templates: []string{h.e.t.Key()}, Reason: "the text fits the template in more than one way"}
	}
	r := Result{Template: h.e.t, Plain: h.e.wrapped != nil}
	if len(h.value) == 0 {
		return r, nil
	}
	if h.e.t.IsNamed() {
		r.Named = make(map[string]string, len(h.value))
		for i, name := range h.e.t.BodyParams {
			r.Named[name] = h.value[i]
		}
		return r, nil
	}
	// Positional: BodyParams are "1"…"n" in order of appearance.
	r.Params = make([]string, len(h.value))
	for i, name := range h.e.t.BodyParams {
		k, _ := strconv.Atoi(name) // checked by Parse
		r.Params[k-1] = h.value[i]
	}
	return r, nil
}
