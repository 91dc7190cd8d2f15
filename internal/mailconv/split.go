package mailconv

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wabridge/wabridge/bridge"
)

// SplitText splits s into pieces of at most max characters (Unicode code
// points, as bridge counts WhatsApp's limit), in order, for sending as
// several WhatsApp messages. A text that fits is returned as is, in one
// piece; "" gives nil. Pieces of a split text are trimmed. max < 1 means bridge.MaxTextLength.
//
// Each piece ends at the last paragraph break ("\n\n") that fits, else at
// the last sentence end (., !, ?, …, 。, ！, ？ followed by a space or line
// break), else at the last space or line break; a paragraph or sentence
// break is only used when the piece is then at least a third of max long,
// so a short greeting does not become its own message. A word longer than
// max is cut at max characters, never inside a UTF-8 sequence, and not
// inside a character sequence that draws as one symbol (before a combining
// mark, variation selector, skin-tone modifier or zero-width joiner, or
// between the two halves of a flag) unless that sequence alone is longer
// than max. Whitespace at the cut is dropped; no piece is empty.
func SplitText(s string, max int) []string {
	if max < 1 {
		max = bridge.MaxTextLength
	}
	if s == "" {
		return nil
	}
	if !longer(s, max) {
		return []string{s}
	}
	var out []string
	s = strings.TrimLeft(s, " \t\r\n")
	for longer(s, max) {
		end, next := cutPoint(s, byteOffset(s, max), max)
		out = append(out, strings.TrimRight(s[:end], " \t\r\n"))
		s = strings.TrimLeft(s[next:], " \t\r\n")
	}
	if s = strings.TrimRight(s, " \t\r\n"); s != "" {
		out = append(out, s)
	}
	return out
}

// longer reports whether s has more than max runes, looking at no more
// than max+1 of them.
func longer(s string, max int) bool {
	if len(s) <= max {
		return false
	}
	return byteOffset(s, max) < len(s)
}

// byteOffset returns the byte offset of the n-th rune of s (len(s) if s
// is shorter).
func byteOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// cutPoint chooses where the first piece ends (end) and where the rest
// begins (next). s[:win] holds max runes and s is longer, so a break
// character at win (the rune after the window) still gives a piece of
// max runes.
func cutPoint(s string, win, max int) (end, next int) {
	minByte := byteOffset(s, max/3)
	long := func(end int) bool { return end >= minByte }

	// Paragraph: the last "\n\n" starting at or before win.
	if i := strings.LastIndex(s[:min(win+2, len(s))], "\n\n"); i > 0 && long(i) && strings.TrimSpace(s[:i]) != "" {
		return i, i + 2
	}
	// Sentence: punctuation (perhaps inside closing quotes) before a space.
	for i := win; i > 0; i-- {
		if !isSpaceByte(s[i]) {
			continue
		}
		if !long(i) {
			break
		}
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if isCloser(r) {
			r, _ = utf8.DecodeLastRuneInString(s[:i-n])
		}
		if isSentenceEnd(r) {
			return i, i + 1
		}
	}
	// Word: the last space at or before win.
	for i := win; i > 0; i-- {
		if isSpaceByte(s[i]) {
			if strings.TrimSpace(s[:i]) == "" {
				break
			}
			return i, i + 1
		}
	}
	// Hard cut at max runes, moved back off a symbol's inside.
	end = win
	for end > 0 {
		next, _ := utf8.DecodeRuneInString(s[end:])
		prev, pn := utf8.DecodeLastRuneInString(s[:end])
		if !joinsPrevious(prev, next, s[:end]) {
			break
		}
		end -= pn
	}
	if end == 0 { // one symbol longer than max: cut it anyway
		end = win
	}
	return end, end
}

func isSpaceByte(b byte) bool { return b == ' ' || b == '\n' || b == '\t' || b == '\r' }

func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', '”', '’', '»', '«':
		return true
	}
	return false
}

// joinsPrevious reports whether cutting between prev and next would split
// what draws as one symbol. before is the text up to the cut.
func joinsPrevious(prev, next rune, before string) bool {
	switch {
	case prev == '\u200D' || next == '\u200D': // zero-width joiner
		return true
	case next == '\uFE0E' || next == '\uFE0F' || next == '\u20E3': // variation selectors, keycap
		return true
	case next >= 0x1F3FB && next <= 0x1F3FF: // skin tones
		return true
	case next >= 0xE0020 && next <= 0xE007F: // tag sequences (subdivision flags)
		return true
	case unicode.Is(unicode.Mn, next) || unicode.Is(unicode.Me, next):
		return true
	case isRegionalIndicator(prev) && isRegionalIndicator(next):
		// Flags pair up from the start of a run of regional indicators.
		n := 0
		for s := before; len(s) > 0; {
			r, sz := utf8.DecodeLastRuneInString(s)
			if !isRegionalIndicator(r) {
				break
			}
			n++
			s = s[:len(s)-sz]
		}
		return n%2 == 1
	}
	return false
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }
