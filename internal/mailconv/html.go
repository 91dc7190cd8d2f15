package mailconv

import (
	"html"
	"strconv"
	"strings"
)

// HTMLToText converts an HTML document or fragment to readable plain text
// for a chat message. It uses only the standard library: a small tokenizer
// that tolerates broken markup (never fails, never panics).
//
//   - head, script, style, title, template, svg and elements hidden with
//     display:none, mso-hide:all or the hidden attribute are dropped, and
//     so are comments (including Outlook's conditional ones);
//   - <br> is a line break; p, headings, lists, blockquote, pre, table and
//     hr separate paragraphs; div, li, tr and the other blocks end lines;
//   - list items become "• item" ("1. item" in ordered lists), nested
//     lists are indented by two spaces;
//   - blockquote lines are prefixed with "> " (so StripReply can find quoted
//     history);
//   - a link is "text (url)" when its text is not the URL itself; mailto:
//     and tel: links show the address or number; images show their alt
//     text only inside links;
//   - entities are decoded; runs of spaces collapse to one outside <pre>,
//     and no more than one blank line is kept in a row.
func HTMLToText(src string) string {
	c := &htmlConv{}
	c.run(src)
	return c.finish()
}

// Elements whose content is dropped.
var htmlDropped = map[string]bool{
	"head": true, "script": true, "style": true, "title": true, "template": true,
	"svg": true, "iframe": true, "noembed": true, "noframes": true, "object": true, "xmp": true,
}

// Elements whose content is raw text: no tags inside until the end tag.
var htmlRawText = map[string]bool{
	"script": true, "style": true, "title": true, "textarea": true, "xmp": true,
	"iframe": true, "noembed": true, "noframes": true,
}

var htmlVoid = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "param": true, "source": true, "track": true, "wbr": true,
}

// Blocks that separate paragraphs (a blank line) and blocks that end lines.
var (
	htmlParagraph = map[string]bool{
		"p": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
		"hr": true, "dl": true, "figure": true,
	}
	htmlLine = map[string]bool{
		"div": true, "tr": true, "dt": true, "dd": true, "section": true, "article": true,
		"header": true, "footer": true, "nav": true, "aside": true, "main": true, "center": true,
		"fieldset": true, "caption": true, "details": true, "summary": true, "address": true,
		"form": true, "table": true, "option": true, "legend": true, "figcaption": true, "body": true,
	}
)

// maxHTMLIndent caps the quote and list levels shown, so deeply nested
// markup cannot multiply the output.
const maxHTMLIndent = 8

type htmlTag struct {
	name        string
	end         bool
	selfClosing bool
	attrs       map[string]string
}

type htmlList struct {
	ordered bool
	n       int
}

type htmlLink struct {
	href string
	text strings.Builder
}

type htmlConv struct {
	out strings.Builder

	lineLen      int // bytes written on the current output line, prefix included
	lineQuote    int // quote depth of the last line text was written on
	pendingNL    int // line breaks owed before the next text
	pendingSpace bool
	started      bool // some text was written

	quote  int
	pre    int
	inLI   int
	lists  []htmlList
	bullet string
	links  []*htmlLink

	skip      string // element whose content is being dropped
	skipDepth int
}

func (c *htmlConv) run(src string) {
	i := 0
	for i < len(src) {
		if src[i] != '<' {
			j := strings.IndexByte(src[i:], '<')
			if j < 0 {
				j = len(src)
			} else {
				j += i
			}
			c.text(src[i:j])
			i = j
			continue
		}
		// src[i] == '<'
		rest := src[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return
			}
			i += 4 + end + 3
		case strings.HasPrefix(rest, "</"):
			if len(rest) > 2 && isASCIILetter(rest[2]) {
				t, n := parseHTMLTag(rest)
				if n < 0 {
					return
				}
				c.tag(t)
				i += n
			} else {
				// Bogus comment up to the next '>'.
				end := strings.IndexByte(rest, '>')
				if end < 0 {
					return
				}
				i += end + 1
			}
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return
			}
			i += end + 1
		case len(rest) > 1 && isASCIILetter(rest[1]):
			t, n := parseHTMLTag(rest)
			if n < 0 {
				return
			}
			i += n
			c.tag(t)
			if htmlRawText[t.name] && !t.selfClosing {
				end := indexEndTag(src, i, t.name)
				if end < 0 {
					end = len(src)
				}
				if t.name == "textarea" && c.skip == "" {
					c.text(src[i:end])
				}
				i = end
			}
		default:
			c.text("<")
			i++
		}
	}
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// parseHTMLTag reads a start or end tag at the start of s; it returns the
// tag and its length, or -1 when s ends inside the tag.
func parseHTMLTag(s string) (htmlTag, int) {
	var t htmlTag
	i := 1
	if s[i] == '/' {
		t.end = true
		i++
	}
	start := i
	for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '/' && s[i] != '>' {
		i++
	}
	t.name = strings.ToLower(s[start:i])
	for {
		for i < len(s) && (isHTMLSpace(s[i]) || s[i] == '/') {
			if s[i] == '/' && i+1 < len(s) && s[i+1] == '>' {
				t.selfClosing = true
			}
			i++
		}
		if i >= len(s) {
			return t, -1
		}
		if s[i] == '>' {
			return t, i + 1
		}
		// Attribute name (a leading '=' belongs to the name, as in HTML).
		ns := i
		i++
		for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=' {
			i++
		}
		name := strings.ToLower(s[ns:i])
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		val := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isHTMLSpace(s[i]) {
				i++
			}
			if i >= len(s) {
				return t, -1
			}
			if q := s[i]; q == '"' || q == '\'' {
				end := strings.IndexByte(s[i+1:], q)
				if end < 0 {
					return t, -1
				}
				val = s[i+1 : i+1+end]
				i += end + 2
			} else {
				vs := i
				for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '>' {
					i++
				}
				val = s[vs:i]
			}
		}
		if t.attrs == nil {
			t.attrs = map[string]string{}
		}
		if _, dup := t.attrs[name]; !dup {
			t.attrs[name] = html.UnescapeString(val)
		}
	}
}

func isHTMLSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f'
}

// indexEndTag finds the end tag </name (any case) at or after from.
func indexEndTag(src string, from int, name string) int {
	for j := from; j < len(src); {
		k := strings.Index(src[j:], "</")
		if k < 0 {
			return -1
		}
		k += j
		rest := src[k+2:]
		if len(rest) >= len(name) && strings.EqualFold(rest[:len(name)], name) {
			if len(rest) == len(name) || isHTMLSpace(rest[len(name)]) || rest[len(name)] == '/' || rest[len(name)] == '>' {
				return k
			}
		}
		j = k + 2
	}
	return -1
}

// hidden reports whether a start tag hides its element.
func hidden(t htmlTag) bool {
	if _, ok := t.attrs["hidden"]; ok {
		return true
	}
	style := strings.ToLower(strings.Join(strings.Fields(t.attrs["style"]), ""))
	return strings.Contains(style, "display:none") || strings.Contains(style, "mso-hide:all")
}

func (c *htmlConv) tag(t htmlTag) {
	if c.skip != "" {
		switch {
		case c.skip == "head" && !t.end && t.name == "body":
			c.skip, c.skipDepth = "", 0
		case t.name != c.skip || htmlVoid[t.name]:
		case t.end:
			c.skipDepth--
			if c.skipDepth == 0 {
				c.skip = ""
			}
		case !t.selfClosing:
			c.skipDepth++
		}
		return
	}
	if !t.end && !htmlVoid[t.name] && !t.selfClosing && (htmlDropped[t.name] || hidden(t)) {
		c.skip, c.skipDepth = t.name, 1
		return
	}
	if !t.end && htmlVoid[t.name] && hidden(t) {
		return
	}
	if t.end {
		c.endTag(t.name)
		return
	}
	c.startTag(t)
	if t.selfClosing && !htmlVoid[t.name] {
		c.endTag(t.name)
	}
}

func (c *htmlConv) startTag(t htmlTag) {
	switch name := t.name; {
	case name == "br":
		c.pendingNL++
		c.pendingSpace = false
	case name == "li":
		c.brk(1)
		c.inLI++
		if n := len(c.lists); n > 0 && c.lists[n-1].ordered {
			c.lists[n-1].n++
			c.bullet = strconv.Itoa(c.lists[n-1].n) + ". "
		} else {
			c.bullet = "• "
		}
	case name == "ul" || name == "ol" || name == "menu":
		if len(c.lists) > 0 {
			c.brk(1)
		} else {
			c.brk(2)
		}
		l := htmlList{ordered: name == "ol"}
		if s, err := strconv.Atoi(strings.TrimSpace(t.attrs["start"])); err == nil && l.ordered && s > -1000000 && s < 1000000 {
			l.n = s - 1
		}
		c.lists = append(c.lists, l)
	case name == "blockquote":
		c.brk(2)
		c.quote++
	case name == "pre":
		c.brk(2)
		c.pre++
	case name == "a":
		c.links = append(c.links, &htmlLink{href: strings.TrimSpace(t.attrs["href"])})
	case name == "img":
		if alt := strings.TrimSpace(t.attrs["alt"]); alt != "" && len(c.links) > 0 {
			c.text(" " + alt + " ")
		}
	case name == "td" || name == "th":
		c.pendingSpace = true
	case htmlParagraph[name]:
		c.brk(2)
	case htmlLine[name]:
		c.brk(1)
	}
}

