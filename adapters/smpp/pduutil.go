package smpp

import (
	"bytes"
	"io"

	"github.com/linxGnu/gosmpp/pdu"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// tlv returns an optional parameter of a submit_sm, or nil.
func tlv(p *pdu.SubmitSM, tag pdu.Tag) []byte {
	if f, ok := p.OptionalParameters[tag]; ok {
		return f.Data
	}
	return nil
}

// cString is a TLV value as a C-string (with its terminating NUL).
func cString(s string) []byte { return append([]byte(s), 0) }
