package test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/internal/config"
)

// smppConfig adds SMPP accounts to the test daemon's config.
func smppConfig(t *testing.T, accounts ...config.SMPPAccount) *config.Config {
	cfg := testConfig(t)
	cfg.SMPP.Listen = "127.0.0.1:0"
	cfg.SMPP.BindFailDelay = 0
	cfg.SMPP.Timeout = config.Duration(2 * time.Second)
	if len(accounts) == 0 {
		accounts = []config.SMPPAccount{{SystemID: "acme", Password: "secret1", Numbers: []string{business},
			DataCoding0: "gsm", LongReplies: "payload"}}
	}
	cfg.SMPP.Accounts = accounts
	return cfg
}

// esme is a test ESME: gosmpp binds it and encodes its PDUs; it answers
// deliver_sm itself (with status from respond, default ESME_ROK) and
// collects everything it receives.
type esme struct {
	t       *testing.T
	conn    *gosmpp.Connection
	mu      sync.Mutex
	got     []pdu.PDU
	resps   map[int32]chan pdu.PDU
	respond func(*pdu.DeliverSM) data.CommandStatusType
	mute    atomic.Bool // leave enquire_link unanswered (a dead peer)
	closed  chan struct{}
}

func bindESME(t *testing.T, addr, systemID, password string, kind pdu.BindingType) (*esme, error) {
	return bindESMEWith(t, gosmpp.NonTLSDialer, addr, systemID, password, kind)
}

func bindESMEWith(t *testing.T, dialer gosmpp.Dialer, addr, systemID, password string, kind pdu.BindingType) (*esme, error) {
	t.Helper()
	auth := gosmpp.Auth{SMSC: addr, SystemID: systemID, Password: password}
	var c gosmpp.Connector
	switch kind {
	case pdu.Transmitter:
		c = gosmpp.TXConnector(dialer, auth)
	case pdu.Receiver:
		c = gosmpp.RXConnector(dialer, auth)
	default:
		c = gosmpp.TRXConnector(dialer, auth)
	}
	conn, err := c.Connect()
	if err != nil {
		return nil, err
	}
	e := &esme{t: t, conn: conn, resps: map[int32]chan pdu.PDU{}, closed: make(chan struct{})}
	go e.read()
	t.Cleanup(func() { conn.Close() })
	return e, nil
}

func (e *esme) read() {
	defer close(e.closed)
	for {
		p, err := pdu.Parse(e.conn)
		if err != nil {
			return
		}
		if d, ok := p.(*pdu.DeliverSM); ok {
			status := data.ESME_ROK
			if e.respond != nil {
				status = e.respond(d)
			}
			resp := d.GetResponse()
			writeWithStatus(e.conn, resp, status)
		}
		if el, ok := p.(*pdu.EnquireLink); ok && !e.mute.Load() {
			writeWithStatus(e.conn, el.GetResponse(), data.ESME_ROK)
		}
		if u, ok := p.(*pdu.Unbind); ok {
			writeWithStatus(e.conn, u.GetResponse(), data.ESME_ROK)
		}
		e.mu.Lock()
		ch := e.resps[p.GetSequenceNumber()]
		if ch != nil && !p.CanResponse() {
			delete(e.resps, p.GetSequenceNumber())
		} else {
			e.got = append(e.got, p)
		}
		e.mu.Unlock()
		if ch != nil && !p.CanResponse() {
			ch <- p
		}
	}
}

// writeWithStatus marshals p and patches its command_status.
func writeWithStatus(w io.Writer, p pdu.PDU, status data.CommandStatusType) {
	buf := pdu.NewBuffer(nil)
	p.Marshal(buf)
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[8:12], uint32(status))
	w.Write(b)
}

// call sends a request and waits for its response.
func (e *esme) call(p pdu.PDU) pdu.PDU {
	e.t.Helper()
	ch := make(chan pdu.PDU, 1)
	e.mu.Lock()
	e.resps[p.GetSequenceNumber()] = ch
	e.mu.Unlock()
	if _, err := e.conn.WritePDU(p); err != nil {
		e.t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatalf("no response to %T", p)
	case <-e.closed:
		e.t.Fatalf("connection closed waiting for the response to %T", p)
	}
	return nil
}

