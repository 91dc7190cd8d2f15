package mailconv

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty", "", 10, nil},
		{"fits", "hello", 10, []string{"hello"}},
		{"exact max", "0123456789", 10, []string{"0123456789"}},
		{"fits untrimmed", "  hi  ", 10, []string{"  hi  "}},
		{"one over: word", "hello world", 10, []string{"hello", "world"}},
		{"break right after max", "0123456789 abc", 10, []string{"0123456789", "abc"}},
		{"paragraph", "First para.\n\nSecond para here.", 20, []string{"First para.", "Second para here."}},
		{"paragraph preferred to sentence", "Aaaa aaaa. Bbbb.\n\nCccc cccc cccc.", 25, []string{"Aaaa aaaa. Bbbb.", "Cccc cccc cccc."}},
		{"sentence", "One two three. Four five six seven.", 20, []string{"One two three.", "Four five six seven."}},
		{"sentence in quotes", `He said "yes." And left then.`, 20, []string{`He said "yes."`, "And left then."}},
		{"question and cjk", "Wie geht's? Gut. 今日は。明日も", 14, []string{"Wie geht's?", "Gut. 今日は。明日も"}},
		{"short paragraph not used", "Hi,\n\nthis is a much longer paragraph that goes on", 30, []string{"Hi,\n\nthis is a much longer", "paragraph that goes on"}},
		{"word", "aaa bbb ccc ddd eee", 8, []string{"aaa bbb", "ccc ddd", "eee"}},
		{"hard cut", "abcdefghijklmnop", 5, []string{"abcde", "fghij", "klmno", "p"}},
		{"hard cut multibyte", "äöüßéèêë", 3, []string{"äöü", "ßéè", "êë"}},
		{"emoji count as one", "😀😀😀😀😀", 2, []string{"😀😀", "😀😀", "😀"}},
		{"zwj family kept", "ab👨\u200d👩\u200d👧cd", 5, []string{"ab", "👨\u200d👩\u200d👧", "cd"}},
		{"skin tone kept", "abc👍🏽", 4, []string{"abc", "👍🏽"}},
		{"flags pair", "🇩🇪🇫🇷🇮🇹", 3, []string{"🇩🇪", "🇫🇷", "🇮🇹"}},
		{"symbol longer than max is cut", "👨\u200d👩\u200d👧", 3, []string{"👨\u200d👩", "\u200d👧"}},
		{"combining mark", "abce\u0301fg", 4, []string{"abc", "e\u0301fg"}},
		{"leading space dropped when split", "   aaaa bbbb", 5, []string{"aaaa", "bbbb"}},
		{"newlines between pieces", "aaaa\n\n\n\nbbbb", 5, []string{"aaaa", "bbbb"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SplitText(c.in, c.max)
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Errorf("SplitText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
			for _, p := range got {
				if !utf8.ValidString(p) {
					t.Errorf("invalid UTF-8 piece %q", p)
				}
				if utf8.RuneCountInString(p) > c.max {
					t.Errorf("piece %q over %d", p, c.max)
				}
			}
		})
	}
}

func TestSplitTextDefault(t *testing.T) {
	s := strings.Repeat("x", 4096)
	if got := SplitText(s, 0); len(got) != 1 {
		t.Fatalf("%d pieces", len(got))
	}
	got := SplitText(s+"y", 0)
	if len(got) != 2 || got[1] != "y" {
		t.Fatalf("%d pieces", len(got))
	}
}

// TestSplitTextKeepsContent checks that joining the pieces loses only
// whitespace, for texts of many shapes.
func TestSplitTextKeepsContent(t *testing.T) {
	texts := []string{
		strings.Repeat("Lorem ipsum dolor sit amet. ", 400),
		strings.Repeat("äöü😀 ", 3000),
		strings.Repeat("para one.\n\n", 900),
		strings.Repeat("🇩🇪", 5000),
	}
	for _, s := range texts {
		for _, max := range []int{1, 7, 100, 4096} {
			pieces := SplitText(s, max)
			strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if strip(strings.Join(pieces, "")) != strip(s) {
				t.Fatalf("max %d: content changed", max)
			}
			for _, p := range pieces {
				if p == "" || utf8.RuneCountInString(p) > max {
					t.Fatalf("max %d: piece of %d", max, utf8.RuneCountInString(p))
				}
			}
		}
	}
}
