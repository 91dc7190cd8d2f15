package mailconv

import (
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wabridge/wabridge/bridge"
)

// crlf makes a test mail's line ends CRLF, as SMTP delivers them.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

const hdr = "From: Support <support@example.com>\nTo: 4915112345678@wa.example.com\nDate: Fri, 14 Mar 2025 10:00:00 +0100\nMessage-ID: <m1@example.com>\n"

var b64Photo = base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0 a tiny jpeg"))

// parseCases are the test mails; FuzzParse starts from them.
var parseCases = []struct {
	name, mail string
	text       string
	subject    string
	atts       []string // "name|type|kind|size"
}{
	{name: "plain", mail: hdr + "Subject: Order\n\nYour order ships today.\n\nThanks!\n",
		text: "Your order ships today.\n\nThanks!", subject: "Order"},
	{name: "plain crlf trailing space", mail: crlf(hdr + "Subject: x\n\nHello   \nworld\t\n\n\n"), text: "Hello\nworld", subject: "x"},
	{name: "no content-type, 8bit latin1 guessed", mail: hdr + "\nGr\xfc\xdfe aus K\xf6ln\n", text: "Grüße aus Köln"},
	{name: "html only", mail: hdr + "Content-Type: text/html; charset=utf-8\n\n" + `<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>
<script>alert("x")</script></head><body><h1>Hello&nbsp;Anna</h1><p>Your order &amp; invoice are <b>ready</b>.<br>See
<a href="https://shop.example.com/o/1">your order</a> or https://x.example &lt;here&gt;.</p>
<ul><li>One</li><li>Two <a href="https://two.example.com/">https://two.example.com</a></li></ul>
<ol><li>first</li><li>second</li></ol><p>Caf&eacute; &#8364;5 &#x1F600;</p></body></html>`,
		text: "Hello Anna\n\nYour order & invoice are ready.\nSee your order (https://shop.example.com/o/1) or https://x.example <here>.\n\n• One\n• Two https://two.example.com\n\n1. first\n2. second\n\nCafé €5 😀"},
	{name: "alternative prefers plain", mail: hdr + `Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Plain version
--alt
Content-Type: text/html; charset=utf-8

<p>HTML version</p>
--alt--
`, text: "Plain version"},
	{name: "alternative with empty plain uses html", mail: hdr + `Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8


--alt
Content-Type: text/html; charset=utf-8

<div>HTML <i>only</i></div>
--alt--
`, text: "HTML only"},
	{name: "nested mixed alternative attachments", mail: hdr + `Subject: Photos
Content-Type: multipart/mixed; boundary="mix"

preamble
--mix
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

See the attached photo and =
invoice.
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See the <img src="cid:logo"> attached photo</p>
--rel
Content-Type: image/png
Content-ID: <logo>
Content-Disposition: inline

iVBORw0KGgo=
--rel--
--alt--
--mix
Content-Type: image/jpeg; name="photo.jpg"
Content-Disposition: attachment; filename="photo.jpg"
Content-Transfer-Encoding: base64

` + b64Photo + `
--mix
Content-Type: application/pdf
Content-Disposition: attachment; filename=invoice.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjcK
--mix--
epilogue
`, text: "See the attached photo and invoice.", subject: "Photos",
		atts: []string{"photo.jpg|image/jpeg|image|16", "invoice.pdf|application/pdf|document|9"}},
	{name: "iso-8859-1", mail: hdr + "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: 8bit\n\nGr\xfc\xdfe aus K\xf6ln\n", text: "Grüße aus Köln"},
	{name: "windows-1252 quoted-printable", mail: hdr + "Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n=80 5 =93quoted=94 =96 test\n", text: "€ 5 “quoted” – test"},
	{name: "shift_jis base64", mail: hdr + "Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString([]byte("\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x81\x41\x90\xa2\x8a\x45")) + "\n", text: "こんにちは、世界"},
	{name: "koi8-r", mail: hdr + "Content-Type: text/plain; charset=\"koi8-r\"\n\n\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2\n", text: "Привет, мир"},
	{name: "unknown charset", mail: hdr + "Content-Type: text/plain; charset=x-no-such\n\nplain ascii\n", text: "plain ascii"},
	{name: "html charset from meta", mail: hdr + "Content-Type: text/html\n\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-15\"></head><body>\xa4 10</body></html>\n", text: "€ 10"},
	{name: "encoded words", mail: "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus?= =?UTF-8?Q?_K=C3=B6ln?=\n\nHallo\n",
		text: "Hallo", subject: "Grüße aus Köln"},
	{name: "rfc2231 filenames", mail: hdr + `Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

see files
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename*=iso-8859-1''Rechnung%20M%E4rz.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjcK
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC%20price; filename*1=" list.xlsx"
Content-Transfer-Encoding: base64

UEsDBA==
--b
Content-Type: image/png; name="=?utf-8?q?Bild_=C3=BC.png?="
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b--
`, text: "see files", atts: []string{
		"Rechnung März.pdf|application/pdf|document|9",
		"€ price list.xlsx|application/vnd.openxmlformats-officedocument.spreadsheetml.sheet|document|4",
		"Bild ü.png|image/png|image|8"}},
	{name: "gmail reply", mail: hdr + `Subject: Re: WhatsApp from Anna: Where is my order?
In-Reply-To: <wamid.ABC=@wa.example.com>
References: <first@example.com> <wamid.ABC=@wa.example.com>

It ships today, tracking follows.

On Fri, Mar 14, 2025 at 9:26 AM Anna Example <
4915112345678@wa.example.com> wrote:

> Where is my order?
> I ordered it last week.
>
`, text: "It ships today, tracking follows.", subject: "Re: WhatsApp from Anna: Where is my order?"},
	{name: "gmail html reply", mail: hdr + "Content-Type: text/html; charset=UTF-8\n\n" +
		`<div dir="ltr">Sure, <b>tomorrow</b>.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Mar 14, 2025 at 9:26 AM Anna &lt;<a href="mailto:4915112345678@wa.example.com">4915112345678@wa.example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Can you come?<br>Please.</blockquote></div>`,
		text: "Sure, tomorrow."},
	{name: "outlook reply", mail: hdr + `Subject: RE: Order

Yes, confirmed.

Best regards
Support

-----Original Message-----
From: Anna Example <4915112345678@wa.example.com>
Sent: Friday, March 14, 2025 9:26 AM
To: support@example.com
Subject: Order

Where is my order?
`, text: "Yes, confirmed.\n\nBest regards\nSupport"},
	{name: "outlook header block", mail: hdr + `
Confirmed.

________________________________
From: Anna Example <4915112345678@wa.example.com>
Sent: Friday, March 14, 2025 09:26
To: Support
Subject: Order

Where is my order?
`, text: "Confirmed."},
	{name: "german reply", mail: hdr + `
Ja, heute noch.

Am 14.03.2025 um 09:26 schrieb Anna Example <4915112345678@wa.example.com>:
> Wo ist meine Bestellung?
`, text: "Ja, heute noch."},
	{name: "french reply", mail: hdr + "\nOui.\n\nLe ven. 14 mars 2025 à 09:26, Anna <a@b.c> a écrit :\n> Où est ma commande ?\n", text: "Oui."},
	{name: "spanish reply", mail: hdr + "\nSí.\n\nEl vie, 14 mar 2025 a las 9:26, Anna (<a@b.c>) escribió:\n> ¿Dónde está?\n", text: "Sí."},
	{name: "outlook html reply", mail: hdr + "Subject: RE: Order\nContent-Type: text/html; charset=\"us-ascii\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
		`<html xmlns:o=3D"urn:schemas-microsoft-com:office:office"><head><style><!--p.MsoNormal{margin:0cm}--></style></head><body lang=3DDE>=
<div class=3DWordSection1><p class=3DMsoNormal>Confirmed, it ships today.<o:p></o:p></p><p class=3DMsoNormal><o:p>&nbsp;</o:p></p>=
<div style=3D"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class=3DMsoNormal><b>From:</b> Anna &lt;4915112345678@wa.example.com&gt; <br><b>Sent:</b> Friday, March 14, 2025 9:26 AM<br><b>To:</b> Support &lt;support@example.com&gt;<br><b>Subject:</b> Order<o:p></o:p></p></div>=
<p class=3DMsoNormal>Where is my order?<o:p></o:p></p></div></body></html>`,
		text: "Confirmed, it ships today."},
	{name: "encoded words in other charsets", mail: "From: =?koi8-r?B?8NLJ18XU?= <ivan@example.ru>\nSubject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\n\nx\n",
		text: "x", subject: "こんにちは"},
	{name: "signature", mail: hdr + "\nSee you.\n\n-- \nJane Support\nExample Inc.\n", text: "See you."},
	{name: "interleaved reply kept", mail: hdr + `
On Fri, Anna wrote:
> Question one?
Answer one.
> Question two?
Answer two.
`, text: "On Fri, Anna wrote:\n> Question one?\nAnswer one.\n> Question two?\nAnswer two."},
	{name: "forward not stripped", mail: hdr + `
FYI

---------- Forwarded message ---------
From: Bob <bob@example.com>
Date: Fri, 14 Mar 2025
Subject: Delivery
To: Support <support@example.com>

The parcel left.
`, text: "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Fri, 14 Mar 2025\nSubject: Delivery\nTo: Support <support@example.com>\n\nThe parcel left."},
	{name: "flowed", mail: hdr + "Content-Type: text/plain; charset=utf-8; format=flowed\n\nThis is a long \nflowed paragraph.\n\nSecond line\n", text: "This is a long flowed paragraph.\n\nSecond line"},
	{name: "x-whatsapp-from", mail: hdr + "X-WhatsApp-From: +1 555 0100 002\n\nhi\n", text: "hi"},
	{name: "signed", mail: hdr + `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"

--s
Content-Type: text/plain

signed text
--s
Content-Type: application/pkcs7-signature; name=smime.p7s
Content-Disposition: attachment; filename=smime.p7s
Content-Transfer-Encoding: base64

MIAGCSqGSIb3DQEHAqCAMIACAQE=
--s--
`, text: "signed text"},
	{name: "attachment kinds", mail: hdr + `Content-Type: multipart/mixed; boundary=k

--k
Content-Type: video/mp4; name=clip.mp4
Content-Disposition: attachment
Content-Transfer-Encoding: base64

AAAA
--k
Content-Type: audio/mpeg
Content-Disposition: attachment; filename=song.mp3
Content-Transfer-Encoding: base64

AAAA
--k
Content-Type: image/webp
Content-Disposition: attachment; filename=sticker.webp
Content-Transfer-Encoding: base64

AAAA
--k
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename=notes.txt

a text file
--k
Content-Type: application/zip
Content-Disposition: attachment; filename="../../etc/archive.zip"
Content-Transfer-Encoding: base64

UEsDBA==
--k
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="C:\\Users\\me\\scan.PDF"
Content-Transfer-Encoding: base64

JVBERi0=
--k--
`, atts: []string{"clip.mp4|video/mp4|video|3", "song.mp3|audio/mpeg|audio|3", "sticker.webp|image/webp|sticker|3",
		"notes.txt|text/plain|document|11", "archive.zip|application/zip|document|4", "scan.PDF|application/pdf|document|5"}},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(c.mail), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Text != c.text {
				t.Errorf("Text = %q\nwant   %q", p.Text, c.text)
			}
			if c.subject != "" && p.Subject != c.subject {
				t.Errorf("Subject = %q, want %q", p.Subject, c.subject)
			}
			var atts []string
			for _, a := range p.Attachments {
				atts = append(atts, a.Filename+"|"+a.MIMEType+"|"+string(a.Kind)+"|"+strconv.FormatInt(a.Size, 10))
				r, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r)
				if int64(len(b)) != a.Size {
					t.Errorf("%s: Open gives %d bytes, Size %d", a.Filename, len(b), a.Size)
				}
			}
			if strings.Join(atts, "\n") != strings.Join(c.atts, "\n") {
				t.Errorf("attachments:\n%s\nwant:\n%s", strings.Join(atts, "\n"), strings.Join(c.atts, "\n"))
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	p, err := Parse(strings.NewReader(parseCases[indexOf("gmail reply")].mail), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.MessageID != "<m1@example.com>" || p.InReplyTo != "<wamid.ABC=@wa.example.com>" ||
		strings.Join(p.References, " ") != "<first@example.com> <wamid.ABC=@wa.example.com>" {
		t.Errorf("ids: %q %q %q", p.MessageID, p.InReplyTo, p.References)
	}
	if w, ok := WAMIDFromMessageID(p.InReplyTo, "wa.example.com"); !ok || w != "wamid.ABC=" {
		t.Errorf("wamid of In-Reply-To: %q %v", w, ok)
	}
	if p.From != "support@example.com" || p.FromName != "Support" {
		t.Errorf("From %q %q", p.From, p.FromName)
	}
	if p.Date.IsZero() || p.Date.UTC().Hour() != 9 {
		t.Errorf("Date %v", p.Date)
	}
	if p.Header("to") != "4915112345678@wa.example.com" || p.Header("X-Nope") != "" {
		t.Errorf("Header: %q", p.Header("to"))
	}

	p, _ = Parse(strings.NewReader(parseCases[indexOf("encoded words")].mail), Options{})
	if p.FromName != "Jürgen Müller" || p.From != "juergen@example.de" {
		t.Errorf("encoded From: %q <%s>", p.FromName, p.From)
	}
	p, _ = Parse(strings.NewReader(parseCases[indexOf("encoded words in other charsets")].mail), Options{})
	if p.FromName != "Привет" {
		t.Errorf("KOI8-R From name: %q", p.FromName)
	}
	p, _ = Parse(strings.NewReader(parseCases[indexOf("x-whatsapp-from")].mail), Options{})
	if p.WhatsAppFrom != "+1 555 0100 002" {
		t.Errorf("WhatsAppFrom %q", p.WhatsAppFrom)
	}
	// A From net/mail refuses is still read.
	p, err = Parse(strings.NewReader("From: Broken, Name <b@example.com>\nIn-Reply-To: bare@id.example\n\nx\n"), Options{})
	if err != nil || p.From != "b@example.com" || p.InReplyTo != "<bare@id.example>" {
		t.Errorf("lenient headers: %v %q %q", err, p.From, p.InReplyTo)
	}
	// Python's email (policy.SMTP) encodes a message id longer than a
	// line as encoded words; the id is still read.
	p, err = Parse(strings.NewReader("From: a@example.com\r\n"+
		"In-Reply-To: =?utf-8?q?=3Cwamid=2EHBgNNDkxNTExMjM0MDIwMRUCABEYEkZBNjVGNzVFQT?=\r\n"+
		" =?utf-8?q?dENUNERDM4NwA=3D=40wa=2Eexample=2Ecom=3E?=\r\n\r\nx\r\n"), Options{})
	if want := "<wamid.HBgNNDkxNTExMjM0MDIwMRUCABEYEkZBNjVGNzVFQTdENUNERDM4NwA=@wa.example.com>"; err != nil || p.InReplyTo != want {
		t.Errorf("encoded In-Reply-To: %v %q", err, p.InReplyTo)
	}
}

func indexOf(name string) int {
	for i, c := range parseCases {
		if c.name == name {
			return i
		}
	}
	panic(name)
}

func TestParseSubjectModes(t *testing.T) {
	mail := hdr + "Subject: Delivery update\n\nIt ships today.\n"
	empty := hdr + "Subject: Call me back\n\n-- \nsig only\n"
	reply := hdr + "Subject: Re: Delivery\nIn-Reply-To: <x@y>\n\nOK\n"
	for _, c := range []struct {
		mode, mail, want string
	}{
		{"", mail, "It ships today."},
		{SubjectIgnore, empty, ""},
		{SubjectPrepend, mail, "*Delivery update*\n\nIt ships today."},
		{SubjectPrepend, empty, "*Call me back*"},
		{SubjectPrepend, reply, "OK"},
		{SubjectOnlyIfNoBody, mail, "It ships today."},
		{SubjectOnlyIfNoBody, empty, "Call me back"},
	} {
		p, err := Parse(strings.NewReader(c.mail), Options{Subject: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != c.want {
			t.Errorf("mode %q: %q, want %q", c.mode, p.Text, c.want)
		}
	}
	if _, err := Parse(strings.NewReader(mail), Options{Subject: "bogus"}); err == nil {
		t.Error("unknown subject mode accepted")
	}
}

func TestParseTextParts(t *testing.T) {
	body := strings.Repeat("word ", 1000) // 5000 characters
	p, err := Parse(strings.NewReader(hdr+"\n"+body+"\n"), Options{MaxTextLength: 2000})
	if err != nil {
		t.Fatal(err)
	}
	parts := p.TextParts()
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	for _, s := range parts {
		if n := utf8.RuneCountInString(s); n > 2000 {
			t.Errorf("part of %d characters", n)
		}
	}
	p, _ = Parse(strings.NewReader(hdr+"\n"+body+"\n"), Options{})
	if len(p.TextParts()) != 2 {
		t.Errorf("default limit: %d parts", len(p.TextParts()))
	}
}

func TestCheckAttachment(t *testing.T) {
	p, err := Parse(strings.NewReader(parseCases[indexOf("attachment kinds")].mail), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Attachments {
		err := CheckAttachment(a)
		if a.Filename == "archive.zip" {
			var re *bridge.RefusedError
			if !errors.As(err, &re) || re.Reason != bridge.ReasonMediaUnsupported || !strings.Contains(re.Msg, "archive.zip") {
				t.Errorf("zip: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", a.Filename, err)
		}
	}
	big := Attachment{Filename: "big.jpg", MIMEType: "image/jpeg", Kind: bridge.KindImage, Size: 5*bridge.MiB + 1}
	var re *bridge.RefusedError
	if err := CheckAttachment(big); !errors.As(err, &re) || re.Reason != bridge.ReasonMediaTooLarge {
		t.Errorf("oversize image: %v", err)
	}
	gif := Attachment{Filename: "a.gif", MIMEType: "image/gif", Kind: KindFor("image/gif"), Size: 10}
	if err := CheckAttachment(gif); !errors.As(err, &re) || re.Reason != bridge.ReasonMediaUnsupported {
		t.Errorf("gif: %v", err)
	}
	sticker := Attachment{Filename: "s.webp", MIMEType: "image/webp", Kind: bridge.KindSticker, Size: 200 * bridge.KiB}
	if err := CheckAttachment(sticker); !errors.As(err, &re) || re.Reason != bridge.ReasonMediaTooLarge {
		t.Errorf("large sticker: %v", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := base64.StdEncoding.EncodeToString(make([]byte, 3000))
	mail := hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=big.pdf\nContent-Transfer-Encoding: base64\n\n" + data + "\n--b--\n"
	_, err := Parse(strings.NewReader(mail), Options{MaxAttachmentBytes: 1000})
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Filename != "big.pdf" || tl.Limit != 1000 || tl.Size != 3002 {
		t.Fatalf("err = %#v", err)
	}
	if _, err := Parse(strings.NewReader(mail), Options{MaxAttachmentBytes: 3002}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, mail := range map[string]string{
		"no closing boundary": hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n",
		"wrong boundary":      hdr + "Content-Type: multipart/mixed; boundary=b\n\n--c\nContent-Type: text/plain\n\nhi\n--c--\n",
		"no boundary":         hdr + "Content-Type: multipart/mixed\n\n--b\n\nhi\n--b--\n",
		"bad base64":          hdr + "Content-Type: image/png; name=a.png\nContent-Transfer-Encoding: base64\n\niVBORw0KG!!!go=\n",
		"bad base64 in part":  hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n%%%%\n--b--\n",
		"unknown encoding":    hdr + "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n",
		"header garbage":      "this is not a mail header\n\nbody\n",
		"deep nesting":        hdr + strings.Repeat("Content-Type: multipart/mixed; boundary=b\n\n--b\n", 40) + "\nx\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(mail), Options{})
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, parsed %+v", err, p)
			}
			if me.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}
