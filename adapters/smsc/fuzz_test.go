package smsc

import (
	"context"
	"encoding/binary"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

// fuzzSeeds are deliver_sm / data_sm PDUs of every shape the client
// reads (testdata/fuzz/FuzzDecodeInbound holds more).
func fuzzSeeds() [][]byte {
	gsm := func(s string) []byte { _, b := sms.Encode(s); return b }
	dsm := pdu.NewDataSM().(*pdu.DataSM)
	dsm.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4917600000002")
	dsm.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, "4915100000001")
	dsm.RegisterOptionalParam(tlv(tagMessagePayload, []byte("id:77 stat:DELIVRD")))
	dsm.EsmClass = 0x04
	out := [][]byte{
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0x04, 0,
			[]byte("id:0123456789 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:Hello"))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0x04, 0, []byte("id:7F3A sub:1 done date:240115123150 stat:UNDELIV err:0B"),
			tlv(tagReceiptedMessageID, cstr("7F3A")), tlv(tagMessageState, []byte{5}), tlv(tagNetworkErrorCode, []byte{3, 0, 11}))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0, 0, gsm("Hello @ £ {x}"))),
		marshalPDU(deliverSM("+4917600000002", "4915100000001", 0, 8, ucs2("Grüße 😀"))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0, 3, []byte("caf\xe9"))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0x40, 0, append([]byte{5, 0, 3, 9, 2, 1}, gsm("part one ")...))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0x40, 8, append([]byte{6, 8, 4, 1, 2, 2, 2}, ucs2("zwei")...))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0, 0, gsm("sar"),
			tlv(sms.TagSARMsgRefNum, []byte{0, 1}), tlv(sms.TagSARTotalSegments, []byte{2}), tlv(sms.TagSARSegmentSeqnum, []byte{1}))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0x40, 0, append([]byte{8, 0x24, 1, 1, 0, 3, 7, 2, 2}, 'a'))),
		marshalPDU(deliverSM("4917600000002", "4915100000001", 0, 0xF1, gsm("class 1"))),
		marshalPDU(dsm),
	}
	return out
}

// FuzzDecodeInbound feeds the deliver_sm / data_sm decoder arbitrary PDU
// bytes: it must never panic, and whatever it reports must be usable:
// receipts name a part and a known state; messages have numeric
// addresses and valid UTF-8 text, also once reassembled.
func FuzzDecodeInbound(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	c, err := New(Config{Name: "fz", Host: "127.0.0.1", Port: 1, SystemID: "x"},
		func(context.Context, []bridge.SMSEvent) error { return nil }, nil)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	states := map[string]bool{bridge.SMSDelivered: true, bridge.SMSUndeliverable: true, bridge.SMSRejected: true,
		bridge.SMSExpired: true, bridge.SMSDeleted: true, bridge.SMSAccepted: true, bridge.SMSEnroute: true, bridge.SMSUnknown: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < 16 || len(raw) > maxPDU {
			return
		}
		raw = append([]byte(nil), raw...)
		binary.BigEndian.PutUint32(raw[0:], uint32(len(raw))) // the reader checked it
		if cmd := data.CommandIDType(binary.BigEndian.Uint32(raw[4:])); cmd != data.DELIVER_SM && cmd != data.DATA_SM {
			cmd = data.DELIVER_SM
			if raw[7]&1 == 0 {
				cmd = data.DATA_SM
			}
			binary.BigEndian.PutUint32(raw[4:], uint32(cmd))
		}
		p, err := splitPDU(raw)
		if err != nil {
			t.Fatal(err)
		}
		dc0 := []sms.Coding{sms.CodingDefault, sms.CodingIA5, sms.CodingLatin1}[int(raw[11])%3]
		in, err := decodeInbound(p, now, dc0)
		if err != nil {
			return
		}
		switch in.kind {
		case inReceipt:
			ev := in.receipt
			if ev.PartID == "" || !states[ev.Stat] || ev.ErrorCode < 0 || ev.At.IsZero() || ev.MO != nil {
				t.Fatalf("receipt %+v", ev)
			}
		case inMO:
			m := in.mo
			if _, ok := addrDigits(m.src); !ok {
				t.Fatalf("source %q", m.src)
			}
			if _, ok := addrDigits(m.dst); !ok {
				t.Fatalf("destination %q", m.dst)
			}
			if m.concat == nil {
				if !utf8.ValidString(m.text) {
					t.Fatalf("text %q not UTF-8", m.text)
				}
				msg := moMessage("fz", "x", m.src, m.dst, m.text, now)
				if msg.Business[0] != '+' || msg.Customer.Phone[0] != '+' {
					t.Fatalf("message %+v", msg)
				}
				return
			}
			if m.concat.Total < 2 || m.concat.Seq < 1 || m.concat.Seq > m.concat.Total {
				t.Fatalf("concat %+v", *m.concat)
			}
			// Reassemble it with itself as every part.
			var item *moItem
			for seq := uint8(1); seq <= m.concat.Total && item == nil; seq++ {
				cc := *m.concat
				cc.Seq = seq
				mp := *m
				mp.concat = &cc
				item, _ = c.addPart(&mp, ackRef{}, now)
			}
			if item == nil || item.ev.MO == nil || !utf8.ValidString(item.ev.MO.Content.Text) || len(item.acks) != int(m.concat.Total) {
				t.Fatalf("reassembly: %+v", item)
			}
			c.moMu.Lock()
			clear(c.stored)
			clear(c.concat)
			clear(c.recent)
			c.moMu.Unlock()
		case inIgnore:
			if in.why == "" {
				t.Fatal("ignored without a reason")
			}
		default:
			t.Fatalf("kind %d", in.kind)
		}
	})
}