func (c *htmlConv) endTag(name string) {
	switch {
	case name == "li":
		c.brk(1)
		if c.inLI > 0 {
			c.inLI--
		}
		c.bullet = ""
	case name == "ul" || name == "ol" || name == "menu":
		if len(c.lists) > 0 {
			c.lists = c.lists[:len(c.lists)-1]
		}
		if len(c.lists) > 0 {
			c.brk(1)
		} else {
			c.brk(2)
		}
	case name == "blockquote":
		if c.quote > 0 {
			c.quote--
		}
		c.brk(2)
	case name == "pre":
		if c.pre > 0 {
			c.pre--
		}
		c.brk(2)
	case name == "a":
		if n := len(c.links); n > 0 {
			l := c.links[n-1]
			c.links = c.links[:n-1]
			text := strings.Join(strings.Fields(l.text.String()), " ")
			if u := linkTarget(l.href); u != "" && text != "" && !sameURL(text, u) {
				c.pendingSpace = true
				c.text("(" + u + ")")
			}
		}
	case name == "td" || name == "th":
		c.pendingSpace = true
	case htmlParagraph[name]:
		c.brk(2)
	case htmlLine[name]:
		c.brk(1)
	}
}

// linkTarget returns what to show for a link's href: web and ftp URLs as
// they are, mailto: and tel: without the scheme (and query); "" for
// anything else (anchors, javascript:, cid:).
func linkTarget(href string) string {
	l := strings.ToLower(href)
	switch {
	case strings.HasPrefix(l, "http://"), strings.HasPrefix(l, "https://"), strings.HasPrefix(l, "ftp://"):
		return href
	case strings.HasPrefix(l, "mailto:"), strings.HasPrefix(l, "tel:"):
		v := href[strings.IndexByte(href, ':')+1:]
		if i := strings.IndexByte(v, '?'); i >= 0 {
			v = v[:i]
		}
		return strings.TrimSpace(pctDecode(v))
	}
	return ""
}

// sameURL reports whether a link's text only repeats its target.
func sameURL(text, u string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"https://", "http://", "ftp://", "mailto:", "tel:"} {
			s = strings.TrimPrefix(s, p)
		}
		s = strings.TrimPrefix(s, "www.")
		s = strings.TrimRight(s, "/")
		return strings.Trim(s, "<>")
	}
	return norm(text) == norm(u)
}

// brk asks for n line breaks (1: end of line, 2: blank line) before the
// next text.
func (c *htmlConv) brk(n int) {
	if n > c.pendingNL {
		c.pendingNL = n
	}
	c.pendingSpace = false
}

func (c *htmlConv) text(raw string) {
	if c.skip == "head" && strings.TrimSpace(raw) != "" {
		// Text cannot be in a head: the body has begun without its tag.
		c.skip, c.skipDepth = "", 0
	}
	if c.skip != "" || raw == "" {
		return
	}
	s := html.UnescapeString(raw)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if c.pre > 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				c.pendingNL++
			}
			if line != "" {
				c.word(line)
			}
		}
		return
	}
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || isHTMLSpace(s[i]) {
			if start >= 0 {
				c.word(s[start:i])
				start = -1
			}
			if i < len(s) {
				c.pendingSpace = true
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
}

// word writes text with no collapsible space, first settling pending
// breaks, the line prefix and a pending space.
func (c *htmlConv) word(w string) {
	if !c.started {
		c.pendingNL = 0
	}
	if c.pendingNL > 0 {
		for i := 0; i < c.pendingNL; i++ {
			c.out.WriteByte('\n')
			if i < c.pendingNL-1 {
				if q := min(c.lineQuote, c.quote, maxHTMLIndent); q > 0 {
					c.out.WriteString(strings.Repeat(">", q))
				}
			}
		}
		c.lineLen = 0
		c.pendingNL = 0
		c.pendingSpace = false
	}
	if c.lineLen == 0 {
		prefix := strings.Repeat("> ", min(c.quote, maxHTMLIndent))
		if n := len(c.lists); n > 1 {
			prefix += strings.Repeat("  ", min(n-1, maxHTMLIndent))
		}
		if c.bullet != "" {
			prefix += c.bullet
			c.bullet = ""
		} else if c.inLI > 0 {
			prefix += "  "
		}
		c.out.WriteString(prefix)
		c.lineLen += len(prefix)
		c.lineQuote = c.quote
		c.pendingSpace = false
	} else if c.pendingSpace {
		c.out.WriteByte(' ')
		c.lineLen++
		for _, l := range c.links {
			l.text.WriteByte(' ')
		}
	}
	c.pendingSpace = false
	c.out.WriteString(w)
	c.lineLen += len(w)
	c.started = true
	for _, l := range c.links {
		l.text.WriteString(w)
	}
}

// finish trims line ends and keeps at most one blank line in a row.
func (c *htmlConv) finish() string {
	lines := strings.Split(c.out.String(), "\n")
	var out []string
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimLeft(l, "> ") == "" && !strings.HasPrefix(l, ">") {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}
