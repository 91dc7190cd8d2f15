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

// Error lists the reason and the templates concerned.
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

// workBudget bounds, per Match call, the candidate ends tried while
// searching the fits of templates with a repeated placeholder (the only
// search that is not linear); a text that needs more is reported as
// ambiguous rather than guessed.
const workBudget = 1 << 20

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
// white space) at both places.
//
// Deciding how often a text fits costs O(placeholders × length) per
// template whose first and last literal pieces fit. Only a repeated
// placeholder needs a search; it is bounded (about a million steps, real
// texts need hundreds), and a text whose fit cannot be decided within the
// bound — contrived texts of thousands of characters — is reported as
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
	// nextBad[x] is the first position ≥ x in bad, or len(n): a value
	// starting at x ends at or before it.
	nextBad []int
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
	t.nextBad = make([]int, len(t.n)+1)
	k := len(t.bad)
	for x := len(t.n); x >= 0; x-- {
		for k > 0 && t.bad[k-1] >= x {
			k--
		}
		if k < len(t.bad) {
			t.nextBad[x] = t.bad[k]
		} else {
			t.nextBad[x] = len(t.n)
		}
	}
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

// scratch is the per-call working memory, pooled.
type scratch struct {
	ways   []int8  // the table of state.ways
	f      []int8  // one row of candidate ends
	nz     []int32 // prefix counts of non-zero f
	nn     []int32 // next non-zero f
	bounds []int
	budget int // work left in this Match call; below zero: exhausted
}

// grow returns b resized to n elements (contents undefined).
func grow[T any](b []T, n int) []T { return slices.Grow(b[:0], n)[:n] }

// fit is one way an entry fits: per slot, its start and end in text.n.
type fit []int

// state matches one entry against one text.
type state struct {
	e *entry
	t *text
	// ways[i*(m+1)+pos] is the number of ways slots i… fit the text from
	// pos to its end, capped at 2 (row n: 1 at pos m, else 0), ignoring
	// that a repeated placeholder must repeat its value.
	ways   []int8
	budget *int // the call's work budget; nil: unbounded
}

// at returns ways for slot i (0…n) at pos.
func (s *state) at(i, pos int) int8 { return s.ways[i*(len(s.t.n)+1)+pos] }

// marker is the formatting marker slot i's value may not begin or end with, or 0.
func (s *state) marker(i int) byte {
	if s.e.wrapped == nil {
		return 0
	}
	return s.e.wrapped[i]
}

// canStart reports whether slot i may start at pos.
func (s *state) canStart(i, pos int) bool {
	N := s.t.n
	if pos >= len(N) || N[pos] == ' ' {
		return false
	}
	mk := s.marker(i)
	return mk == 0 || N[pos] != mk
}

// canEnd reports whether slot i may end at end (exclusive).
func (s *state) canEnd(i, end int) bool {
	c := s.t.n[end-1]
	mk := s.marker(i)
	return c != ' ' && (mk == 0 || c != mk)
}

// spend charges n units of work and reports whether any were left.
func (s *state) spend(n int) bool {
	if s.budget == nil {
		return true
	}
	*s.budget -= n
	return *s.budget >= 0
}

// table fills s.ways from the last slot to the first. Slot i starting at
// pos may end at every end in (pos, limit(pos)] where the next literal
// occurs and the value's edges are allowed; the ways from pos are the sum of
// the ways after those ends. Prefix counts of the non-zero candidates make
// each sum O(1), so the table costs O(slots × length).
func (s *state) table(sc *scratch) {
	N := s.t.n
	m := len(N)
	n := len(s.e.slots)
	s.ways = grow(sc.ways, (n+1)*(m+1))
	sc.ways = s.ways
	row := func(i int) []int8 { return s.ways[i*(m+1) : (i+1)*(m+1)] }
	last := row(n)
	clear(last)
	last[m] = 1
	f := grow(sc.f, m+2)
	nz := grow(sc.nz, m+2)
	nn := grow(sc.nn, m+2)
	sc.f, sc.nz, sc.nn = f, nz, nn
	for i := n - 1; i >= 0; i-- {
		next, cur := row(i+1), row(i)
		lit := s.e.lits[i+1]
		clear(f)
		if lit == "" {
			// Adjacent placeholders (or a body ending in one): every rune boundary.
			for e := 1; e <= m; e++ {
				if (e == m || utf8.RuneStart(N[e])) && s.canEnd(i, e) {
					f[e] = next[e]
				}
			}
		} else {
			for from := 1; from+len(lit) <= m; {
				j := strings.Index(N[from:], lit)
				if j < 0 {
					break
				}
				e := from + j
				if s.canEnd(i, e) {
					f[e] = next[e+len(lit)]
				}
				from = e + 1
			}
		}
		nz[0] = 0
		for e := 0; e <= m; e++ {
			nz[e+1] = nz[e]
			if f[e] != 0 {
				nz[e+1]++
			}
		}
		nn[m+1] = int32(m + 1)
		for e := m; e >= 0; e-- {
			nn[e] = nn[e+1]
			if f[e] != 0 {
				nn[e] = int32(e)
			}
		}
		for pos := 0; pos <= m; pos++ {
			cur[pos] = 0
			if !s.canStart(i, pos) {
				continue
			}
			lo, hi := pos+1, s.t.nextBad[pos]
			switch c := nz[hi+1] - nz[lo]; {
			case c >= 2:
				cur[pos] = 2
			case c == 1:
				cur[pos] = f[nn[lo]]
			}
		}
	}
}

