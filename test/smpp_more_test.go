package test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	wsmpp "github.com/wabridge/wabridge/adapters/smpp"
	"github.com/wabridge/wabridge/internal/config"
)

// Binds over TLS with a certificate the ESME trusts.
func TestSMPPOverTLS(t *testing.T) {
	cfg := smppConfig(t)
	cert, key, pool := selfSigned(t)
	cfg.SMPP.TLSListen, cfg.SMPP.CertFile, cfg.SMPP.KeyFile = "127.0.0.1:0", cert, key
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	addr := d.app.SMPPTLSAddr()
	dial := func(a string) (net.Conn, error) {
		return tls.Dial("tcp", a, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	}
	e, err := bindESMEWith(t, dial, addr, "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	r := e.submit(submitOpts{to: customer, text: "over TLS", rd: 1})
	if r.CommandStatus != data.ESME_ROK {
		t.Fatalf("submit: %s", r.CommandStatus)
	}
	d.waitStatus(r.MessageID, "read")
}

// Codings: IA5, message_payload (UCS-2), unsupported data_coding.
func TestSMPPCodingsAndPayload(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	d.inject(customer, "hi")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	ia5 := e.submit(submitOpts{to: customer, text: "plain ascii {ok}", coding: data.ASCII})
	long := strings.Repeat("Langer Text mit Emoji 🚚 ", 30) // > 1 SMS, in one message_payload
	p := textPart("")
	p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(nil, data.UCS2)
	p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: utf16be(long)})
	payload, _ := e.call(p).(*pdu.SubmitSMResp)
	for id, want := range map[string]string{ia5.MessageID: "plain ascii {ok}", payload.MessageID: long} {
		d.waitStatus(id, "read")
		if got := sandboxMessages(t, d.sandbox, "?callback="+id); len(got) != 1 || got[0].Text != want {
			t.Errorf("sandbox got %+v, want %q", got, want)
		}
	}
	bin := textPart("")
	bin.Message, _ = pdu.NewBinaryShortMessageWithEncoding([]byte{1, 2, 3}, data.BINARY8BIT2)
	if r := e.call(bin).(*pdu.SubmitSMResp); r.CommandStatus != data.ESME_RINVPARAM {
		t.Errorf("binary data_coding: %s", r.CommandStatus)
	}
	both := textPart("both")
	both.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: []byte("also")})
	if r := e.call(both).(*pdu.SubmitSMResp); r.CommandStatus != data.ESME_RINVMSGLEN {
		t.Errorf("short_message and message_payload: %s", r.CommandStatus)
	}
}

