package smsc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

func TestReceiptWithTLVs(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	text := "id:IGNORED sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:hi"
	p := deliverSM("4917600000002", "4915100000001", 0x04, 0, []byte(text),
		tlv(tagReceiptedMessageID, cstr("id-2a")), tlv(tagMessageState, []byte{sms.StateUndeliverable}),
		tlv(tagNetworkErrorCode, []byte{3, 0x01, 0x02}))
	seq := fc.send(p)
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("deliver_sm_resp %v", st)
	}
	ev := rec.next(t)
	at := time.Date(2024, 1, 15, 12, 31, 0, 0, time.UTC)
	if ev.Route != "op1" || ev.PartID != "id-2a" || ev.Stat != bridge.SMSUndeliverable || ev.ErrorCode != 0x0102 ||
		!ev.At.Equal(at) || ev.MO != nil {
		t.Fatalf("event %+v", ev)
	}
}

func TestReceiptTextFormats(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, text string
		dc         byte
		id, stat   string
		code       int
		at         time.Time
	}{
		{"spec, decimal id, 10-digit dates",
			"id:0123456789 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:Hello",
			0, "0123456789", bridge.SMSDelivered, 0, time.Date(2024, 1, 15, 12, 31, 0, 0, time.UTC)},
		{"hex id, 12-digit dates, Text:",
			"id:7F3A9B2C sub:001 dlvrd:000 submit date:240115123045 done date:240115123150 stat:UNDELIV err:034 Text:Your code",
			0, "7F3A9B2C", bridge.SMSUndeliverable, 34, time.Date(2024, 1, 15, 12, 31, 50, 0, time.UTC)},
		{"UUID id, missing fields",
			"id:3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c stat:EXPIRED",
			0, "3f1c2a9e-5b7d-4c1e-9a2b-8d7e6f5a4b3c", bridge.SMSExpired, 0, now},
		{"spelled-out stat, upper-case labels, hex err",
			"ID:98765432101234 SUB:1 DLVRD:1 SUBMIT DATE:2602281200 DONE DATE:2602281201 STAT:delivered ERR:0B",
			0, "98765432101234", bridge.SMSDelivered, 11, time.Date(2026, 2, 28, 12, 1, 0, 0, time.UTC)},
		{"FAILED, underscore dates",
			"id:abc123 submit_date:2601010000 done_date:2601010001 stat:FAILED err:1",
			0, "abc123", bridge.SMSUndeliverable, 1, time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)},
		{"UCS-2 receipt", "id:42 stat:REJECTD err:000", 8, "42", bridge.SMSRejected, 0, now},
		{"unknown stat word", "id:43 stat:WEIRD", 0, "43", bridge.SMSUnknown, 0, now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sm := []byte(tc.text)
			if tc.dc == 8 {
				sm = ucs2(tc.text)
			}
			in, err := decodeInbound(mustSplit(t, deliverSM("4917600000002", "4915100000001", 0x04, tc.dc, sm)), now, sms.CodingDefault)
			if err != nil {
				t.Fatal(err)
			}
			ev := in.receipt
			if in.kind != inReceipt || ev.PartID != tc.id || ev.Stat != tc.stat || ev.ErrorCode != tc.code || !ev.At.Equal(tc.at) {
				t.Fatalf("kind %d event %+v", in.kind, ev)
			}
		})
	}
}

func TestReceiptWithoutIDIgnored(t *testing.T) {
	in, err := decodeInbound(mustSplit(t, deliverSM("1", "2", 0x04, 0, []byte("sub:001 dlvrd:001"))), time.Now(), 0)
	if err != nil || in.kind != inIgnore {
		t.Fatalf("kind %d, %v", in.kind, err)
	}
	// Receipts without the esm_class bits but with both TLVs.
	in, err = decodeInbound(mustSplit(t, deliverSM("1", "2", 0, 0, nil,
		tlv(tagReceiptedMessageID, cstr("x9")), tlv(tagMessageState, []byte{2}))), time.Now(), 0)
	if err != nil || in.kind != inReceipt || in.receipt.PartID != "x9" || in.receipt.Stat != bridge.SMSDelivered {
		t.Fatalf("kind %d %+v, %v", in.kind, in.receipt, err)
	}
}

