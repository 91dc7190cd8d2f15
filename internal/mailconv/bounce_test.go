package mailconv

import (
	"bufio"
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

func testBounce() Bounce {
	return Bounce{
		To: "Support Team <support@example.com>", Domain: "wa.example.com",
		Recipient: "+4915112345678", OriginalMessageID: "<CAFx1=abc@mail.example.com>",
		Subject: "Ihre Bestellung über 3 Artikel", Reason: "window_closed",
		Detail:  "the customer has not written in 24 hours; only templates may be sent",
		Arrival: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC),
		Date:    time.Date(2025, 3, 14, 9, 0, 5, 0, time.UTC),
	}
}

func TestRenderBounceGolden(t *testing.T) {
	got, err := RenderBounce(testBounce())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "bounce.golden"), got)
	checkParsesBack(t, got)
}

func TestRenderBounceParseBack(t *testing.T) {
	raw, err := RenderBounce(testBounce())
	if err != nil {
		t.Fatal(err)
	}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, _ := e.Header.ContentType()
	if mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %s %v", mt, params)
	}
	if got := e.Header.Get("In-Reply-To"); got != "<CAFx1=abc@mail.example.com>" {
		t.Errorf("In-Reply-To %q", got)
	}
	mr := e.MultipartReader()
	var types []string
	var bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := p.Header.ContentType()
		b, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, pt)
		bodies = append(bodies, string(b))
	}
	if strings.Join(types, " ") != "text/plain message/delivery-status text/rfc822-headers" {
		t.Fatalf("parts %v", types)
	}
	if !strings.Contains(bodies[0], "+4915112345678") || !strings.Contains(bodies[0], "window_closed") {
		t.Errorf("notification text: %q", bodies[0])
	}

	// The delivery-status part: per-message fields, a blank line, per-recipient fields.
	groups := strings.SplitN(bodies[1], "\r\n\r\n", 2)
	if len(groups) != 2 {
		t.Fatalf("delivery-status %q", bodies[1])
	}
	perMsg := readFields(t, groups[0])
	perRcpt := readFields(t, groups[1])
	if perMsg.Get("Reporting-MTA") != "dns; wa.example.com" || perMsg.Get("Arrival-Date") != "Fri, 14 Mar 2025 09:00:00 +0000" {
		t.Errorf("per-message fields %q", groups[0])
	}
	for k, want := range map[string]string{
		"Final-Recipient": "rfc822; 4915112345678@wa.example.com",
		"Action":          "failed",
		"Status":          "5.0.0",
		"Diagnostic-Code": "x-whatsapp; window_closed: the customer has not written in 24 hours; only templates may be sent",
	} {
		if got := perRcpt.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	orig := readFields(t, bodies[2])
	if orig.Get("Message-Id") != "<CAFx1=abc@mail.example.com>" || orig.Get("From") != `"Support Team" <support@example.com>` ||
		orig.Get("To") != "<4915112345678@wa.example.com>" || orig.Get("Date") == "" || orig.Get("Subject") == "" {
		t.Errorf("original headers %q", bodies[2])
	}

	// The bounce is a mail Parse reads too.
	p, err := Parse(bytes.NewReader(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Undelivered WhatsApp message to +4915112345678: Ihre Bestellung über 3 Artikel" || p.From != "MAILER-DAEMON@wa.example.com" {
		t.Errorf("parsed bounce: %q from %q", p.Subject, p.From)
	}
}

func readFields(t *testing.T, s string) textproto.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufioReader(s + "\r\n"))
	if err != nil {
		t.Fatalf("fields %q: %v", s, err)
	}
	return h
}

func TestRenderBounceDefaults(t *testing.T) {
	b := testBounce()
	b.Recipient = "US.13491208655302741918"
	b.Detail = "Zustellung fehlgeschlagen\r\nzweite Zeile"
	b.Status, b.Action = "", ""
	raw, err := RenderBounce(b)
	if err != nil {
		t.Fatal(err)
	}
	checkParsesBack(t, raw)
	s := strings.ReplaceAll(string(raw), "\r\n ", " ") // unfolded
	for _, want := range []string{
		"Final-Recipient: rfc822; us.13491208655302741918@wa.example.com\r\n",
		"Status: 5.0.0\r\n", "Action: failed\r\n",
		"Diagnostic-Code: x-whatsapp; window_closed: Zustellung fehlgeschlagen zweite Zeile\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", want)
		}
	}
	if _, err := RenderBounce(Bounce{}); err == nil {
		t.Error("no domain: no error")
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
