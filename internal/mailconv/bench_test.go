package mailconv

import (
	"strings"
	"testing"
)

func BenchmarkSplitText(b *testing.B) {
	s := strings.Repeat("word ", 200000) // 1 MB, no sentence ends
	for b.Loop() {
		SplitText(s, 4096)
	}
}

func BenchmarkParseHTML(b *testing.B) {
	mail := hdr + "Content-Type: text/html\n\n" + strings.Repeat("<div><p>Hello <a href='https://x.example/'>there</a> &amp; more</p><blockquote>q</blockquote></div>\n", 10000)
	for b.Loop() {
		if _, err := Parse(strings.NewReader(mail), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