// tryEntry counts the ways e fits t (2 means "more than one", -1
// "undecided, the work budget ran out") and returns the values of the single
// way, per t.BodyParams index.
func tryEntry(e *entry, t *text, sc *scratch) (int, []string) {
	N := t.n
	n := len(e.slots)
	if len(N) < e.minLen || !strings.HasPrefix(N, e.lits[0]) || !strings.HasSuffix(N, e.lits[n]) {
		return 0, nil
	}
	// The literals must occur in order, each after at least one byte of
	// value (leftmost occurrences: a fit can only lie further right).
	pos := len(e.lits[0])
	for _, lit := range e.lits[1:n] {
		j := strings.Index(N[min(pos+1, len(N)):], lit)
		if j < 0 {
			return 0, nil
		}
		pos += 1 + j + len(lit)
	}
	if pos+1 > len(N)-len(e.lits[n]) {
		return 0, nil
	}
	s := &state{e: e, t: t}
	s.table(sc)
	start := len(e.lits[0])
	count := s.at(0, start)
	if count == 0 || !e.repeats && count > 1 {
		return int(count), nil
	}
	// One way (or, with a repeated placeholder, some): walk it.
	var fits []fit
	sc.bounds = grow(sc.bounds, 2*n)
	if !e.repeats {
		s.collect(0, start, sc.bounds, &fits, nil, 1)
	} else {
		s.budget = &sc.budget
		s.collect(0, start, sc.bounds, &fits, make([]string, len(e.t.BodyParams)), 2)
		if sc.budget < 0 {
			return -1, nil
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

// ends calls fn for every way slot i, starting at pos, can end such that
// the rest can fit: end is the slot's end, next the position after the
// literal that follows it. fn returns false to stop.
func (s *state) ends(i, pos int, fn func(end, next int) bool) {
	N := s.t.n
	m := len(N)
	if !s.canStart(i, pos) {
		return
	}
	hi := s.t.nextBad[pos] // the last possible end
	lit := s.e.lits[i+1]
	try := func(e int) bool {
		if !s.spend(1) {
			return false
		}
		if s.canEnd(i, e) && s.at(i+1, e+len(lit)) > 0 {
			return fn(e, e+len(lit))
		}
		return true
	}
	if lit == "" {
		for e := pos + 1; e <= hi; e++ {
			if (e == m || utf8.RuneStart(N[e])) && !try(e) {
				return
			}
		}
		return
	}
	for from := pos + 1; from <= hi && from+len(lit) <= m; {
		j := strings.Index(N[from:min(hi+len(lit), m)], lit)
		if j < 0 || !try(from+j) {
			return
		}
		from += j + 1
	}
}

// collect appends up to limit fits of slots i… from pos to out; bounds
// holds the slots before i. With assigned (per t.BodyParams index, the
// normalised value of a placeholder seen before, or "") a repeated
// placeholder must take the same value again.
func (s *state) collect(i, pos int, bounds []int, out *[]fit, assigned []string, limit int) {
	if i == len(s.e.slots) {
		*out = append(*out, slices.Clone(bounds))
		return
	}
	idx := s.e.slots[i]
	fixed := ""
	if assigned != nil {
		fixed = assigned[idx]
	}
	visit := func(end, next int) bool {
		bounds[2*i], bounds[2*i+1] = pos, end
		if assigned != nil && fixed == "" {
			assigned[idx] = s.t.n[pos:end]
			s.collect(i+1, next, bounds, out, assigned, limit)
			assigned[idx] = ""
		} else {
			s.collect(i+1, next, bounds, out, assigned, limit)
		}
		return len(*out) < limit && (s.budget == nil || *s.budget >= 0)
	}
	if fixed == "" {
		s.ends(i, pos, visit)
		return
	}
	// A repeated placeholder: its value, hence its end, is known.
	end := pos + len(fixed)
	lit := s.e.lits[i+1]
	if s.spend(1) && s.canStart(i, pos) && end <= s.t.nextBad[pos] && s.t.n[pos:end] == fixed &&
		strings.HasPrefix(s.t.n[end:], lit) && s.canEnd(i, end) && s.at(i+1, end+len(lit)) > 0 {
		visit(end, end+len(lit))
	}
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
	sc.budget = workBudget
	var undecided []string
	for _, e := range m.entries {
		ways, vals := tryEntry(e, t, sc)
		if ways == 0 && e.alt != nil {
			e = e.alt
			ways, vals = tryEntry(e, t, sc)
		}
		switch {
		case ways < 0:
			undecided = append(undecided, e.t.Key())
		case ways > 0:
			hits = append(hits, hit{e: e, ways: ways, value: vals})
		}
	}
	m.pool.Put(sc)
	if len(undecided) > 0 {
		slices.Sort(undecided)
		return Result{}, &AmbiguousError{Templates: undecided, Reason: "the text is too complex to decide within the work bound"}
	}
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
