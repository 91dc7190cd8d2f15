package smsc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// maxPDU bounds command_length: a PDU with a full 64 KiB message_payload
// and its fields fits.
const maxPDU = 70 << 10

// rawPDU is one PDU as read: its header and its undecoded body. Requests
// we send are encoded with gosmpp's pdu package; what the SMSC sends is
// read here by hand, so that a malformed or unusual PDU (an odd UDH, a
// bodyless error response) never stops the reader.
type rawPDU struct {
	cmd    data.CommandIDType
	status data.CommandStatusType
	seq    int32
	body   []byte
}

var errBadLength = errors.New("smsc: command_length out of range")

// readPDU reads one PDU. A command_length that cannot be trusted is an
// error: the stream cannot be resynchronised.
func readPDU(r *bufio.Reader) (rawPDU, error) {
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return rawPDU{}, err
	}
	n := binary.BigEndian.Uint32(head[0:])
	if n < 16 || n > maxPDU {
		return rawPDU{}, fmt.Errorf("%w: %d", errBadLength, n)
	}
	p := rawPDU{
		cmd:    data.CommandIDType(binary.BigEndian.Uint32(head[4:])),
		status: data.CommandStatusType(binary.BigEndian.Uint32(head[8:])),
		seq:    int32(binary.BigEndian.Uint32(head[12:])),
		body:   make([]byte, n-16),
	}
	if _, err := io.ReadFull(r, p.body); err != nil {
		return rawPDU{}, err
	}
	return p, nil
}

// encode marshals a gosmpp PDU with the given sequence number and
// command_status (gosmpp writes the header's status as set).
func encode(p pdu.PDU, seq int32, status data.CommandStatusType) []byte {
	p.SetSequenceNumber(seq)
	if status != data.ESME_ROK {
		setStatus(p, status)
	}
	buf := pdu.NewBuffer(make([]byte, 0, 64))
	p.Marshal(buf)
	return buf.Bytes()
}

// setStatus sets command_status of the responses we send.
func setStatus(p pdu.PDU, status data.CommandStatusType) {
	switch r := p.(type) {
	case *pdu.DeliverSMResp:
		r.CommandStatus = status
	case *pdu.DataSMResp:
		r.CommandStatus = status
	case *pdu.GenericNack:
		r.CommandStatus = status
	case *pdu.EnquireLinkResp:
		r.CommandStatus = status
	case *pdu.UnbindResp:
		r.CommandStatus = status
	}
}

// response returns the response PDU to a request of ours or the SMSC's,
// or nil when cmd is not a request we answer with its own response.
func response(cmd data.CommandIDType) pdu.PDU {
	switch cmd {
	case data.DELIVER_SM:
		return pdu.NewDeliverSMResp()
	case data.DATA_SM:
		return pdu.NewDataSMResp()
	case data.ENQUIRE_LINK:
		return pdu.NewEnquireLinkResp()
	case data.UNBIND:
		return pdu.NewUnbindResp()
	}
	return nil
}

// bodyReader reads the fields of a PDU body leniently: C-Octet Strings
// are taken up to their NUL whatever their length.
type bodyReader struct {
	b   []byte
	err error
}

var errShortBody = errors.New("smsc: PDU body too short")

func (r *bodyReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.err = errShortBody
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *bodyReader) cstring() string {
	if r.err != nil {
		return ""
	}
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.err = errors.New("smsc: C-Octet String without NUL")
	return ""
}

func (r *bodyReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = errShortBody
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// tlvs reads the optional parameters that end a body. The first of a
// repeated tag wins.
func (r *bodyReader) tlvs() map[uint16][]byte {
	if r.err != nil || len(r.b) == 0 {
		return nil
	}
	m := make(map[uint16][]byte)
	for len(r.b) > 0 {
		if len(r.b) < 4 {
			r.err = errors.New("smsc: truncated TLV")
			return nil
		}
		tag, n := binary.BigEndian.Uint16(r.b), int(binary.BigEndian.Uint16(r.b[2:]))
		if len(r.b)-4 < n {
			r.err = fmt.Errorf("smsc: TLV 0x%04x runs past the PDU", tag)
			return nil
		}
		if _, dup := m[tag]; !dup {
			m[tag] = r.b[4 : 4+n : 4+n]
		}
		r.b = r.b[4+n:]
	}
	return m
}

// messageID reads the message_id of a submit_sm_resp (or data_sm_resp):
// "" when the body is absent (error responses) or malformed.
func messageID(body []byte) string {
	r := bodyReader{b: body}
	id := r.cstring()
	if r.err != nil {
		return ""
	}
	return id
}
