package smpp

import (
	"encoding/binary"
	"testing"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

func marshal(p pdu.PDU) []byte {
	b := pdu.NewBuffer(nil)
	p.Marshal(b)
	return b.Bytes()
}

// FuzzDecodePDU feeds the PDU reader arbitrary bytes after a well-formed
// header: it must never panic, and anything it accepts must have a
// command the SMPP 3.4 factory knows.
func FuzzDecodePDU(f *testing.F) {
	bind := pdu.NewBindTransceiver().(*pdu.BindRequest)
	bind.SystemID, bind.Password = "acme", "secret1"
	sub := pdu.NewSubmitSM().(*pdu.SubmitSM)
	_ = sub.DestAddr.SetAddress("4915112345678")
	sub.Message, _ = pdu.NewShortMessage("hello")
	sub.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: []byte("payload")})
	udh := pdu.NewSubmitSM().(*pdu.SubmitSM)
	udh.EsmClass = 0x40
	udh.Message, _ = pdu.NewBinaryShortMessage(append([]byte{6, 8, 4, 0x12, 0x34, 3, 1}, "part"...))
	for _, p := range []pdu.PDU{bind, sub, udh, pdu.NewEnquireLink(), pdu.NewUnbind(), pdu.NewQuerySM(), pdu.NewCancelSM(),
		pdu.NewDeliverSMResp(), pdu.NewGenericNack()} {
		f.Add(marshal(p))
	}
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < 16 || len(raw) > maxPDU {
			return
		}
		binary.BigEndian.PutUint32(raw[0:], uint32(len(raw))) // the reader checked the length already
		cmd := data.CommandIDType(binary.BigEndian.Uint32(raw[4:]))
		p, status := decodePDU(raw, cmd)
		if status == data.ESME_ROK {
			if p == nil {
				t.Fatal("accepted without a PDU")
			}
			if _, err := pdu.CreatePDUFromCmdID(cmd); err != nil {
				t.Fatalf("accepted unknown command %#x", uint32(cmd))
			}
			// Whatever was accepted can be answered.
			if p.CanResponse() && p.GetResponse() == nil {
				t.Fatalf("no response for %T", p)
			}
			if s, ok := p.(*pdu.SubmitSM); ok {
				_, _ = s.Message.GetMessageData()
			}
		}
	})
}