// delivers returns the deliver_sm received so far.
func (e *esme) delivers() []*pdu.DeliverSM {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*pdu.DeliverSM
	for _, p := range e.got {
		if d, ok := p.(*pdu.DeliverSM); ok {
			out = append(out, d)
		}
	}
	return out
}

// waitDelivers polls until cond holds over the received deliver_sm.
func (e *esme) waitDelivers(what string, cond func([]*pdu.DeliverSM) bool) []*pdu.DeliverSM {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := e.delivers()
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			var texts []string
			for _, x := range d {
				b, _ := x.Message.GetMessageData()
				texts = append(texts, string(b))
			}
			e.t.Fatalf("waiting for %s; got %d deliver_sm: %q", what, len(d), texts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type submitOpts struct {
	to       string
	ton      byte
	from     string
	text     string
	raw      []byte
	coding   data.Encoding
	rd       byte
	esm      byte
	schedule string
}

func (e *esme) submit(o submitOpts) *pdu.SubmitSMResp {
	e.t.Helper()
	p := pdu.NewSubmitSM().(*pdu.SubmitSM)
	if o.ton == 0 && o.to != "" && !strings.HasPrefix(o.to, "0") {
		o.ton = 1
	}
	p.DestAddr = pdu.NewAddressWithTonNpi(o.ton, 1)
	_ = p.DestAddr.SetAddress(strings.TrimPrefix(o.to, "+"))
	p.SourceAddr = pdu.NewAddressWithTonNpi(1, 1)
	_ = p.SourceAddr.SetAddress(strings.TrimPrefix(o.from, "+"))
	p.RegisteredDelivery = o.rd
	p.EsmClass = o.esm
	p.ScheduleDeliveryTime = o.schedule
	enc := o.coding
	if enc == nil {
		enc = data.GSM7BIT
	}
	if o.raw != nil {
		p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(o.raw, enc)
	} else {
		p.Message, _ = pdu.NewShortMessageWithEncoding(o.text, enc)
	}
	r := e.call(p)
	resp, ok := r.(*pdu.SubmitSMResp)
	if !ok {
		e.t.Fatalf("submit_sm answered with %T", r)
	}
	return resp
}

func receiptText(d *pdu.DeliverSM) string {
	b, _ := d.Message.GetMessageData()
	return string(b)
}

func tlvOf(d *pdu.DeliverSM, tag pdu.Tag) []byte {
	if f, ok := d.OptionalParameters[tag]; ok {
		return f.Data
	}
	return nil
}

func smppAddr(t *testing.T, d *daemon) string {
	addr := d.app.SMPPAddr()
	if addr == "" {
		t.Fatal("SMPP is not listening")
	}
	return addr
}

// Every bind outcome, with the status SMPP 3.4 names.
func TestSMPPBindOutcomes(t *testing.T) {
	cfg := smppConfig(t,
		config.SMPPAccount{SystemID: "acme", Password: "secret1", Numbers: []string{business}, MaxBinds: 2, DataCoding0: "gsm", LongReplies: "payload"},
		config.SMPPAccount{SystemID: "faraway", Password: "pw", Numbers: []string{business}, AllowedIPs: []string{"10.0.0.0/8"}, DataCoding0: "gsm", LongReplies: "payload"},
	)
	d := startDaemon(t, cfg)
	addr := smppAddr(t, d)
	status := func(err error) data.CommandStatusType {
		var be gosmpp.BindError
		if errors.As(err, &be) {
			return be.CommandStatus
		}
		if err != nil {
			t.Fatalf("bind: %v", err)
		}
		return data.ESME_ROK
	}
	for _, c := range []struct {
		name, sysid, pw string
		kind            pdu.BindingType
		want            data.CommandStatusType
	}{
		{"transmitter", "acme", "secret1", pdu.Transmitter, data.ESME_ROK},
		{"receiver", "acme", "secret1", pdu.Receiver, data.ESME_ROK},
		{"third bind over max_binds", "acme", "secret1", pdu.Transceiver, data.ESME_RBINDFAIL},
		{"wrong password", "acme", "nope", pdu.Transceiver, data.ESME_RINVPASWD},
		{"unknown system_id", "nobody", "secret1", pdu.Transceiver, data.ESME_RINVSYSID},
		{"password too long for SMPP 3.4", "acme", "123456789", pdu.Transceiver, data.ESME_RINVPASWD},
		{"system_id too long", "abcdefghijklmnopq", "x", pdu.Transceiver, data.ESME_RINVSYSID},
		{"address not allowed", "faraway", "pw", pdu.Transceiver, data.ESME_RBINDFAIL},
		// Five failures from one address block it for a while, even with
		// the right password: password guessing cannot go on at line speed.
		{"blocked after failures", "acme", "secret1", pdu.Transmitter, data.ESME_RBINDFAIL},
	} {
		_, err := bindESME(t, addr, c.sysid, c.pw, c.kind)
		if err != nil && !errors.As(err, new(gosmpp.BindError)) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := status(err); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// A second bind on a bound session: ESME_RALYBND; commands not allowed in
// the bind state: ESME_RINVBNDSTS; enquire_link and unbind are answered.
func TestSMPPBindStates(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	addr := smppAddr(t, d)
	rx, err := bindESME(t, addr, "acme", "secret1", pdu.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	again := pdu.NewBindTransceiver().(*pdu.BindRequest)
	again.SystemID, again.Password = "acme", "secret1"
	if r := rx.call(again); r.GetHeader().CommandStatus != data.ESME_RALYBND {
		t.Errorf("second bind: %s", r.GetHeader().CommandStatus)
	}
	if r := rx.submit(submitOpts{to: customer, text: "hi"}); r.CommandStatus != data.ESME_RINVBNDSTS {
		t.Errorf("submit on a receiver: %s", r.CommandStatus)
	}
	if r := rx.call(pdu.NewEnquireLink()); r.GetHeader().CommandStatus != data.ESME_ROK {
		t.Errorf("enquire_link: %s", r.GetHeader().CommandStatus)
	}
	if r := rx.call(pdu.NewUnbind()); r.GetHeader().CommandID != data.UNBIND_RESP {
		t.Errorf("unbind answered with %s", r.GetHeader().CommandID)
	}
	select {
	case <-rx.closed:
	case <-time.After(5 * time.Second):
		t.Error("session still open after unbind")
	}

	// Not bound at all: submit_sm is refused with ESME_RINVBNDSTS.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sub := pdu.NewSubmitSM().(*pdu.SubmitSM)
	sub.SetSequenceNumber(7)
	writeWithStatus(conn, sub, 0)
	r, err := pdu.Parse(conn)
	if err != nil || r.GetHeader().CommandStatus != data.ESME_RINVBNDSTS || r.GetSequenceNumber() != 7 {
		t.Errorf("submit before bind: %v %v", r, err)
	}
}

// Malformed PDUs get generic_nack with the right status; a length that
// cannot be trusted also ends the session.
func TestSMPPMalformedPDUs(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	addr := smppAddr(t, d)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hdr := func(length, cmd, status, seq uint32, body []byte) []byte {
		b := make([]byte, 16, 16+len(body))
		binary.BigEndian.PutUint32(b[0:], length)
		binary.BigEndian.PutUint32(b[4:], cmd)
		binary.BigEndian.PutUint32(b[8:], status)
		binary.BigEndian.PutUint32(b[12:], seq)
		return append(b, body...)
	}
	// Unknown command id.
	conn.Write(hdr(16, 0x000000AA, 0, 41, nil))
	r, err := pdu.Parse(conn)
	if err != nil || r.GetHeader().CommandID != data.GENERIC_NACK || r.GetHeader().CommandStatus != data.ESME_RINVCMDID || r.GetSequenceNumber() != 41 {
		t.Errorf("unknown command: %+v %v", r, err)
	}
	// A bind whose body is cut short (no terminators).
	conn.Write(hdr(20, uint32(data.BIND_TRANSCEIVER), 0, 42, []byte("acme")))
	r, err = pdu.Parse(conn)
	if err != nil || r.GetHeader().CommandID != data.GENERIC_NACK || r.GetHeader().CommandStatus != data.ESME_RINVCMDLEN {
		t.Errorf("truncated body: %+v %v", r, err)
	}
	// command_length below the header size: nack, then the session ends.
	conn.Write(hdr(8, uint32(data.ENQUIRE_LINK), 0, 43, nil))
	r, err = pdu.Parse(conn)
	if err != nil || r.GetHeader().CommandStatus != data.ESME_RINVCMDLEN {
		t.Errorf("short length: %+v %v", r, err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("session still open after an untrustworthy command_length")
	}
}

// submit_sm → WhatsApp → receipt: the id from submit_sm_resp comes back as
// receipted_message_id, exactly once as a final receipt.
func TestSMPPSubmitReachesWhatsAppWithReceipt(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	d.inject(customer, "hello shop")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	texts := []struct {
		name   string
		opts   submitOpts
		expect string
	}{
		{"gsm", submitOpts{text: "Your order 12345 ships today"}, "Your order 12345 ships today"},
		{"gsm extension", submitOpts{text: "Price: 5€ [promo] {x}"}, "Price: 5€ [promo] {x}"},
		{"ucs2 emoji", submitOpts{text: "Danke 🙏 für Ihre Bestellung", coding: data.UCS2}, "Danke 🙏 für Ihre Bestellung"},
		{"latin1", submitOpts{text: "Grüße aus Köln", coding: data.LATIN1}, "Grüße aus Köln"},
	}
	ids := map[string]string{}
	for _, c := range texts {
		c.opts.to, c.opts.rd = customer, 1
		resp := e.submit(c.opts)
		if resp.CommandStatus != data.ESME_ROK || len(resp.MessageID) != 26 {
			t.Fatalf("%s: %s %q", c.name, resp.CommandStatus, resp.MessageID)
		}
		ids[resp.MessageID] = c.expect
	}
	for id, want := range ids {
		m := d.waitStatus(id, "read")
		got := sandboxMessages(t, d.sandbox, "?callback="+id)
		if len(got) != 1 || got[0].Text != want {
			t.Errorf("sandbox got %+v, want %q", got, want)
		}
		_ = m
	}
	receipts := func(ds []*pdu.DeliverSM) []*pdu.DeliverSM {
		var out []*pdu.DeliverSM
		for _, x := range ds {
			if x.EsmClass&0x04 != 0 {
				out = append(out, x)
			}
		}
		return out
	}
	e.waitDelivers("a final receipt per message", func(ds []*pdu.DeliverSM) bool { return len(receipts(ds)) >= len(ids) })
	time.Sleep(300 * time.Millisecond) // any second receipt would arrive now
	final := receipts(e.delivers())
	perID := map[string]int{}
	for _, r := range final {
		id := strings.TrimRight(string(tlvOf(r, pdu.TagReceiptedMessageID)), "\x00")
		perID[id]++
		text := receiptText(r)
		if r.EsmClass != 0x04 || !strings.Contains(text, "id:"+id+" ") || !strings.Contains(text, "stat:DELIVRD") ||
			!strings.Contains(text, "err:000") || !bytes.Equal(tlvOf(r, pdu.TagMessageStateOption), []byte{2}) {
			t.Errorf("receipt %q esm %#x state %v", text, r.EsmClass, tlvOf(r, pdu.TagMessageStateOption))
		}
		if r.DestAddr.Address() != "" && r.SourceAddr.Address() != strings.TrimPrefix(customer, "+") {
			t.Errorf("receipt from %q", r.SourceAddr.Address())
		}
	}
	for id := range ids {
		if perID[id] != 1 {
			t.Errorf("message %s got %d final receipts", id, perID[id])
		}
	}
	// Each answered submit_sm's time to its answer is observed.
	if got := metricLines(t, d.base, "wabridge_smpp_submit_duration_seconds_count"); got != "wabridge_smpp_submit_duration_seconds_count 4" {
		t.Errorf("submit durations: %s", got)
	}
}

// Receipts for each outcome: intermediate ENROUTE when asked, UNDELIV with
// err and the WhatsApp code for failures, none when not asked.
func TestSMPPReceiptsForEachStatus(t *testing.T) {
	cfg := smppConfig(t)
	cfg.Sandbox.NotOnWhatsApp = []string{"+4915100000009"}
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	d.inject("+4915100000009", "hi") // opens its window; WhatsApp still cannot deliver
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	inter := e.submit(submitOpts{to: customer, text: "with intermediate", rd: 0x11})
	closed := e.submit(submitOpts{to: "+4915100000001", text: "window closed", rd: 1})
	notWA := e.submit(submitOpts{to: "+4915100000009", text: "not on whatsapp", rd: 2})
	none := e.submit(submitOpts{to: customer, text: "no receipt", rd: 0})
	d.waitStatus(none.MessageID, "read")
	isReceipt := func(x *pdu.DeliverSM) bool { return x.EsmClass&0x24 != 0 }
	e.waitDelivers("receipts", func(ds []*pdu.DeliverSM) bool {
		n := 0
		for _, x := range ds {
			if isReceipt(x) {
				n++
			}
		}
		return n >= 4
	})
	time.Sleep(300 * time.Millisecond)
	byID := map[string][]string{}
	codes := map[string][]byte{}
	for _, r := range e.delivers() {
		if !isReceipt(r) {
			continue
		}
		id := strings.TrimRight(string(tlvOf(r, pdu.TagReceiptedMessageID)), "\x00")
		byID[id] = append(byID[id], receiptText(r))
		if c := tlvOf(r, 0x1400); c != nil {
			codes[id] = c
		}
	}
	has := func(id, stat string) bool {
		for _, txt := range byID[id] {
			if strings.Contains(txt, "stat:"+stat) {
				return true
			}
		}
		return false
	}
	if len(byID[inter.MessageID]) != 2 || !has(inter.MessageID, "ENROUTE") || !has(inter.MessageID, "DELIVRD") {
		t.Errorf("intermediate: %q", byID[inter.MessageID])
	}
	for _, r := range e.delivers() {
		if strings.Contains(receiptText(r), "stat:ENROUTE") && r.EsmClass != 0x20 {
			t.Errorf("intermediate notification with esm_class %#x, want 0x20", r.EsmClass)
		}
	}
	if len(byID[closed.MessageID]) != 1 || !has(closed.MessageID, "UNDELIV") || !strings.Contains(byID[closed.MessageID][0], "err:008") {
		// 008 no_template: text outside the window that fits no approved
		// template (issue 6; before it, 002 window_closed).
		t.Errorf("window closed: %q", byID[closed.MessageID])
	}
	if len(byID[notWA.MessageID]) != 1 || !has(notWA.MessageID, "UNDELIV") || binary.BigEndian.Uint32(codes[notWA.MessageID]) != 131026 {
		t.Errorf("not on WhatsApp: %q code %v", byID[notWA.MessageID], codes[notWA.MessageID])
	}
	if len(byID[none.MessageID]) != 0 {
		t.Errorf("receipt sent though none was asked: %q", byID[none.MessageID])
	}
}

// Destination addresses, queries, cancellation and throttling.
func TestSMPPAddressesQueryCancelThrottle(t *testing.T) {
	d := startDaemon(t, smppConfig(t, config.SMPPAccount{SystemID: "acme", Password: "secret1", Numbers: []string{business},
		DefaultCountry: "DE", Throughput: 5, DataCoding0: "gsm", LongReplies: "payload"}))
	d.inject(customer, "hi")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	// A national number read with the account's country.
	r := e.submit(submitOpts{to: "015112345678", ton: 2, text: "national"})
	if r.CommandStatus != data.ESME_ROK {
		t.Fatalf("national number: %s", r.CommandStatus)
	}
	m := d.waitStatus(r.MessageID, "read")
	if m.To != customer {
		t.Errorf("national number went to %s", m.To)
	}
	for _, bad := range []submitOpts{{to: "12", text: "x"}, {to: "", text: "x"}, {to: "SHOP", ton: 5, text: "x"}} {
		if r := e.submit(bad); r.CommandStatus != data.ESME_RINVDSTADR {
			t.Errorf("destination %q: %s", bad.to, r.CommandStatus)
		}
	}
	long := textPart("x")
	_ = long.SourceAddr.SetAddress(strings.Repeat("1", 21))
	if r := e.call(long).(*pdu.SubmitSMResp); r.CommandStatus != data.ESME_RINVSRCADR {
		t.Errorf("source_addr over 20 octets: %s", r.CommandStatus)
	}
	time.Sleep(time.Second) // refill the bucket

	// query_sm answers from the store.
	q := pdu.NewQuerySM().(*pdu.QuerySM)
	q.MessageID = r.MessageID
	qr, ok := e.call(q).(*pdu.QuerySMResp)
	if !ok || qr.CommandStatus != data.ESME_ROK || qr.MessageState != 2 || qr.FinalDate == "" {
		t.Errorf("query_sm: %+v", qr)
	}
	q2 := pdu.NewQuerySM().(*pdu.QuerySM)
	q2.MessageID = "nosuchmessage"
	if qr := e.call(q2); qr.GetHeader().CommandStatus != data.ESME_RQUERYFAIL {
		t.Errorf("query unknown: %s", qr.GetHeader().CommandStatus)
	}

	// cancel_sm of a message scheduled for later: cancelled, never sent.
	later := time.Now().UTC().Add(time.Hour).Format("060102150405") + "000+"
	sched := e.submit(submitOpts{to: customer, text: "tomorrow", schedule: later})
	if sched.CommandStatus != data.ESME_ROK {
		t.Fatalf("scheduled submit: %s", sched.CommandStatus)
	}
	c := pdu.NewCancelSM().(*pdu.CancelSM)
	c.MessageID = sched.MessageID
	if cr := e.call(c); cr.GetHeader().CommandStatus != data.ESME_ROK {
		t.Errorf("cancel_sm: %s", cr.GetHeader().CommandStatus)
	}
	if cr := e.call(c); cr.GetHeader().CommandStatus != data.ESME_RCANCELFAIL {
		t.Errorf("second cancel_sm: %s", cr.GetHeader().CommandStatus)
	}
	if m := d.message(sched.MessageID); m.Status != "failed" || m.Error == nil || m.Error.Reason != "cancelled" {
		t.Errorf("cancelled message: %+v", m)
	}

	// A malformed UDH (a concat element claiming part 3 of 2) is refused.
	if r := e.submit(submitOpts{to: customer, raw: append([]byte{5, 0, 3, 1, 2, 3}, "part"...), esm: 0x40}); r.CommandStatus != data.ESME_RINVESMCLASS {
		t.Errorf("bad UDH: %s", r.CommandStatus)
	}

	// Throughput: 5 msg/s with a burst of 5; a rapid burst gets ESME_RTHROTTLED.
	throttled := 0
	for i := range 12 {
		if r := e.submit(submitOpts{to: customer, text: fmt.Sprint("burst ", i)}); r.CommandStatus == data.ESME_RTHROTTLED {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no submit_sm was throttled")
	}
}

// A customer's WhatsApp reply reaches the account's receiver as deliver_sm
// (GSM 7-bit when it fits, else UCS-2); a temporary refusal is retried;
// replies wait for a receiver to bind.
func TestSMPPRepliesAsDeliverSM(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	// Before anyone binds: stored.
	d.inject(customer, "first reply, nobody bound")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	refusedOnce := false
	var mu sync.Mutex
	e.respond = func(p *pdu.DeliverSM) data.CommandStatusType {
		mu.Lock()
		defer mu.Unlock()
		if b, _ := p.Message.GetMessageData(); strings.Contains(string(b), "retry me") && !refusedOnce {
			refusedOnce = true
			return data.ESME_RX_T_APPN
		}
		return data.ESME_ROK
	}
	d.inject(customer, "retry me")
	d.inject(customer, "Grüße 😀")
	ds := e.waitDelivers("three replies", func(ds []*pdu.DeliverSM) bool {
		texts := ""
		for _, x := range ds {
			texts += moText(x) + "|"
		}
		return strings.Contains(texts, "first reply, nobody bound") && strings.Count(texts, "retry me") >= 2 && strings.Contains(texts, "Grüße 😀")
	})
	// Order per customer survives the temporary refusal: the refused reply
	// comes again before the one the customer sent after it.
	lastRetry, greet := -1, -1
	for i, x := range ds {
		switch {
		case strings.Contains(moText(x), "retry me"):
			lastRetry = i
		case strings.Contains(moText(x), "Grüße") && greet < 0:
			greet = i
		}
	}
	if lastRetry > greet {
		t.Errorf("a later reply overtook a retried one (retry at %d, next at %d)", lastRetry, greet)
	}
	for _, x := range ds {
		if x.SourceAddr.Address() != strings.TrimPrefix(customer, "+") || x.DestAddr.Address() != strings.TrimPrefix(business, "+") || x.EsmClass != 0 {
			t.Errorf("MO from %q to %q esm %#x", x.SourceAddr.Address(), x.DestAddr.Address(), x.EsmClass)
		}
		if strings.Contains(moText(x), "😀") && x.Message.Encoding().DataCoding() != 8 {
			t.Errorf("emoji reply with data_coding %d", x.Message.Encoding().DataCoding())
		}
		if strings.Contains(moText(x), "nobody") && x.Message.Encoding().DataCoding() != 0 {
			t.Errorf("GSM reply with data_coding %d", x.Message.Encoding().DataCoding())
		}
	}
}

func moText(d *pdu.DeliverSM) string {
	s, err := d.Message.GetMessage()
	if err != nil {
		return ""
	}
	return s
}

// Concatenated submissions — UDH with 8-bit and 16-bit references (also
// behind other elements) and SAR TLVs — become one WhatsApp message; each
// part has its own id, each gets its own final receipt, and query_sm by
// any part id answers for the whole.
func TestSMPPConcatenatedMessages(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	d.inject(customer, "hi")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"This is the first part of a long message, ", "the second one follows, ", "and the third ends it."}
	whole := strings.Join(parts, "")
	sar := func(p *pdu.SubmitSM, ref uint16, total, seq byte) {
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarMsgRefNum, Data: []byte{byte(ref >> 8), byte(ref)}})
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarTotalSegments, Data: []byte{total}})
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarSegmentSeqnum, Data: []byte{seq}})
	}
	cases := []struct {
		name string
		part func(i int) *pdu.SubmitSM
	}{
		{"udh 8-bit", func(i int) *pdu.SubmitSM {
			return udhPart(append([]byte{5, 0x00, 3, 0x42, 3, byte(i + 1)}, parts[i]...))
		}},
		{"udh 16-bit after a port element", func(i int) *pdu.SubmitSM {
			return udhPart(append([]byte{12, 0x05, 4, 0x0b, 0x84, 0x23, 0xf0, 0x08, 4, 0x12, 0x34, 3, byte(i + 1)}, parts[i]...))
		}},
		{"sar", func(i int) *pdu.SubmitSM {
			p := textPart(parts[i])
			sar(p, 0x0777, 3, byte(i+1))
			return p
		}},
	}
	for _, c := range cases {
		var ids []string
		order := []int{2, 0, 1} // parts may arrive in any order
		for _, i := range order {
			p := c.part(i)
			p.RegisteredDelivery = 1
			if c.name == "udh 8-bit" && i != 0 {
				p.RegisteredDelivery = 0 // as Kannel does: a receipt for the first part only
			}
			r, ok := e.call(p).(*pdu.SubmitSMResp)
			if !ok || r.CommandStatus != data.ESME_ROK || r.MessageID == "" {
				t.Fatalf("%s part %d: %+v", c.name, i+1, r)
			}
			ids = append(ids, r.MessageID)
		}
		m := d.waitStatus(ids[2], "read") // any part id finds the message
		got := sandboxMessages(t, d.sandbox, "?callback="+m.ID)
		if len(got) != 1 || got[0].Text != whole {
			t.Errorf("%s: sandbox got %+v", c.name, got)
		}
		q := pdu.NewQuerySM().(*pdu.QuerySM)
		q.MessageID = ids[0]
		if qr, ok := e.call(q).(*pdu.QuerySMResp); !ok || qr.MessageState != 2 {
			t.Errorf("%s: query_sm by a part id: %+v", c.name, qr)
		}
		want := 3
		if c.name == "udh 8-bit" {
			want = 1
		}
		e.waitDelivers(c.name+" receipts", func(ds []*pdu.DeliverSM) bool {
			n := 0
			for _, x := range ds {
				id := strings.TrimRight(string(tlvOf(x, pdu.TagReceiptedMessageID)), "\x00")
				for _, want := range ids {
					if id == want && strings.Contains(receiptText(x), "stat:DELIVRD") {
						n++
					}
				}
			}
			return n == want
		})
	}
	time.Sleep(300 * time.Millisecond)
	perID := map[string]int{}
	for _, x := range e.delivers() {
		if x.EsmClass&0x04 != 0 {
			perID[strings.TrimRight(string(tlvOf(x, pdu.TagReceiptedMessageID)), "\x00")]++
		}
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("part %s got %d receipts", id, n)
		}
	}
}

