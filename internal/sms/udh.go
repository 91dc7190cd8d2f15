package sms

import (
	"errors"
	"fmt"
)

// Information Element Identifiers (3GPP TS 23.040 §9.2.3.24) this package
// knows by name. ParseUDH keeps every IE whatever its identifier.
const (
	IEIConcat8      byte = 0x00 // concatenated SM, 8-bit reference
	IEIPort8        byte = 0x04 // application port addressing, 8-bit
	IEIPort16       byte = 0x05 // application port addressing, 16-bit
	IEIConcat16     byte = 0x08 // concatenated SM, 16-bit reference
	IEISingleShift  byte = 0x24 // national language single shift
	IEILockingShift byte = 0x25 // national language locking shift
)

// ErrBadUDH is wrapped by every ParseUDH error.
var ErrBadUDH = errors.New("sms: malformed user data header")

// UDH is a parsed user data header (3GPP TS 23.040 §9.2.3.24).
type UDH struct {
	// Concat is taken from the first concatenation IE (0x00 with an 8-bit
	// reference or 0x08 with a 16-bit one); nil when there is none.
	Concat *Concat
	// IEs is every element in order, the concatenation one included. Data
	// slices alias the bytes given to ParseUDH.
	IEs []IE
}

// Concat is the content of a concatenation IE: part Seq of Total of the
// message with reference Ref. Ref16 tells a 16-bit reference (IEI 0x08)
// from an 8-bit one (IEI 0x00).
type Concat struct {
	Ref        uint16
	Total, Seq uint8
	Ref16      bool
}

// IE is one information element of a UDH.
type IE struct {
	ID   byte
	Data []byte
}

// ParseUDH reads a UDH from the start of short_message (sent with the UDHI
// bit 0x40 of esm_class): the first octet is the header length UDHL, then
// UDHL octets of IEs (IEI, length, data). It returns the header and the
// rest of b (the text, still encoded).
//
// Other IEs may precede the concatenation IE (national language shifts
// 0x24/0x25, port addressing 0x04/0x05, ...; Jasmin #612); all are kept.
// When several concatenation IEs are present the first one is used (23.040
// would take the last), but every one must be well formed.
//
// Errors (all wrapping ErrBadUDH): empty input, UDHL beyond the data, an IE
// running past the header, a concatenation IE with the wrong length (3 for
// 0x00, 4 for 0x08), Total 0, Seq 0 or Seq > Total. UDHL 0 is accepted as an
// empty header.
func ParseUDH(b []byte) (UDH, []byte, error) {
	if len(b) == 0 {
		return UDH{}, nil, fmt.Errorf("%w: no UDHL octet", ErrBadUDH)
	}
	hl := int(b[0])
	if 1+hl > len(b) {
		return UDH{}, nil, fmt.Errorf("%w: UDHL %d beyond %d octets of data", ErrBadUDH, hl, len(b)-1)
	}
	hdr, rest := b[1:1+hl], b[1+hl:]
	var h UDH
	for i := 0; i < len(hdr); {
		if len(hdr)-i < 2 {
			return UDH{}, nil, fmt.Errorf("%w: IE at offset %d truncated", ErrBadUDH, 1+i)
		}
		id, l := hdr[i], int(hdr[i+1])
		i += 2
		if l > len(hdr)-i {
			return UDH{}, nil, fmt.Errorf("%w: IE 0x%02x length %d runs past the header", ErrBadUDH, id, l)
		}
		data := hdr[i : i+l : i+l]
		i += l
		if id == IEIConcat8 || id == IEIConcat16 {
			c, err := parseConcat(id, data)
			if err != nil {
				return UDH{}, nil, err
			}
			if h.Concat == nil {
				h.Concat = &c
			}
		}
		h.IEs = append(h.IEs, IE{ID: id, Data: data})
	}
	return h, rest, nil
}

func parseConcat(id byte, d []byte) (Concat, error) {
	var c Concat
	switch {
	case id == IEIConcat8 && len(d) == 3:
		c = Concat{Ref: uint16(d[0]), Total: d[1], Seq: d[2]}
	case id == IEIConcat16 && len(d) == 4:
		c = Concat{Ref: uint16(d[0])<<8 | uint16(d[1]), Total: d[2], Seq: d[3], Ref16: true}
	default:
		return c, fmt.Errorf("%w: concatenation IE 0x%02x with length %d", ErrBadUDH, id, len(d))
	}
	if err := checkSeq(c.Total, c.Seq); err != nil {
		return Concat{}, fmt.Errorf("%w: %w", ErrBadUDH, err)
	}
	return c, nil
}

func checkSeq(total, seq uint8) error {
	switch {
	case total == 0:
		return errors.New("total segments 0")
	case seq == 0:
		return errors.New("segment number 0")
	case seq > total:
		return fmt.Errorf("segment %d of %d", seq, total)
	}
	return nil
}

// ConcatUDH builds the UDH (UDHL included) for part seq of total: 6 octets
// 05 00 03 ref total seq with an 8-bit reference (only the low 8 bits of ref
// are used), or 7 octets 06 08 04 refHi refLo total seq with ref16. It does
// not validate total and seq.
func ConcatUDH(ref uint16, total, seq uint8, ref16 bool) []byte {
	if ref16 {
		return []byte{6, IEIConcat16, 4, byte(ref >> 8), byte(ref), total, seq}
	}
	return []byte{5, IEIConcat8, 3, byte(ref), total, seq}
}

// Shift returns the National Language Identifiers of the first locking-shift
// (0x25) and single-shift (0x24) IEs, for DecodeNational; 0 (the default
// tables) for an absent or malformed one.
func (h UDH) Shift() (locking, single byte) {
	var haveL, haveS bool
	for _, ie := range h.IEs {
		if len(ie.Data) != 1 {
			continue
		}
		switch {
		case ie.ID == IEILockingShift && !haveL:
			locking, haveL = ie.Data[0], true
		case ie.ID == IEISingleShift && !haveS:
			single, haveS = ie.Data[0], true
		}
	}
	return locking, single
}
