package smppload

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadDeliverSM feeds wabload's SMPP reader what a server might send:
// readPDU must refuse a bad command_length before allocating for it, and
// parseDeliverSM must neither panic nor read outside the body; a receipt
// it calls final is never ENROUTE or SCHEDULED.
func FuzzReadDeliverSM(f *testing.F) {
	f.Add(appendReceipt(nil, 7, "4915110000001", "15550100001", "0123456789abcdef", "DELIVRD", 2))
	f.Add(appendReceipt(nil, 8, "4915110000002", "15550100001", "x", "ENROUTE", 1))
	f.Add(appendReceipt(nil, 9, "", "", "", "", 0))
	f.Add(appendResp(nil, 0x80000004, 0, 3, "id-1", true))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			h, body, err := readPDU(r, nil)
			if err != nil {
				if err == errPDUSize && h.length >= 16 && h.length <= maxPDU {
					t.Fatalf("command_length %d refused", h.length)
				}
				return
			}
			if len(body) != int(h.length)-16 {
				t.Fatalf("body %d bytes for command_length %d", len(body), h.length)
			}
			rc, err := parseDeliverSM(body)
			if err != nil {
				continue
			}
			if rc.final && (!rc.isReceipt || rc.stat == "ENROUTE" || rc.stat == "SCHEDULED") {
				t.Fatalf("final receipt %+v", rc)
			}
		}
	})
}
