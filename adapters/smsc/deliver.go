package smsc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/linxGnu/gosmpp/data"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

// TLV tags read from deliver_sm / data_sm (SMPP 3.4 5.3.2).
const (
	tagReceiptedMessageID uint16 = 0x001E
	tagNetworkErrorCode   uint16 = 0x0423
	tagMessagePayload     uint16 = 0x0424
	tagMessageState       uint16 = 0x0427
)

// esm_class bits (SMPP 3.4 5.2.12).
const (
	esmTypeMask         = 0x3C
	esmReceipt          = 0x04 // SMSC delivery receipt
	esmIntermediate     = 0x20 // intermediate delivery notification
	esmUDHI             = 0x40
	registeredDelivery1 = 0x01 // a final receipt, on success or failure
)

// inPDU is the body of a deliver_sm or data_sm.
type inPDU struct {
	cmd            data.CommandIDType
	srcTON, srcNPI byte
	src            string
	dstTON, dstNPI byte
	dst            string
	esm            byte
	dc             byte
	sm             []byte // short_message (message_payload when sm_length is 0)
	tlv            map[uint16][]byte
}

// parseInPDU reads a deliver_sm or data_sm body.
func parseInPDU(p rawPDU) (*inPDU, error) {
	r := bodyReader{b: p.body}
	in := &inPDU{cmd: p.cmd}
	r.cstring() // service_type
	in.srcTON, in.srcNPI, in.src = r.byte(), r.byte(), r.cstring()
	in.dstTON, in.dstNPI, in.dst = r.byte(), r.byte(), r.cstring()
	in.esm = r.byte()
	switch p.cmd {
	case data.DELIVER_SM:
		r.byte()    // protocol_id
		r.byte()    // priority_flag
		r.cstring() // schedule_delivery_time
		r.cstring() // validity_period
		r.byte()    // registered_delivery
		r.byte()    // replace_if_present_flag
		in.dc = r.byte()
		r.byte() // sm_default_msg_id
		in.sm = r.bytes(int(r.byte()))
	case data.DATA_SM:
		r.byte() // registered_delivery
		in.dc = r.byte()
	default:
		return nil, fmt.Errorf("smsc: command 0x%08x is not deliver_sm or data_sm", uint32(p.cmd))
	}
	in.tlv = r.tlvs()
	if r.err != nil {
		return nil, r.err
	}
	if payload, ok := in.tlv[tagMessagePayload]; ok && len(in.sm) == 0 {
		in.sm = payload
	}
	return in, nil
}

// inKind is what a deliver_sm brings.
type inKind int

const (
	inIgnore  inKind = iota // nothing to report (answered ESME_ROK)
	inReceipt               // a delivery receipt
	inMO                    // a customer's message or a part of one
)

// inbound is a decoded deliver_sm / data_sm.
type inbound struct {
	kind    inKind
	why     string          // inIgnore: what it was, for the log
	receipt bridge.SMSEvent // inReceipt (Route not set)
	mo      *moPart         // inMO
}

// moPart is a customer's message, or one part of a concatenated one.
type moPart struct {
	src, dst        string // digits
	coding          sms.Coding
	gsm             bool   // the data_coding names GSM 03.38 explicitly (not data_coding 0)
	data            []byte // the encoded text, UDH removed
	locking, single byte   // national language tables from the UDH
	concat          *sms.Concat
	id              string // receipted_message_id, when the SMSC names its MOs
	text            string // decoded (single messages)
	dataCoding      byte   // for the hash
}

// errUnusable is wrapped by decodeInbound errors: the PDU is answered
// ESME_RX_P_APPN (a redelivery would not help).
var errUnusable = errors.New("smsc: unusable deliver_sm")

// decodeInbound turns a deliver_sm or data_sm into a receipt, an MO (or a
// part of one), or nothing to report. now is the receipt time when the
// receipt text has no done date. An error means the PDU cannot be used.
func decodeInbound(p rawPDU, now time.Time, dc0 sms.Coding) (inbound, error) {
	in, err := parseInPDU(p)
	if err != nil {
		return inbound{}, fmt.Errorf("%w: %w", errUnusable, err)
	}
	switch in.esm & esmTypeMask {
	case esmReceipt, esmIntermediate:
		return decodeReceipt(in, now, dc0), nil
	case 0:
		// Some SMSCs send receipts without the esm_class bits, but
		// always with these two TLVs.
		if _, ok := in.tlv[tagReceiptedMessageID]; ok {
			if _, ok := in.tlv[tagMessageState]; ok {
				return decodeReceipt(in, now, dc0), nil
			}
		}
		mo, err := decodeMO(in, dc0)
		if err != nil {
			return inbound{}, fmt.Errorf("%w: %w", errUnusable, err)
		}
		return inbound{kind: inMO, mo: mo}, nil
	}
	return inbound{kind: inIgnore, why: fmt.Sprintf("esm_class 0x%02x (not a receipt or a message)", in.esm)}, nil
}