func mustSplit(t *testing.T, p pdu.PDU) rawPDU {
	t.Helper()
	r, err := splitPDU(marshalPDU(p))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDecodeMO(t *testing.T) {
	gsm := func(s string) []byte { _, b := sms.Encode(s); return b }
	tests := []struct {
		name string
		dc   byte
		sm   []byte
		text string
	}{
		{"GSM", 0, gsm("Hi @ £5 {ok}"), "Hi @ £5 {ok}"},
		{"UCS-2 emoji", 8, ucs2("Hallo 👋 Привет"), "Hallo 👋 Привет"},
		{"Latin-1", 3, []byte("Gr\xfc\xdfe"), "Grüße"},
		{"IA5", 1, []byte("plain"), "plain"},
		{"GSM class 1 (0xF1)", 0xF1, gsm("@home"), "@home"},
		{"UCS-2 class 0 (0x18)", 0x18, ucs2("é"), "é"},
		{"8-bit text as data_coding 0", 0, []byte("caf\xe9"), "café"},
		{"UCS-2 lone surrogate", 8, []byte{0xD8, 0x3D, 0, 'a'}, "\uFFFDa"},
		{"GSM trailing escape", 0, []byte{'o', 'k', 0x1B}, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := decodeInbound(mustSplit(t, deliverSM("+4917600000002", "4915100000001", 0, tc.dc, tc.sm)), time.Now(), sms.CodingDefault)
			if err != nil {
				t.Fatal(err)
			}
			if in.kind != inMO || in.mo.text != tc.text || in.mo.src != "4917600000002" || in.mo.dst != "4915100000001" || in.mo.concat != nil {
				t.Fatalf("kind %d mo %+v", in.kind, in.mo)
			}
		})
	}
	// data_coding 0 as Latin-1 for the account.
	in, err := decodeInbound(mustSplit(t, deliverSM("1", "2", 0, 0, []byte("a@b_"))), time.Now(), sms.CodingLatin1)
	if err != nil || in.mo.text != "a@b_" {
		t.Fatalf("dc0 Latin-1: %+v %v", in.mo, err)
	}
	// data_sm with message_payload.
	dsm := pdu.NewDataSM().(*pdu.DataSM)
	dsm.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4917600000002")
	dsm.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4915100000001")
	dsm.RegisterOptionalParam(tlv(tagMessagePayload, []byte("via data-sm")))
	in, err = decodeInbound(mustSplit(t, dsm), time.Now(), 0)
	if err != nil || in.kind != inMO || in.mo.text != "via data-sm" {
		t.Fatalf("data_sm: %+v %v", in.mo, err)
	}
}

func TestDecodeMOUnusable(t *testing.T) {
	for name, p := range map[string]pdu.PDU{
		"binary":         deliverSM("4917600000002", "4915100000001", 0, 4, []byte{1, 2, 3}),
		"binary class":   deliverSM("4917600000002", "4915100000001", 0, 0xF5, []byte{1, 2, 3}),
		"alpha source":   deliverSM("ACME", "4915100000001", 0, 0, []byte("hi")),
		"no destination": deliverSM("4917600000002", "", 0, 0, []byte("hi")),
		"bad UDH":        deliverSM("4917600000002", "4915100000001", 0x40, 0, []byte{9, 0, 3, 1}),
	} {
		if _, err := decodeInbound(mustSplit(t, p), time.Now(), 0); !errors.Is(err, errUnusable) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A truncated body.
	b := marshalPDU(deliverSM("4917600000002", "4915100000001", 0, 0, []byte("hello")))
	b = b[:len(b)-3]
	r, _ := splitPDU(b)
	if _, err := decodeInbound(r, time.Now(), 0); !errors.Is(err, errUnusable) {
		t.Errorf("truncated: %v", err)
	}
}

func TestMOSingle(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	seq := fc.send(deliverSM("4917600000002", "4915100000001", 0, 8, ucs2("Hallo 😀")))
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("deliver_sm_resp %v", st)
	}
	ev := rec.next(t)
	m := ev.MO
	if ev.Route != "op1" || m == nil || m.Direction != bridge.Inbound || m.Channel != bridge.ChannelSMS ||
		m.Business != "+4915100000001" || m.Customer.Phone != "+4917600000002" || m.Kind != bridge.KindText ||
		m.Content.Text != "Hallo 😀" || !strings.HasPrefix(m.WAMID, "sms:op1:") || m.Timestamp.IsZero() {
		t.Fatalf("event %+v mo %+v", ev, m)
	}
	// The same text again is another message.
	seq = fc.send(deliverSM("4917600000002", "4915100000001", 0, 8, ucs2("Hallo 😀")))
	fc.deliverResp(t, seq)
	if ev2 := rec.next(t); ev2.MO == nil || ev2.MO.WAMID == m.WAMID {
		t.Fatalf("repeated text got WAMID %q (first %q)", ev2.MO.WAMID, m.WAMID)
	}
	// An SMSC id for the MO is used as is.
	seq = fc.send(deliverSM("4917600000002", "4915100000001", 0, 0, []byte("x"), tlv(tagReceiptedMessageID, cstr("MO-77"))))
	fc.deliverResp(t, seq)
	if ev3 := rec.next(t); ev3.MO == nil || ev3.MO.WAMID != "sms:op1:MO-77" {
		t.Fatalf("MO with id: %+v", ev3.MO)
	}
}