// Parts of a message that never completes expire, each with an EXPIRED receipt.
func TestSMPPIncompleteMessageExpires(t *testing.T) {
	cfg := smppConfig(t)
	cfg.SMPP.PartTimeout = config.Duration(400 * time.Millisecond)
	d := startDaemon(t, cfg)
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 2 { // 2 of 3 parts
		p := udhPart(append([]byte{5, 0, 3, 0x55, 3, byte(i + 1)}, fmt.Sprint("part ", i+1)...))
		p.RegisteredDelivery = 1
		r := e.call(p).(*pdu.SubmitSMResp)
		if r.CommandStatus != data.ESME_ROK {
			t.Fatalf("part %d: %s", i+1, r.CommandStatus)
		}
		ids = append(ids, r.MessageID)
	}
	e.waitDelivers("two EXPIRED receipts", func(ds []*pdu.DeliverSM) bool {
		n := 0
		for _, x := range ds {
			id := strings.TrimRight(string(tlvOf(x, pdu.TagReceiptedMessageID)), "\x00")
			if (id == ids[0] || id == ids[1]) && strings.Contains(receiptText(x), "stat:EXPIRED") &&
				bytes.Equal(tlvOf(x, pdu.TagMessageStateOption), []byte{3}) {
				n++
			}
		}
		return n == 2
	})
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 0 {
		t.Errorf("a fragment reached WhatsApp (%d sends)", n)
	}
}

