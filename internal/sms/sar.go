package sms

import (
	"errors"
	"fmt"
)

// SMPP 3.4 TLV tags of the sar_* parameters (§5.3.2.22-24).
const (
	TagSARMsgRefNum     uint16 = 0x020C // 2 octets
	TagSARTotalSegments uint16 = 0x020E // 1 octet
	TagSARSegmentSeqnum uint16 = 0x020F // 1 octet
)

// ErrBadSAR is wrapped by every ParseSAR error.
var ErrBadSAR = errors.New("sms: malformed sar_* TLVs")

// SAR holds the values of the sar_* TLVs: sar_msg_ref_num (0x020C),
// sar_total_segments (0x020E) and sar_segment_seqnum (0x020F).
type SAR struct {
	Ref        uint16
	Total, Seq uint8
}

// ParseSAR builds a SAR from the three TLV values (big-endian, as SMPP
// carries them). SMPP 3.4 requires all three together: a missing (nil) or
// wrongly sized value is an error, as are Total 0, Seq 0 and Seq > Total.
func ParseSAR(ref, total, seq []byte) (SAR, error) {
	if len(ref) != 2 || len(total) != 1 || len(seq) != 1 {
		return SAR{}, fmt.Errorf("%w: lengths %d/%d/%d, want 2/1/1", ErrBadSAR, len(ref), len(total), len(seq))
	}
	s := SAR{Ref: uint16(ref[0])<<8 | uint16(ref[1]), Total: total[0], Seq: seq[0]}
	if err := checkSeq(s.Total, s.Seq); err != nil {
		return SAR{}, fmt.Errorf("%w: %w", ErrBadSAR, err)
	}
	return s, nil
}

// Part says where a segment fits in a concatenated message, from the UDH
// concatenation IE when h has one, else from the sar_* TLVs; either may be
// nil. It expects values from ParseUDH / ParseSAR, which validate them.
// SAR references are 16-bit, so a SAR result has Ref16 set. ok is false for
// a single message: no concatenation information, or Total 1.
func Part(h *UDH, sar *SAR) (c Concat, ok bool) {
	switch {
	case h != nil && h.Concat != nil:
		c = *h.Concat
	case sar != nil:
		c = Concat{Ref: sar.Ref, Total: sar.Total, Seq: sar.Seq, Ref16: true}
	default:
		return Concat{}, false
	}
	if c.Total <= 1 {
		return Concat{}, false
	}
	return c, true
}
