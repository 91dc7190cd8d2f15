package mailconv

import "testing"

func TestHTMLToText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain text", "just text", "just text"},
		{"whitespace collapses", "  a \n\t b  <b> c </b>d ", "a b c d"},
		{"entities", "&lt;tag&gt; &amp;amp; &quot;q&quot; &#39;s&#39; &euro;&nbsp;5 &copy &unknown;", "<tag> &amp; \"q\" 's' € 5 © &unknown;"},
		{"br and paragraphs", "a<br>b<br/><br />c<p>d</p><p>e</p>f", "a\nb\n\nc\n\nd\n\ne\n\nf"},
		{"gmail divs", "<div>one</div><div><br></div><div>two</div><div>three</div>", "one\n\ntwo\nthree"},
		{"head script style dropped", "<html><head><title>X</title><meta charset=utf-8><style>.a{}</style></head><body><script type=\"text/javascript\">if (a < b) { document.write('<p>no</p>') }</script>yes</body></html>", "yes"},
		{"head without end", "<head><title>t</title><body>visible", "visible"},
		{"head without body tag", "<html><head><title>t</title><meta charset=utf-8>\n  Text", "Text"},
		{"comments and conditionals", "a<!-- hidden --><!--[if mso]><p>mso</p><![endif]-->b<!--[if !mso]><!-->c<!--<![endif]-->", "abc"},
		{"hidden elements", `<div style="display: none; max-height:0">preheader <div>nested</div> still</div><span hidden>h</span>shown<div style="mso-hide:all">x</div>`, "shown"},
		{"links", `<a href="https://example.com/a">Example</a> <a href="https://example.com/">https://example.com</a> <a href="http://www.example.org/">www.example.org</a> <a href="mailto:anna@example.com?subject=x">Anna</a> <a href="mailto:bob@example.com">bob@example.com</a> <a href="#top">top</a> <a href="javascript:void(0)">js</a> <a href="https://x.example/"><img src="b.png" alt="Buy"></a> <a href="https://y.example/"><img src="t.gif"></a>`,
			"Example (https://example.com/a) https://example.com www.example.org Anna (anna@example.com) bob@example.com top js Buy (https://x.example/)"},
		{"unordered list", "<p>Items:</p><ul><li>one</li><li>two<ul><li>two a</li><li>two b</li></ul></li><li>three</li></ul>after", "Items:\n\n• one\n• two\n  • two a\n  • two b\n• three\n\nafter"},
		{"ordered list", "<ol start=\"3\"><li>c</li><li>d<br>more</li></ol>", "3. c\n4. d\n  more"},
		{"headings", "<h1>Title</h1><h2>Sub</h2>text", "Title\n\nSub\n\ntext"},
		{"blockquote", "reply<blockquote>quoted<br>two<blockquote>deeper</blockquote></blockquote>after", "reply\n\n> quoted\n> two\n>\n> > deeper\n\nafter"},
		{"pre", "<pre>\n  code  line\n    indented\n</pre>x", "  code  line\n    indented\n\nx"},
		{"table", "<table><tr><td>Name</td><td>Anna</td></tr><tr><th>Order</th><td>42</td></tr></table>", "Name Anna\nOrder 42"},
		{"broken markup", "<p>unclosed <b>bold <i>it</p><div attr='x>y'>a</div>< not a tag <3 <", "unclosed bold it\n\na\n< not a tag <3 <"},
		{"truncated tag", "text <a href=\"x", "text"},
		{"uppercase tags", "<P>A</P><BR><DIV>B</DIV><SCRIPT>x</SCRIPT>", "A\n\nB"},
		{"outlook paragraphs", "<p class=MsoNormal>Hi<o:p></o:p></p><p class=MsoNormal>&nbsp;<o:p></o:p></p><p class=MsoNormal>Bye<o:p></o:p></p>", "Hi\n\nBye"},
		{"textarea", "<textarea>a &amp; <b>b</b></textarea>", "a & <b>b</b>"},
		{"self-closing div", "a<div/>b", "a\nb"},
		{"zero width", "a\u200b b", "a\u200b b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := HTMLToText(c.in); got != c.want {
				t.Errorf("HTMLToText(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}
