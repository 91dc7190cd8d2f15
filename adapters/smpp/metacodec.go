package smpp

import (
	"encoding/json"
	"strconv"

	"github.com/wabridge/wabridge/internal/jsonlite"
)

// The submission meta (OriginData) and a receipt job's data are JSON
// written and read once or twice per SMPP message; through encoding/json's
// reflection that was ~2 % of the daemon's CPU per message. The functions
// here handle the shape this package writes itself — members in any
// order, no whitespace, strings without escapes, small unsigned numbers —
// and hand anything else to encoding/json, so every result is exactly
// encoding/json's (FuzzMetaCodec holds them to it).

// marshalMeta is json.Marshal(md).
func marshalMeta(md meta) []byte {
	if b, ok := appendMeta(make([]byte, 0, 96+len(md.Text)), md); ok {
		return b
	}
	b, _ := json.Marshal(md)
	return b
}

// unmarshalMeta is json.Unmarshal(b, &md) for a fresh md.
func unmarshalMeta(b []byte) (meta, error) {
	var md meta
	if i, ok := readMeta(b, 0, &md); ok && i == len(b) {
		return md, nil
	}
	md = meta{}
	err := json.Unmarshal(b, &md)
	return md, err
}

// marshalReceiptData is json.Marshal(d).
func marshalReceiptData(d receiptData) []byte {
	b := make([]byte, 0, 160+len(d.Meta.Text))
	b = append(b, `{"m":`...)
	b, ok := appendMeta(b, d.Meta)
	if ok {
		b = append(b, `,"c":`...)
		b = strconv.AppendInt(b, d.Created, 10)
		b = append(b, `,"d":`...)
		b = strconv.AppendInt(b, d.Done, 10)
		b, ok = appendOptString(b, `,"ch":`, d.Channel, ok)
		b, ok = appendOptString(b, `,"w":`, d.WAMID, ok)
		b, ok = appendOptString(b, `,"r":`, d.Reason, ok)
		if d.ErrorCode != 0 {
			b = append(b, `,"e":`...)
			b = strconv.AppendInt(b, int64(d.ErrorCode), 10)
		}
		b = append(b, '}')
	}
	if ok {
		return b
	}
	b, _ = json.Marshal(d)
	return b
}

// unmarshalReceiptData is json.Unmarshal(b, &d) for a fresh d.
func unmarshalReceiptData(b []byte) (receiptData, error) {
	var d receiptData
	if readReceiptData(b, &d) {
		return d, nil
	}
	d = receiptData{}
	err := json.Unmarshal(b, &d)
	return d, err
}

// appendMeta appends md as encoding/json writes it; false when it has a
// member the fast path leaves to encoding/json (parts, a string needing
// escapes).
func appendMeta(b []byte, md meta) ([]byte, bool) {
	if len(md.Parts) > 0 || len(md.PartRD) > 0 {
		return b, false
	}
	ok := true
	b, ok = appendOptString(b, `{"sid":`, md.SystemID, ok)
	if !ok {
		return b, false
	}
	b = append(b, `,"src":`...)
	b, ok = jsonlite.AppendString(b, md.Source)
	b = appendOptByte(b, `,"st":`, md.SrcTON)
	b = appendOptByte(b, `,"sn":`, md.SrcNPI)
	if ok {
		b = append(b, `,"dst":`...)
		b, ok = jsonlite.AppendString(b, md.Dest)
	}
	b = appendOptByte(b, `,"dt":`, md.DstTON)
	b = appendOptByte(b, `,"dn":`, md.DstNPI)
	b = appendOptByte(b, `,"rd":`, md.RD)
	b, ok = appendOptString(b, `,"t":`, md.Text, ok)
	b, ok = appendOptString(b, `,"svc":`, md.ServiceType, ok)
	return append(b, '}'), ok
}

// appendOptString appends key and s when s is not empty (omitempty), or
// always for the first member (key starts with '{').
func appendOptString(b []byte, key, s string, ok bool) ([]byte, bool) {
	if !ok || (s == "" && key[0] != '{') {
		return b, ok
	}
	b = append(b, key...)
	return jsonlite.AppendString(b, s)
}

func appendOptByte(b []byte, key string, v byte) []byte {
	if v == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendUint(b, uint64(v), 10)
}

// readMeta reads the object at b[i:] into md; the index just past it, or
// false when the fast path cannot (the caller then asks encoding/json).
func readMeta(b []byte, i int, md *meta) (int, bool) {
	return jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
		var ok bool
		switch string(key) {
		case "sid":
			md.SystemID, i, ok = jsonlite.ReadString(b, i)
		case "src":
			md.Source, i, ok = jsonlite.ReadString(b, i)
		case "dst":
			md.Dest, i, ok = jsonlite.ReadString(b, i)
		case "t":
			md.Text, i, ok = jsonlite.ReadString(b, i)
		case "svc":
			md.ServiceType, i, ok = jsonlite.ReadString(b, i)
		case "st":
			md.SrcTON, i, ok = readByte(b, i)
		case "sn":
			md.SrcNPI, i, ok = readByte(b, i)
		case "dt":
			md.DstTON, i, ok = readByte(b, i)
		case "dn":
			md.DstNPI, i, ok = readByte(b, i)
		case "rd":
			md.RD, i, ok = readByte(b, i)
		} // other names (parts, or one encoding/json matches case-insensitively): not ok
		return i, ok
	})
}

// readReceiptData reads all of b into d; false when the fast path cannot.
func readReceiptData(b []byte, d *receiptData) bool {
	i, ok := jsonlite.EachMember(b, 0, func(key []byte, i int) (int, bool) {
		var ok bool
		switch string(key) {
		case "m":
			// Into the value read so far: encoding/json merges a repeated member.
			i, ok = readMeta(b, i, &d.Meta)
		case "c":
			d.Created, i, ok = readUint(b, i)
		case "d":
			d.Done, i, ok = readUint(b, i)
		case "e":
			var v int64
			v, i, ok = readUint(b, i)
			d.ErrorCode = int(v)
		case "ch":
			d.Channel, i, ok = jsonlite.ReadString(b, i)
		case "w":
			d.WAMID, i, ok = jsonlite.ReadString(b, i)
		case "r":
			d.Reason, i, ok = jsonlite.ReadString(b, i)
		}
		return i, ok
	})
	return ok && i == len(b)
}

// readUint reads a non-negative integer of at most 15 digits without a
// leading zero (other than 0 itself).
func readUint(b []byte, i int) (int64, int, bool) {
	j := i
	var v int64
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 15 {
		v = v*10 + int64(b[j]-'0')
		j++
	}
	if j == i || (b[i] == '0' && j-i > 1) || (j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E')) {
		return 0, i, false
	}
	return v, j, true
}

func readByte(b []byte, i int) (byte, int, bool) {
	v, j, ok := readUint(b, i)
	if !ok || v > 255 {
		return 0, i, false
	}
	return byte(v), j, true
}