func TestMORefusedForGood(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	seq := fc.send(deliverSM("4917600000002", "4915100000001", 0, 4, []byte{0xCA, 0xFE}))
	if st := fc.deliverResp(t, seq); st != data.ESME_RX_P_APPN {
		t.Fatalf("binary MO answered %v", st)
	}
}

// TestDeliverRespAfterHandle: the deliver_sm_resp is written only after
// handle returned; a failed handle gets ESME_RX_T_APPN and the
// redelivery is stored.
func TestDeliverRespAfterHandle(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	entered := make(chan struct{}, 1)
	release := make(chan error)
	rec.setHook(func([]bridge.SMSEvent) error {
		entered <- struct{}{}
		return <-release
	})
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	receipt := deliverSM("4917600000002", "4915100000001", 0x04, 0, []byte("id:abc stat:DELIVRD"))
	seq := fc.send(receipt)
	select {
	case <-entered:
	case <-time.After(testWait):
		t.Fatal("handle not called")
	}
	// While handle blocks, a round trip on the same connection comes back
	// without a deliver_sm_resp before it: the writer is FIFO, so the
	// response has not been queued.
	eseq := fc.send(pdu.NewEnquireLink())
	select {
	case got := <-fc.enquireResps:
		if got != eseq {
			t.Fatalf("enquire_link_resp %d", got)
		}
	case <-time.After(testWait):
		t.Fatal("enquire_link not answered while handle blocks")
	}
	select {
	case r := <-fc.deliverResps:
		t.Fatalf("deliver_sm_resp %+v before handle returned", r)
	default:
	}
	release <- errors.New("database is locked")
	if st := fc.deliverResp(t, seq); st != data.ESME_RX_T_APPN {
		t.Fatalf("failed handle answered %v", st)
	}
	// The SMSC redelivers; this time it is stored.
	seq = fc.send(receipt)
	<-entered
	release <- nil
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("stored event answered %v", st)
	}
	if ev := rec.next(t); ev.PartID != "abc" || ev.Stat != bridge.SMSDelivered {
		t.Fatalf("event %+v", ev)
	}
}

func concatParts(ref byte, texts ...string) [][]byte {
	var out [][]byte
	for i, s := range texts {
		_, b := sms.Encode(s)
		out = append(out, append([]byte{5, 0, 3, ref, byte(len(texts)), byte(i + 1)}, b...))
	}
	return out
}

func TestMOConcatenatedUDH(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	entered := make(chan struct{}, 4)
	release := make(chan error, 4)
	rec.setHook(func([]bridge.SMSEvent) error {
		entered <- struct{}{}
		return <-release
	})
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	parts := concatParts(0x42, "Hello ", "from a ", "long SMS")
	// Out of order, without waiting for responses (a windowed SMSC).
	var seqs []int32
	for _, i := range []int{2, 0, 1} {
		seqs = append(seqs, fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, parts[i])))
	}
	<-entered
	select {
	case r := <-fc.deliverResps:
		t.Fatalf("part answered (%+v) before the message was stored", r)
	default:
	}
	release <- nil
	for _, seq := range seqs {
		if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
			t.Fatalf("part answered %v", st)
		}
	}
	ev := rec.next(t)
	if ev.MO == nil || ev.MO.Content.Text != "Hello from a long SMS" || ev.MO.Customer.Phone != "+4917600000002" {
		t.Fatalf("event %+v", ev.MO)
	}
	// A part redelivered after the message was stored is answered, not
	// reported again.
	seq := fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, parts[1]))
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("redelivered part answered %v", st)
	}
	select {
	case <-entered:
		t.Fatal("redelivered part stored again")
	default:
	}
}

func TestMOConcatenatedSARAndUCS2(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	// A surrogate pair cut between the parts, as some phones do.
	all := ucs2("Grüße 😀 aus Köln")
	cut := 14 // inside the emoji's pair
	chunks := [][]byte{all[:cut], all[cut:]}
	var seqs []int32
	for i, c := range chunks {
		seqs = append(seqs, fc.send(deliverSM("4917600000002", "4915100000001", 0, 8, c,
			tlv(sms.TagSARMsgRefNum, []byte{0x12, 0x34}), tlv(sms.TagSARTotalSegments, []byte{2}),
			tlv(sms.TagSARSegmentSeqnum, []byte{byte(i + 1)}))))
	}
	for _, seq := range seqs {
		if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
			t.Fatalf("answered %v", st)
		}
	}
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "Grüße 😀 aus Köln" {
		t.Fatalf("event %+v", ev.MO)
	}
}

