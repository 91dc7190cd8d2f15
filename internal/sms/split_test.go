package sms

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSplitSizes(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		coding Coding
		lens   []int // octets per part
	}{
		{name: "empty", text: "", coding: CodingDefault, lens: []int{0}},
		{name: "160 GSM", text: strings.Repeat("a", 160), coding: CodingDefault, lens: []int{160}},
		{name: "161 GSM", text: strings.Repeat("a", 161), coding: CodingDefault, lens: []int{153, 8}},
		{name: "306 GSM", text: strings.Repeat("a", 306), coding: CodingDefault, lens: []int{153, 153}},
		{name: "307 GSM", text: strings.Repeat("a", 307), coding: CodingDefault, lens: []int{153, 153, 1}},
		{name: "80 euros = 160 septets", text: strings.Repeat("€", 80), coding: CodingDefault, lens: []int{160}},
		{name: "81 euros", text: strings.Repeat("€", 81), coding: CodingDefault, lens: []int{152, 10}},
		// septet 153 would be the ESC of '€': the whole '€' moves on.
		{name: "euro straddles 153", text: strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10), coding: CodingDefault, lens: []int{152, 12}},
		{name: "euro ends at 153", text: strings.Repeat("a", 151) + "€" + strings.Repeat("b", 10), coding: CodingDefault, lens: []int{153, 10}},
		{name: "70 UCS2", text: strings.Repeat("你", 70), coding: CodingUCS2, lens: []int{140}},
		{name: "71 UCS2", text: strings.Repeat("你", 71), coding: CodingUCS2, lens: []int{134, 8}},
		{name: "35 emoji = 70 units", text: strings.Repeat("😀", 35), coding: CodingUCS2, lens: []int{140}},
		// unit 67 would be the high surrogate of the emoji: it moves on whole.
		{name: "emoji straddles 67", text: strings.Repeat("你", 66) + "😀" + strings.Repeat("好", 10), coding: CodingUCS2, lens: []int{132, 24}},
		{name: "emoji ends at 67", text: strings.Repeat("你", 65) + "😀" + strings.Repeat("好", 10), coding: CodingUCS2, lens: []int{134, 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, parts := Split(tc.text)
			if c != tc.coding {
				t.Fatalf("coding = %v, want %v", c, tc.coding)
			}
			var lens []int
			for _, p := range parts {
				lens = append(lens, len(p))
			}
			if !equalInts(lens, tc.lens) {
				t.Fatalf("part lengths = %v, want %v", lens, tc.lens)
			}
			checkParts(t, tc.text, c, parts)
		})
	}
}

func TestSplitStraddleContent(t *testing.T) {
	_, parts := Split(strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10))
	if !bytes.HasPrefix(parts[1], []byte{0x1B, 0x65}) {
		t.Fatalf("part 2 = % X, want it to start with ESC 65", parts[1])
	}
	_, parts = Split(strings.Repeat("你", 66) + "😀" + strings.Repeat("好", 4))
	if !bytes.HasPrefix(parts[1], h("D8 3D DE 00")) {
		t.Fatalf("part 2 = % X, want it to start with D83D DE00", parts[1])
	}
}

func TestSplitPartsDoNotAlias(t *testing.T) {
	_, parts := Split(strings.Repeat("x", 200))
	_ = append(parts[0], 'Z')
	if parts[1][0] != 'x' {
		t.Fatal("appending to part 1 overwrote part 2")
	}
}

// checkParts verifies the segment limits and that the decoded parts, each
// decodable on its own, concatenate to text.
func checkParts(t *testing.T, text string, c Coding, parts [][]byte) {
	t.Helper()
	single, part := GSMSingle, GSMPart
	if c == CodingUCS2 {
		single, part = 2*UCS2Single, 2*UCS2Part
	}
	var sb strings.Builder
	for i, p := range parts {
		if len(parts) == 1 && len(p) > single || len(parts) > 1 && len(p) > part {
			t.Fatalf("part %d has %d octets", i, len(p))
		}
		if len(parts) > 1 && len(p) == 0 {
			t.Fatalf("part %d is empty", i)
		}
		s, err := Decode(c, p, CodingDefault)
		if err != nil {
			t.Fatalf("part %d (% X): %v", i, p, err)
		}
		sb.WriteString(s)
	}
	if sb.String() != text {
		t.Fatalf("joined parts = %q, want %q", sb.String(), text)
	}
}

func TestSplitMixedTexts(t *testing.T) {
	pools := [][]rune{
		[]rune("abcdefghij ABC 0123456789.,!?@£$¥èéÄÖÜß"),
		[]rune("abc €[]{}~\\^|€€€"),
		[]rune("abc 你好😀🇩🇪€Ж"),
		[]rune("😀😁😂🤣"),
		[]rune("€a"),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pool := range pools {
		for range 200 {
			n := rng.IntN(700)
			r := make([]rune, n)
			for i := range r {
				r[i] = pool[rng.IntN(len(pool))]
			}
			text := string(r)
			c, parts := Split(text)
			checkParts(t, text, c, parts)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func benchText(pattern string, n int) string {
	r := []rune(strings.Repeat(pattern, n/len([]rune(pattern))+1))
	return string(r[:n])
}

func BenchmarkSplitGSM(b *testing.B) {
	text := benchText("The quick brown fox jumps over the lazy dog for 5€ {ok}. ", 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if c, parts := Split(text); c != CodingDefault || len(parts) < 7 {
			b.Fatal(c, len(parts))
		}
	}
}

func BenchmarkSplitUCS2(b *testing.B) {
	text := benchText("Привет, 世界! Доставлено 😀 сообщение. ", 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if c, parts := Split(text); c != CodingUCS2 || len(parts) < 15 {
			b.Fatal(c, len(parts))
		}
	}
}
