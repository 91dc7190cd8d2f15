package smppload

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SMPP 3.4 command ids used by the load client and the fake SMSC.
const (
	cmdGenericNack      uint32 = 0x80000000
	cmdBindTransceiver  uint32 = 0x00000009
	cmdBindTRXResp      uint32 = 0x80000009
	cmdSubmitSM         uint32 = 0x00000004
	cmdSubmitSMResp     uint32 = 0x80000004
	cmdDeliverSM        uint32 = 0x00000005
	cmdDeliverSMResp    uint32 = 0x80000005
	cmdUnbind           uint32 = 0x00000006
	cmdUnbindResp       uint32 = 0x80000006
	cmdEnquireLink      uint32 = 0x00000015
	cmdEnquireLinkResp  uint32 = 0x80000015
	tagReceiptedMsgID   uint16 = 0x001E
	tagMessageState     uint16 = 0x0427
	statusOK            uint32 = 0x00
	statusMsgQFull      uint32 = 0x14
	statusThrottled     uint32 = 0x58
	maxPDU                     = 70 << 10
	esmReceipt                 = 0x04
	esmIntermediateNote        = 0x20
)

// statusName is a command_status as the SMPP spec names it.
func statusName(s uint32) string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status_0x%02X", s)
}

var statusNames = map[uint32]string{
	0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID", 0x04: "ESME_RINVBNDSTS",
	0x05: "ESME_RALYBND", 0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR", 0x0B: "ESME_RINVDSTADR",
	0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID", 0x14: "ESME_RMSGQFUL",
	0x45: "ESME_RSUBMITFAIL", 0x58: "ESME_RTHROTTLED", 0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY",
	0xC4: "ESME_RINVOPTPARAMVAL", 0xFF: "ESME_RUNKNOWNERR",
}

// header is a PDU's 16-octet header.
type header struct {
	length, id, status, seq uint32
}

// appendHeader appends a header whose length is patched by finish.
func appendHeader(b []byte, id, status, seq uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint32(b, status)
	return binary.BigEndian.AppendUint32(b, seq)
}

// finish writes command_length of the PDU starting at b[start].
func finish(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

func appendCString(b []byte, s string) []byte { return append(append(b, s...), 0) }

// appendBindTRX appends a bind_transceiver.
func appendBindTRX(b []byte, seq uint32, systemID, password string) []byte {
	start := len(b)
	b = appendHeader(b, cmdBindTransceiver, 0, seq)
	b = appendCString(b, systemID)
	b = appendCString(b, password)
	b = appendCString(b, "")     // system_type
	b = append(b, 0x34, 0, 0, 0) // interface_version, addr_ton, addr_npi, address_range ""
	return finish(b, start)
}

// submit is what varies between submit_sm of a run.
type submit struct {
	source             string // digits, TON 1 NPI 1
	dest               []byte
	text               []byte // GSM/ASCII, data_coding 0
	registeredDelivery byte
}

// appendSubmitSM appends a submit_sm.
func appendSubmitSM(b []byte, seq uint32, s *submit) []byte {
	start := len(b)
	b = appendHeader(b, cmdSubmitSM, 0, seq)
	b = append(b, 0)    // service_type ""
	b = append(b, 1, 1) // source TON, NPI
	b = appendCString(b, s.source)
	b = append(b, 1, 1) // dest TON, NPI
	b = append(append(b, s.dest...), 0)
	// esm_class, protocol_id, priority_flag, schedule "", validity ""
	b = append(b, 0, 0, 0, 0, 0)
	// registered_delivery, replace_if_present, data_coding, sm_default_msg_id, sm_length
	b = append(b, s.registeredDelivery, 0, 0, 0, byte(len(s.text)))
	b = append(b, s.text...)
	return finish(b, start)
}

// appendResp appends a response with an empty or C-string body.
func appendResp(b []byte, id, status, seq uint32, body string, withBody bool) []byte {
	start := len(b)
	b = appendHeader(b, id, status, seq)
	if withBody {
		b = appendCString(b, body)
	}
	return finish(b, start)
}

// appendReceipt appends a deliver_sm receipt (the fake SMSC's).
func appendReceipt(b []byte, seq uint32, src, dst, id, stat string, state byte) []byte {
	start := len(b)
	b = appendHeader(b, cmdDeliverSM, 0, seq)
	b = append(b, 0, 1, 1)
	b = appendCString(b, dst) // the receipt comes from the recipient
	b = append(b, 1, 1)
	b = appendCString(b, src)
	b = append(b, esmReceipt, 0, 0, 0, 0, 0, 0, 0, 0)
	text := "id:" + id + " sub:001 dlvrd:001 submit date:2501010000 done date:2501010000 stat:" + stat + " err:000 text:"
	b = append(b, byte(len(text)))
	b = append(b, text...)
	b = binary.BigEndian.AppendUint16(b, tagReceiptedMsgID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)+1))
	b = appendCString(b, id)
	b = binary.BigEndian.AppendUint16(b, tagMessageState)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, state)
	return finish(b, start)
}