// decodeReceipt reads a delivery receipt: the part's id from
// receipted_message_id or else the text's id; the state from message_state
// or else the text's stat; the error from network_error_code or else the
// text's err; the time from the text's done date or else now.
func decodeReceipt(in *inPDU, now time.Time, dc0 sms.Coding) inbound {
	body := in.sm
	if in.esm&esmUDHI != 0 {
		if _, rest, err := sms.ParseUDH(body); err == nil {
			body = rest
		}
	}
	// Receipt texts are ASCII whatever data_coding says (decoding them
	// as GSM 03.38 would turn "submit_date" into "submit§date"), except
	// from SMSCs that send them in UCS-2.
	text := string(body)
	if c, _, ok := textCoding(in.dc); ok && c == sms.CodingUCS2 {
		text = decodeText(c, false, body, dc0, 0, 0)
	}
	r, _ := sms.ParseReceipt(text)
	id := strings.TrimRight(string(in.tlv[tagReceiptedMessageID]), "\x00")
	if strings.TrimSpace(id) == "" {
		id = r.ID
	}
	if id == "" {
		return inbound{kind: inIgnore, why: "receipt without a message id"}
	}
	ev := bridge.SMSEvent{PartID: id, Stat: bridge.SMSUnknown, At: now}
	if st, ok := in.tlv[tagMessageState]; ok && len(st) >= 1 {
		ev.Stat = stateWord(st[0])
	} else if r.Stat != "" {
		ev.Stat = stateWord(sms.MessageState(r.Stat))
	}
	if nec, ok := in.tlv[tagNetworkErrorCode]; ok && len(nec) >= 2 {
		// network type (1 octet), then the error code (2 octets).
		ev.ErrorCode = int(binary.BigEndian.Uint16(nec[len(nec)-2:]))
	} else if r.Err != "" {
		ev.ErrorCode = parseErr(r.Err)
	}
	if !r.Done.IsZero() {
		ev.At = r.Done
	}
	return inbound{kind: inReceipt, receipt: ev}
}

// stateWord maps an SMPP message_state to its receipt word.
func stateWord(s byte) string {
	switch s {
	case 0: // SCHEDULED (SMPP 5.0): not final yet
		return bridge.SMSEnroute
	case sms.StateEnroute:
		return bridge.SMSEnroute
	case sms.StateDelivered:
		return bridge.SMSDelivered
	case sms.StateExpired:
		return bridge.SMSExpired
	case sms.StateDeleted:
		return bridge.SMSDeleted
	case sms.StateUndeliverable, 9: // 9: SKIPPED (SMPP 5.0)
		return bridge.SMSUndeliverable
	case sms.StateAccepted:
		return bridge.SMSAccepted
	case sms.StateRejected:
		return bridge.SMSRejected
	}
	return bridge.SMSUnknown
}

// parseErr reads a receipt's err field: decimal, else hexadecimal (some
// SMSCs write "err:0A"); 0 when neither.
func parseErr(s string) int {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n)
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 31); err == nil {
		return int(n)
	}
	return 0
}

// decodeMO reads a customer's message or one part of it.
func decodeMO(in *inPDU, dc0 sms.Coding) (*moPart, error) {
	src, ok := addrDigits(in.src)
	if !ok {
		return nil, fmt.Errorf("source address %q (TON %d) is not a phone number", in.src, in.srcTON)
	}
	dst, ok := addrDigits(in.dst)
	if !ok {
		return nil, fmt.Errorf("destination address %q (TON %d) is not a number", in.dst, in.dstTON)
	}
	c, gsm, ok := textCoding(in.dc)
	if !ok {
		return nil, fmt.Errorf("data_coding 0x%02x is not text", in.dc)
	}
	m := &moPart{src: src, dst: dst, coding: c, gsm: gsm, data: in.sm, dataCoding: in.dc}
	if id := strings.TrimRight(string(in.tlv[tagReceiptedMessageID]), "\x00"); strings.TrimSpace(id) != "" {
		m.id = id
	}
	var udh *sms.UDH
	if in.esm&esmUDHI != 0 {
		h, rest, err := sms.ParseUDH(in.sm)
		if err != nil {
			return nil, err
		}
		udh, m.data = &h, rest
		m.locking, m.single = h.Shift()
	}
	var sar *sms.SAR
	if ref, ok := in.tlv[sms.TagSARMsgRefNum]; ok {
		// A malformed set is ignored: the text is still there.
		if s, err := sms.ParseSAR(ref, in.tlv[sms.TagSARTotalSegments], in.tlv[sms.TagSARSegmentSeqnum]); err == nil {
			sar = &s
		}
	}
	if cc, ok := sms.Part(udh, sar); ok {
		m.concat = &cc
		return m, nil
	}
	m.text = decodeText(m.coding, m.gsm, m.data, dc0, m.locking, m.single)
	return m, nil
}