func utf16be(s string) []byte {
	var out []byte
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			out = append(out, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}

// A full queue answers ESME_RMSGQFUL.
func TestSMPPQueueFull(t *testing.T) {
	cfg := smppConfig(t)
	cfg.SMPP.MaxQueue = 2
	d := startDaemon(t, cfg)
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().UTC().Add(time.Hour).Format("060102150405") + "000+"
	for range 2 { // scheduled: they stay queued
		if r := e.submit(submitOpts{to: customer, text: "later", schedule: later}); r.CommandStatus != data.ESME_ROK {
			t.Fatalf("submit: %s", r.CommandStatus)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.submit(submitOpts{to: customer, text: "one more", schedule: later})
		if r.CommandStatus == data.ESME_RMSGQFUL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never refused with ESME_RMSGQFUL (last %s)", r.CommandStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Parts persisted as they arrive: a restart between two parts loses nothing.
func TestSMPPConcatenationSurvivesRestart(t *testing.T) {
	cfg := smppConfig(t)
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	first := udhPart(append([]byte{5, 0, 3, 0x66, 2, 1}, "before the restart, "...))
	if r := e.call(first).(*pdu.SubmitSMResp); r.CommandStatus != data.ESME_ROK {
		t.Fatalf("part 1: %s", r.CommandStatus)
	}
	d.stop()
	cfg2 := *cfg
	d2 := startDaemon(t, &cfg2)
	d2.inject(customer, "still there") // the embedded sandbox restarted too: a fresh "WhatsApp"
	e2, err := bindESME(t, smppAddr(t, d2), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	r := e2.call(udhPart(append([]byte{5, 0, 3, 0x66, 2, 2}, "after it."...))).(*pdu.SubmitSMResp)
	if r.CommandStatus != data.ESME_ROK {
		t.Fatalf("part 2: %s", r.CommandStatus)
	}
	m := d2.waitStatus(r.MessageID, "read")
	if got := sandboxMessages(t, d2.sandbox, "?callback="+m.ID); len(got) != 1 || got[0].Text != "before the restart, after it." {
		t.Errorf("sandbox got %+v", got)
	}
}

// Long replies as UDH parts (long_replies = "udh"); a permanent refusal
// (ESME_RX_P_APPN) drops a reply; non-text replies are written as text.
func TestSMPPRepliesAsPartsAndRefusals(t *testing.T) {
	d := startDaemon(t, smppConfig(t, config.SMPPAccount{SystemID: "acme", Password: "secret1", Numbers: []string{business},
		DataCoding0: "gsm", LongReplies: "udh"}))
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	e.respond = func(p *pdu.DeliverSM) data.CommandStatusType {
		if strings.Contains(moText(p), "refuse me") {
			return data.ESME_RX_P_APPN
		}
		return data.ESME_ROK
	}
	d.inject(customer, "refuse me")
	long := strings.Repeat("0123456789", 40) // 400 GSM characters: 3 parts
	d.inject(customer, long)
	d.injectType(map[string]any{"type": "location", "latitude": 52.52, "longitude": 13.405, "location_name": "Shop"})
	ds := e.waitDelivers("3 parts and a location", func(ds []*pdu.DeliverSM) bool {
		parts, loc := 0, false
		for _, x := range ds {
			if x.EsmClass&0x40 != 0 {
				parts++
			}
			loc = loc || strings.Contains(moText(x), "[location] Shop https://maps.google.com/?q=52.520000,13.405000")
		}
		return parts == 3 && loc
	})
	var rebuilt string
	refused := 0
	for _, x := range ds {
		if x.EsmClass&0x40 != 0 {
			if h := x.Message.UDH(); h == nil || h.UDHL() != 6 {
				t.Errorf("part without an 8-bit concatenation header: %v", h)
			}
			rebuilt += moText(x) // gosmpp took the header off
		}
		if strings.Contains(moText(x), "refuse me") {
			refused++
		}
	}
	if rebuilt != long {
		t.Errorf("parts rebuild to %q", rebuilt)
	}
	time.Sleep(300 * time.Millisecond)
	if refused != 1 {
		t.Errorf("a permanently refused reply was sent %d times", refused)
	}
}

// The server probes a quiet ESME with enquire_link and closes a session
// whose peer stopped answering; on shutdown it unbinds bound ESMEs.
func TestSMPPKeepaliveAndShutdown(t *testing.T) {
	cfg := smppConfig(t)
	cfg.SMPP.EnquireLink = config.Duration(200 * time.Millisecond)
	cfg.SMPP.Timeout = config.Duration(300 * time.Millisecond)
	d := startDaemon(t, cfg)
	live, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	dead.mute.Store(true)
	select {
	case <-dead.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a peer that stopped answering enquire_link was not dropped")
	}
	time.Sleep(500 * time.Millisecond)
	probes := 0
	for _, p := range live.gotAll() {
		if _, ok := p.(*pdu.EnquireLink); ok {
			probes++
		}
	}
	if probes == 0 {
		t.Error("a quiet ESME was never probed")
	}
	select {
	case <-live.closed:
		t.Fatal("a live ESME was dropped")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	unbound := false
	for _, p := range live.gotAll() {
		if _, ok := p.(*pdu.Unbind); ok {
			unbound = true
		}
	}
	if !unbound {
		t.Error("shutdown closed the session without an unbind")
	}
}

// More receipts queued than the session's window: they are pipelined up to
// the window, and every one arrives once (a batch larger than the window
// once stalled the delivery queue).
func TestSMPPReceiptsBeyondTheWindow(t *testing.T) {
	cfg := smppConfig(t)
	cfg.SMPP.Window = 3
	d := startDaemon(t, cfg)
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	ids := map[string]bool{}
	for i := range n {
		resp := e.submit(submitOpts{to: fmt.Sprintf("+49151%08d", i), text: "Your order 12345 is on its way and will arrive Monday.", rd: 1})
		if resp.CommandStatus != data.ESME_ROK {
			t.Fatalf("submit %d: %s", i, resp.CommandStatus)
		}
		ids[resp.MessageID] = true
	}
	receipts := func(ds []*pdu.DeliverSM) map[string]int {
		per := map[string]int{}
		for _, x := range ds {
			if x.EsmClass&0x04 != 0 {
				per[strings.TrimRight(string(tlvOf(x, pdu.TagReceiptedMessageID)), "\x00")]++
			}
		}
		return per
	}
	e.waitDelivers("a receipt per message", func(ds []*pdu.DeliverSM) bool { return len(receipts(ds)) >= n })
	time.Sleep(300 * time.Millisecond)
	for id, c := range receipts(e.delivers()) {
		if !ids[id] || c != 1 {
			t.Errorf("receipt for %s: %d (ours: %v)", id, c, ids[id])
		}
	}
}

// submit_sm are answered in the background while the next are read (they
// share group commits): an ESME that writes 100 without waiting, then an
// unbind, gets every submit_sm_resp (ROK, with an id) before the
// unbind_resp and in order, and the messages to one customer reach
// WhatsApp in the order submitted.
func TestSMPPPipelinedSubmitsKeepTheirOrder(t *testing.T) {
	d := startDaemon(t, smppConfig(t))
	d.inject(customer, "hello shop") // an open window: plain text goes out as text
	e, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	reqs := make([]pdu.PDU, n+1)
	for i := range n {
		p := pdu.NewSubmitSM().(*pdu.SubmitSM)
		p.DestAddr = pdu.NewAddressWithTonNpi(1, 1)
		_ = p.DestAddr.SetAddress(strings.TrimPrefix(customer, "+"))
		p.SourceAddr = pdu.NewAddressWithTonNpi(1, 1)
		_ = p.SourceAddr.SetAddress("15550100001")
		p.Message, _ = pdu.NewShortMessage(fmt.Sprintf("message %03d", i))
		reqs[i] = p
	}
	reqs[n] = pdu.NewUnbind()
	// One channel for all answers: the reader hands each over before it
	// reads the next, so the channel has them in the order they arrived.
	answers := make(chan pdu.PDU, n+1)
	e.mu.Lock()
	for _, p := range reqs {
		e.resps[p.GetSequenceNumber()] = answers
	}
	e.mu.Unlock()
	for _, p := range reqs {
		if _, err := e.conn.WritePDU(p); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range reqs {
		select {
		case r := <-answers:
			if r.GetSequenceNumber() != p.GetSequenceNumber() {
				t.Fatalf("answer %d is for sequence %d, want %d (%T)", i, r.GetSequenceNumber(), p.GetSequenceNumber(), r)
			}
			if resp, ok := r.(*pdu.SubmitSMResp); ok && (resp.CommandStatus != data.ESME_ROK || resp.MessageID == "") {
				t.Fatalf("submit %d: %s %q", i, resp.CommandStatus, resp.MessageID)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%d of %d answers arrived", i, n+1)
		}
	}
	var got []sandboxMessage
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = sandboxMessages(t, d.sandbox, "?to="+customer); len(got) >= n {
			break
		}
	}
	if len(got) != n {
		t.Fatalf("sandbox got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("message %03d", i); m.Text != want {
			t.Fatalf("WhatsApp message %d is %q, want %q", i, m.Text, want)
		}
	}
}

// Receipts queued while no receiver is bound survive a restart: one whose
// job carries its receipt's fields (as queued since migration 15) and one
// whose job has none (as queued by an earlier version, which reads the
// message instead) both reach the receiver bound afterwards, each once and
// with the same fields.
func TestSMPPQueuedReceiptsSurviveRestart(t *testing.T) {
	cfg := smppConfig(t)
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	tx, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transmitter)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	head := map[string]string{} // the first 20 characters, as receipts quote them
	for _, text := range []string{"Receipt with its data", "Receipt read from the row"} {
		r := tx.submit(submitOpts{to: customer, text: text, rd: 1})
		if r.CommandStatus != data.ESME_ROK {
			t.Fatalf("submit: %s", r.CommandStatus)
		}
		ids = append(ids, r.MessageID)
		head[r.MessageID] = text[:20]
	}
	for _, id := range ids {
		d.waitStatus(id, "read")
	}
	d.stop()

	db, err := sql.Open("sqlite", "file:"+cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	var withData int
	if err := db.QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'smpp:acme' AND data IS NOT NULL`).Scan(&withData); err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE jobs SET data = NULL WHERE kind = 'smpp:acme' AND ref LIKE 'dlr/' || ? || '/%'`, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); withData != 2 || n != 1 {
		t.Fatalf("queued receipt jobs with data: %d, stripped %d; want 2 and 1", withData, n)
	}
	db.Close()

	cfg2 := *cfg
	d2 := startDaemon(t, &cfg2)
	rx, err := bindESME(t, smppAddr(t, d2), "acme", "secret1", pdu.Receiver)
	if err != nil {
		t.Fatal(err)
	}
	receipts := func(ds []*pdu.DeliverSM) []*pdu.DeliverSM {
		var out []*pdu.DeliverSM
		for _, x := range ds {
			if x.EsmClass&0x04 != 0 { // not the customer's "hi"
				out = append(out, x)
			}
		}
		return out
	}
	rx.waitDelivers("both queued receipts", func(ds []*pdu.DeliverSM) bool { return len(receipts(ds)) >= 2 })
	time.Sleep(300 * time.Millisecond) // a second copy would arrive now
	got := map[string]string{}
	for _, r := range receipts(rx.delivers()) {
		id := strings.TrimRight(string(tlvOf(r, pdu.TagReceiptedMessageID)), "\x00")
		if _, dup := got[id]; dup {
			t.Errorf("receipt for %s twice", id)
		}
		// Everything but the id and the dates must be the same for both.
		text := receiptText(r)
		if !strings.HasPrefix(text, "id:"+id+" sub:001 dlvrd:001 submit date:") || r.EsmClass != 0x04 ||
			r.SourceAddr.Address() != strings.TrimPrefix(customer, "+") ||
			!strings.HasSuffix(text, " stat:DELIVRD err:000 text:"+head[id]) ||
			len(tlvOf(r, wsmpp.TagWhatsAppID)) == 0 {
			t.Errorf("receipt for %s: %q esm %#x from %q", id, text, r.EsmClass, r.SourceAddr.Address())
		}
		got[id] = text
	}
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			t.Errorf("no receipt for %s after the restart", id)
		}
	}
}