var errPDUSize = errors.New("smppload: bad command_length")

// readPDU reads one PDU; body reuses buf when it is large enough.
func readPDU(r *bufio.Reader, buf []byte) (header, []byte, error) {
	var h header
	var hb [16]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return h, buf, err
	}
	h.length = binary.BigEndian.Uint32(hb[0:])
	h.id = binary.BigEndian.Uint32(hb[4:])
	h.status = binary.BigEndian.Uint32(hb[8:])
	h.seq = binary.BigEndian.Uint32(hb[12:])
	if h.length < 16 || h.length > maxPDU {
		return h, buf, errPDUSize
	}
	n := int(h.length - 16)
	if cap(buf) < n {
		buf = make([]byte, n, max(n, 512))
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return h, buf, err
}

// cstring reads a C string at b[*off:].
func cstring(b []byte, off *int) ([]byte, bool) {
	for i := *off; i < len(b); i++ {
		if b[i] == 0 {
			s := b[*off:i]
			*off = i + 1
			return s, true
		}
	}
	return nil, false
}

// receipt is what a deliver_sm says about a message.
type receipt struct {
	isReceipt bool   // esm_class says delivery receipt (0x04) or intermediate notification (0x20)
	final     bool   // a final state (not ENROUTE / intermediate)
	id        []byte // receipted_message_id, else the text's id:
	stat      string // DELIVRD, UNDELIV, … (text's stat:, else from message_state)
	srcAddr   []byte // the submit's destination (the customer)
}

var stateNames = [...]string{"SCHEDULED", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "SKIPPED"}

// parseDeliverSM reads what matters of a deliver_sm body. Slices point into body.
func parseDeliverSM(body []byte) (receipt, error) {
	var r receipt
	off := 0
	var ok bool
	if _, ok = cstring(body, &off); !ok { // service_type
		return r, errors.New("deliver_sm: service_type")
	}
	off += 2
	if r.srcAddr, ok = cstring(body, &off); !ok {
		return r, errors.New("deliver_sm: source_addr")
	}
	off += 2
	if _, ok = cstring(body, &off); !ok {
		return r, errors.New("deliver_sm: destination_addr")
	}
	if off+3 > len(body) {
		return r, errors.New("deliver_sm: short")
	}
	esm := body[off]
	off += 3
	if _, ok = cstring(body, &off); !ok {
		return r, errors.New("deliver_sm: schedule")
	}
	if _, ok = cstring(body, &off); !ok {
		return r, errors.New("deliver_sm: validity")
	}
	if off+5 > len(body) {
		return r, errors.New("deliver_sm: short")
	}
	smLen := int(body[off+4])
	off += 5
	if off+smLen > len(body) {
		return r, errors.New("deliver_sm: sm_length")
	}
	text := body[off : off+smLen]
	off += smLen
	state := -1
	for off+4 <= len(body) {
		tag := binary.BigEndian.Uint16(body[off:])
		l := int(binary.BigEndian.Uint16(body[off+2:]))
		off += 4
		if off+l > len(body) {
			return r, errors.New("deliver_sm: TLV length")
		}
		v := body[off : off+l]
		off += l
		switch tag {
		case tagReceiptedMsgID:
			if n := len(v); n > 0 && v[n-1] == 0 {
				v = v[:n-1]
			}
			r.id = v
		case tagMessageState:
			if l == 1 {
				state = int(v[0])
			}
		}
	}
	r.isReceipt = esm&(esmReceipt|esmIntermediateNote) != 0
	if !r.isReceipt {
		return r, nil
	}
	if r.id == nil {
		r.id = field(text, "id:")
	}
	if s := field(text, "stat:"); s != nil {
		r.stat = statString(s)
	} else if state >= 0 && state < len(stateNames) {
		r.stat = stateNames[state]
	} else {
		r.stat = "UNKNOWN"
	}
	r.final = esm&esmIntermediateNote == 0 && r.stat != "ENROUTE" && r.stat != "SCHEDULED"
	return r, nil
}

// statString interns the usual stat values (no allocation per receipt).
func statString(s []byte) string {
	for _, n := range stateNames {
		if bytes.EqualFold(s, []byte(n)) {
			return n
		}
	}
	return strings.ToUpper(string(s))
}

// field returns the value after key (case-insensitive) up to a space.
func field(text []byte, key string) []byte {
	n := len(key)
	for i := 0; i+n <= len(text); i++ {
		if (i == 0 || text[i-1] == ' ') && bytes.EqualFold(text[i:i+n], []byte(key)) {
			j := i + n
			k := j
			for k < len(text) && text[k] != ' ' {
				k++
			}
			return text[j:k]
		}
	}
	return nil
}