func textPart(text string) *pdu.SubmitSM {
	p := pdu.NewSubmitSM().(*pdu.SubmitSM)
	p.DestAddr = pdu.NewAddressWithTonNpi(1, 1)
	_ = p.DestAddr.SetAddress(strings.TrimPrefix(customer, "+"))
	p.Message, _ = pdu.NewShortMessageWithEncoding(text, data.GSM7BIT)
	return p
}

func udhPart(raw []byte) *pdu.SubmitSM {
	p := pdu.NewSubmitSM().(*pdu.SubmitSM)
	p.DestAddr = pdu.NewAddressWithTonNpi(1, 1)
	_ = p.DestAddr.SetAddress(strings.TrimPrefix(customer, "+"))
	p.EsmClass = 0x40
	p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(raw, data.GSM7BIT)
	return p
}

// validity_period: a message not delivered in time fails with an EXPIRED
// receipt; here it is scheduled past its validity, so it is never sent.
func TestSMPPValidityPeriodExpires(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	d.inject(customer, "hi")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	p := textPart("too late")
	p.RegisteredDelivery = 1
	p.ScheduleDeliveryTime = "000000000010000R" // in 10 s
	p.ValidityPeriod = "000000000001000R"       // valid for 1 s
	r := e.call(p).(*pdu.SubmitSMResp)
	if r.CommandStatus != data.ESME_ROK {
		t.Fatalf("submit: %s", r.CommandStatus)
	}
	e.waitDelivers("an EXPIRED receipt", func(ds []*pdu.DeliverSM) bool {
		for _, x := range ds {
			if strings.TrimRight(string(tlvOf(x, pdu.TagReceiptedMessageID)), "\x00") == r.MessageID &&
				strings.Contains(receiptText(x), "stat:EXPIRED") && strings.Contains(receiptText(x), "err:011") {
				return true
			}
		}
		return false
	})
	if m := d.message(r.MessageID); m.Status != "failed" || m.Error == nil || m.Error.Reason != "expired" {
		t.Errorf("message %+v", m)
	}
	if n := len(sandboxMessages(t, d.sandbox, "?callback="+r.MessageID)); n != 0 {
		t.Error("an expired message reached WhatsApp")
	}
	bad := textPart("x")
	bad.ValidityPeriod = "991399999999999+"
	if r := e.call(bad).(*pdu.SubmitSMResp); r.CommandStatus != data.ESME_RINVEXPIRY {
		t.Errorf("malformed validity_period: %s", r.CommandStatus)
	}
}

func (e *esme) gotAll() []pdu.PDU {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]pdu.PDU(nil), e.got...)
}
