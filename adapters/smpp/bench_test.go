package smpp

import (
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// BenchmarkDecodeSubmitSM: one submit_sm off the wire (header checked,
// body decoded by the SMPP 3.4 factory), as every session does per message.
func BenchmarkDecodeSubmitSM(b *testing.B) {
	sub := pdu.NewSubmitSM().(*pdu.SubmitSM)
	_ = sub.SourceAddr.SetAddress("15550100001")
	_ = sub.DestAddr.SetAddress("4915112345678")
	sub.RegisteredDelivery = 1
	sub.Message, _ = pdu.NewShortMessage("Your order 12345 is on its way and will arrive Monday.")
	raw := marshal(sub)
	cmd := data.CommandIDType(binary.BigEndian.Uint32(raw[4:]))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, status := decodePDU(raw, cmd); status != data.ESME_ROK {
			b.Fatal(status)
		}
	}
}

// BenchmarkEncodeDeliverSMReceipt: a delivery receipt (deliver_sm with
// receipted_message_id and message_state TLVs) encoded for the wire.
func BenchmarkEncodeDeliverSMReceipt(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := pdu.NewDeliverSM().(*pdu.DeliverSM)
		_ = d.SourceAddr.SetAddress("4915112345678")
		_ = d.DestAddr.SetAddress("15550100001")
		d.EsmClass = 0x04
		d.Message, _ = pdu.NewShortMessage("id:01m80xpyqprj2cfg3hmm1x1s7v sub:001 dlvrd:001 submit date:2611220600 done date:2611220600 stat:DELIVRD err:000 text:Your order 12345 is")
		d.RegisterOptionalParam(pdu.Field{Tag: pdu.TagReceiptedMessageID, Data: []byte("01m80xpyqprj2cfg3hmm1x1s7v\x00")})
		d.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessageStateOption, Data: []byte{2}})
		d.SequenceNumber = 7
		buf := pdu.NewBuffer(make([]byte, 0, 256))
		d.Marshal(buf)
		if buf.Len() == 0 {
			b.Fatal("empty")
		}
	}
}

// BenchmarkReceiptDataCodec: a submission's meta and a receipt job's data,
// each written once and read once, as an SMPP message with a final receipt
// does; beside encoding/json, which did it before.
func BenchmarkReceiptDataCodec(b *testing.B) {
	md := meta{SystemID: "acme", Source: "15550100001", Dest: "4915112345678", DstTON: 1, DstNPI: 1, RD: 1, Text: "Your order 12345 is "}
	d := receiptData{Meta: md, Created: 1763800000123, Done: 1763800001456, Channel: "whatsapp", WAMID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unmarshalMeta(marshalMeta(md)); err != nil {
				b.Fatal(err)
			}
			if _, err := unmarshalReceiptData(marshalReceiptData(d)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, _ := json.Marshal(md)
			var m meta
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
			raw, _ = json.Marshal(d)
			var r receiptData
			if err := json.Unmarshal(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