// TestMOConcatenatedOneAtATime: an SMSC that waits for each response
// (window 1) gets the held responses after ConcatHold, and the message is
// still reassembled.
func TestMOConcatenatedOneAtATime(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, func(c *Config) { c.ConcatHold = 20 * time.Millisecond })
	fc := f.waitBound()
	parts := concatParts(7, "one ", "two ", "three")
	for _, p := range parts {
		seq := fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, p))
		if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
			t.Fatalf("answered %v", st)
		}
	}
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "one two three" {
		t.Fatalf("event %+v", ev.MO)
	}
}

// TestMOConcatenatedStoreFails: the held parts get ESME_RX_T_APPN; the
// redelivered parts make the message again.
func TestMOConcatenatedStoreFails(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	fail := true
	rec.setHook(func([]bridge.SMSEvent) error {
		if fail {
			fail = false
			return errors.New("disk full")
		}
		return nil
	})
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	parts := concatParts(9, "abc", "def")
	send := func(want data.CommandStatusType) {
		var seqs []int32
		for _, p := range parts {
			seqs = append(seqs, fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, p)))
		}
		for _, seq := range seqs {
			if st := fc.deliverResp(t, seq); st != want {
				t.Fatalf("answered %v, want %v", st, want)
			}
		}
	}
	send(data.ESME_RX_T_APPN)
	send(data.ESME_ROK)
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "abcdef" {
		t.Fatalf("event %+v", ev.MO)
	}
}

// TestMOConcatenatedIncomplete: after ConcatTimeout the parts received
// are reported, the gap marked, and their held responses answered once
// stored. (The sweep is driven with a clock of its own.)
func TestMOConcatenatedIncomplete(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	c, _ := startClient(t, f, rec, func(c *Config) { c.ConcatTimeout = time.Hour })
	fc := f.waitBound()
	parts := concatParts(3, "first ", "lost ", "last")
	var seqs []int32
	for _, i := range []int{0, 2} {
		seqs = append(seqs, fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, parts[i])))
	}
	eventually(t, "two parts held", func() bool {
		c.moMu.Lock()
		defer c.moMu.Unlock()
		for _, e := range c.concat {
			return len(e.held) == 2
		}
		return false
	})
	c.sweep(time.Now().Add(2 * time.Hour))
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "first …last" {
		t.Fatalf("event %+v", ev.MO)
	}
	for _, seq := range seqs {
		if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
			t.Fatalf("answered %v", st)
		}
	}
}

// TestMOConcatenatedHoldExpires: held parts are answered after
// ConcatHold even though the message is incomplete.
func TestMOConcatenatedHoldExpires(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	c, _ := startClient(t, f, rec, func(c *Config) { c.ConcatHold, c.ConcatTimeout = time.Hour, 24*time.Hour })
	fc := f.waitBound()
	parts := concatParts(4, "a", "b")
	seq := fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, parts[0]))
	eventually(t, "the part held", func() bool {
		c.moMu.Lock()
		defer c.moMu.Unlock()
		return len(c.concat) == 1
	})
	c.sweep(time.Now().Add(2 * time.Hour))
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("answered %v", st)
	}
	seq = fc.send(deliverSM("4917600000002", "4915100000001", 0x40, 0, parts[1]))
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("answered %v", st)
	}
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "ab" {
		t.Fatalf("event %+v", ev.MO)
	}
}

func TestMORedeliveredAfterLostAckKeepsWAMID(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	c, _ := startClient(t, f, rec, nil)
	fc := f.waitBound()
	p := deliverSM("4917600000002", "4915100000001", 0, 0, []byte("yes"))
	seq := fc.send(p)
	fc.deliverResp(t, seq)
	first := rec.next(t).MO.WAMID
	// Pretend the answer was lost with the connection.
	c.moMu.Lock()
	for _, r := range c.recent {
		r.state = moUnacked
	}
	c.moMu.Unlock()
	seq = fc.send(p)
	fc.deliverResp(t, seq)
	if again := rec.next(t).MO.WAMID; again != first {
		t.Fatalf("redelivery got %q, first %q", again, first)
	}
}

func TestDataSMAnswered(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	startClient(t, f, rec, nil)
	fc := f.waitBound()
	dsm := pdu.NewDataSM().(*pdu.DataSM)
	dsm.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4917600000002")
	dsm.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4915100000001")
	dsm.EsmClass = 0x04
	dsm.RegisterOptionalParam(tlv(tagReceiptedMessageID, cstr("d-1")))
	dsm.RegisterOptionalParam(tlv(tagMessageState, []byte{sms.StateDelivered}))
	seq := fc.send(dsm)
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("data_sm_resp %v", st)
	}
	if ev := rec.next(t); ev.PartID != "d-1" || ev.Stat != bridge.SMSDelivered {
		t.Fatalf("event %+v", ev)
	}
}