// addrDigits accepts a number of 1 to 21 digits, with an optional '+'.
func addrDigits(s string) (string, bool) {
	s = strings.TrimPrefix(s, "+")
	if len(s) == 0 || len(s) > 21 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// textCoding maps a data_coding to the coding to decode it with. Besides
// the SMPP values (0 per the account, 1 IA5, 3 Latin-1, 8 UCS-2) it reads
// the 3GPP TS 23.038 coding groups SMSCs pass through (general data coding
// with a message class, message waiting, data coding/message class); gsm
// is true when the value names GSM 03.38 explicitly. ok is false for
// binary data, compressed text and character sets we do not decode.
func textCoding(dc byte) (c sms.Coding, gsm bool, ok bool) {
	switch {
	case dc == 0:
		return sms.CodingDefault, false, true
	case dc == byte(sms.CodingIA5), dc == byte(sms.CodingLatin1), dc == byte(sms.CodingUCS2):
		return sms.Coding(dc), false, true
	case dc < 0x10:
		return 0, false, false
	case dc&0xC0 == 0x00: // 00xx xxxx general data coding
		if dc&0x20 != 0 { // compressed
			return 0, false, false
		}
		switch (dc >> 2) & 3 {
		case 0:
			return sms.CodingDefault, true, true
		case 2:
			return sms.CodingUCS2, false, true
		}
		return 0, false, false
	case dc&0xF0 == 0xC0, dc&0xF0 == 0xD0: // message waiting, GSM 03.38
		return sms.CodingDefault, true, true
	case dc&0xF0 == 0xE0: // message waiting, UCS-2
		return sms.CodingUCS2, false, true
	case dc&0xF0 == 0xF0: // data coding / message class
		if dc&0x04 != 0 {
			return 0, false, false
		}
		return sms.CodingDefault, true, true
	}
	return 0, false, false
}

// decodeText decodes with internal/sms and, where that fails, leniently:
// GSM 03.38 with a trailing lone escape drops it, GSM 03.38 with octets
// above 0x7F or IA5 with them is read as Latin-1 (SMSCs that pass 8-bit
// text as data_coding 0), UCS-2 with an odd length drops the last octet
// and lone surrogates become U+FFFD. A customer's text is never refused
// for its coding details.
func decodeText(c sms.Coding, gsm bool, b []byte, dc0 sms.Coding, locking, single byte) string {
	if gsm {
		c, dc0 = sms.CodingDefault, sms.CodingDefault
	}
	s, err := sms.DecodeNational(c, b, dc0, locking, single)
	if err == nil {
		return s
	}
	if c == sms.CodingUCS2 {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u))
	}
	if errors.Is(err, sms.ErrDanglingEscape) {
		if s, err := sms.DecodeNational(c, b[:len(b)-1], dc0, locking, single); err == nil {
			return s
		}
	}
	s, _ = sms.Decode(sms.CodingLatin1, b, sms.CodingDefault)
	return s
}

// moHash identifies a message by its content: sender, recipient, coding
// and text (and the concatenation reference for a reassembled one).
func moHash(src, dst string, dc byte, ref string, data ...[]byte) string {
	h := sha256.New()
	var n [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(src))
	put([]byte(dst))
	put([]byte{dc})
	put([]byte(ref))
	for _, d := range data {
		put(d)
	}
	return hex.EncodeToString(h.Sum(nil)[:10])
}

// moMessage builds the inbound message reported for an MO.
func moMessage(route, wamid, src, dst, text string, at time.Time) *bridge.Message {
	return &bridge.Message{
		Direction: bridge.Inbound,
		Channel:   bridge.ChannelSMS,
		Business:  "+" + dst,
		Customer:  bridge.Customer{Phone: "+" + src},
		Kind:      bridge.KindText,
		Content:   bridge.Content{Text: text},
		WAMID:     "sms:" + route + ":" + wamid,
		Timestamp: at,
	}
}
