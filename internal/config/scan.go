package config

import (
	"strconv"
	"strings"
)

// positions maps every key of a TOML document to the line it is defined on.
// Keys are full dotted paths with array indexes, as used in Problem.Key:
// "whatsapp.numbers[1].business_number", "api.tokens[0]".
//
// BurntSushi/toml reports positions only for syntax errors, so this small
// scanner walks the text itself. It runs only on documents the TOML parser
// accepted, so it can be lenient about malformed input; where it gets lost
// lookups fall back to the nearest enclosing key.
type positions map[string]int

// line returns the line of key, or of its nearest enclosing key, or 0.
func (p positions) line(key string) int {
	for key != "" {
		if l, ok := p[key]; ok {
			return l
		}
		key = parentKey(key)
	}
	return 0
}

// parentKey strips the last segment or index of a key path.
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i >= 0 {
			return key[:i]
		}
	}
	// the last dot outside quotes
	inQuote := false
	last := -1
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				last = i
			}
		}
	}
	if last < 0 {
		return ""
	}
	return key[:last]
}

// joinKey appends a key segment to a path, quoting it unless it is a bare key.
func joinKey(prefix, seg string) string {
	if !isBareKey(seg) {
		seg = strconv.Quote(seg)
	}
	if prefix == "" {
		return seg
	}
	return prefix + "." + seg
}

func indexKey(prefix string, i int) string { return prefix + "[" + strconv.Itoa(i) + "]" }

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareChar(s[i]) {
			return false
		}
	}
	return true
}

func isBareChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

type scanner struct {
	src    string
	i      int
	line   int
	pos    positions
	arrays map[string]int // resolved path of an array of tables → number of elements so far
}

func scanPositions(src string) positions {
	s := &scanner{src: strings.TrimPrefix(src, "\ufeff"), line: 1, pos: positions{}, arrays: map[string]int{}}
	s.document()
	return s.pos
}

func (s *scanner) eof() bool  { return s.i >= len(s.src) }
func (s *scanner) peek() byte { return s.src[s.i] }

func (s *scanner) mark(key string, line int) {
	if _, ok := s.pos[key]; !ok {
		s.pos[key] = line
	}
}

// skipSpace skips blanks and, if nl, newlines and comments too.
func (s *scanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '\n' && nl:
			s.i++
			s.line++
		case c == '#' && nl:
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to (not past) the end of the line.
func (s *scanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.i++
	}
}

func (s *scanner) document() {
	prefix := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.peek() == '[' {
			prefix = s.header()
		} else {
			s.keyValue(prefix)
		}
		s.skipSpace(false)
		if !s.eof() && s.peek() == '#' {
			s.skipLine()
		}
		if s.i == start { // lost: resynchronise on the next line
			s.skipLine()
		}
	}
}

// header reads [table] or [[array.table]] and returns the resolved path.
func (s *scanner) header() string {
	line := s.line
	s.i++
	array := !s.eof() && s.peek() == '['
	if array {
		s.i++
	}
	segs := s.key()
	s.skipSpace(false)
	for !s.eof() && s.peek() == ']' {
		s.i++
	}
	path := ""
	for n, seg := range segs {
		path = joinKey(path, seg)
		s.mark(path, line)
		if n == len(segs)-1 {
			break
		}
		if count, ok := s.arrays[path]; ok && count > 0 {
			path = indexKey(path, count-1)
		}
	}
	if array {
		count := s.arrays[path]
		s.arrays[path] = count + 1
		path = indexKey(path, count)
		s.pos[path] = line
	}
	return path
}

// key reads a possibly dotted, possibly quoted key.
func (s *scanner) key() []string {
	var segs []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return segs
		}
		switch c := s.peek(); {
		case c == '"' || c == '\'':
			segs = append(segs, s.quotedKey())
		case isBareChar(c):
			start := s.i
			for !s.eof() && isBareChar(s.peek()) {
				s.i++
			}
			segs = append(segs, s.src[start:s.i])
		default:
			return segs
		}
		s.skipSpace(false)
		if s.eof() || s.peek() != '.' {
			return segs
		}
		s.i++
	}
}

func (s *scanner) quotedKey() string {
	q := s.peek()
	start := s.i
	s.i++
	for !s.eof() && s.peek() != q && s.peek() != '\n' {
		if q == '"' && s.peek() == '\\' {
			s.i++
		}
		s.i++
	}
	if !s.eof() && s.peek() == q {
		s.i++
	}
	raw := s.src[start:s.i]
	if q == '\'' {
		return strings.Trim(raw, "'")
	}
	if v, err := strconv.Unquote(raw); err == nil {
		return v
	}
	return strings.Trim(raw, `"`)
}

// keyValue reads key = value under prefix.
func (s *scanner) keyValue(prefix string) {
	line := s.line
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	path := prefix
	for _, seg := range segs {
		path = joinKey(path, seg)
		s.mark(path, line)
	}
	s.skipSpace(false)
	if s.eof() || s.peek() != '=' {
		return
	}
	s.i++
	s.skipSpace(false)
	s.value(path)
}

func (s *scanner) value(path string) {
	if s.eof() {
		return
	}
	switch s.peek() {
	case '"', '\'':
		s.str()
	case '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == '}' {
				s.i++
				return
			}
			start := s.i
			s.keyValue(path)
			s.skipSpace(true)
			if !s.eof() && s.peek() == ',' {
				s.i++
			}
			if s.i == start {
				s.i++
			}
		}
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek() == ']' {
				s.i++
				return
			}
			start := s.i
			elem := indexKey(path, n)
			s.pos[elem] = s.line
			s.value(elem)
			s.skipSpace(true)
			if !s.eof() && s.peek() == ',' {
				s.i++
			}
			if s.i == start {
				s.i++
			}
		}
	default: // number, boolean, date: up to a delimiter
		for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.peek())) {
			s.i++
		}
	}
}

// str skips a basic, literal or multi-line string, counting lines.
func (s *scanner) str() {
	q := s.peek()
	delim := string(q)
	if strings.HasPrefix(s.src[s.i:], strings.Repeat(delim, 3)) {
		s.i += 3
		for !s.eof() {
			switch c := s.peek(); {
			case c == '\\' && q == '"':
				s.i++
				if !s.eof() && s.peek() == '\n' {
					s.line++
				}
				s.i++
			case c == '\n':
				s.line++
				s.i++
			case c == q && strings.HasPrefix(s.src[s.i:], strings.Repeat(delim, 3)):
				s.i += 3
				// up to two more quotes may belong to the content
				for k := 0; k < 2 && !s.eof() && s.peek() == q; k++ {
					s.i++
				}
				return
			default:
				s.i++
			}
		}
		return
	}
	s.i++
	for !s.eof() {
		switch c := s.peek(); {
		case c == '\\' && q == '"':
			s.i += 2
		case c == q:
			s.i++
			return
		case c == '\n':
			return
		default:
			s.i++
		}
	}
}
