package smpp

import (
	"encoding/json"

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
	w := jsonlite.NewWriter(make([]byte, 0, 96+len(md.Text)))
	writeMeta(&w, md)
	if w.OK {
		return w.B
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
	w := jsonlite.NewWriter(make([]byte, 0, 160+len(d.Meta.Text)))
	w.Raw(`{"m":`)
	writeMeta(&w, d.Meta)
	w.Int(`,"c":`, d.Created)
	w.Int(`,"d":`, d.Done)
	w.OptString(`,"ch":`, d.Channel)
	w.OptString(`,"w":`, d.WAMID)
	w.OptString(`,"r":`, d.Reason)
	w.OptInt(`,"e":`, int64(d.ErrorCode))
	w.Raw(`}`)
	if w.OK {
		return w.B
	}
	b, _ := json.Marshal(d)
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

// writeMeta writes md as encoding/json does, in the struct's member order;
// parts are left to encoding/json.
func writeMeta(w *jsonlite.Writer, md meta) {
	if len(md.Parts) > 0 || len(md.PartRD) > 0 {
		w.Fail()
	}
	w.String(`{"sid":`, md.SystemID)
	w.String(`,"src":`, md.Source)
	w.OptInt(`,"st":`, int64(md.SrcTON))
	w.OptInt(`,"sn":`, int64(md.SrcNPI))
	w.String(`,"dst":`, md.Dest)
	w.OptInt(`,"dt":`, int64(md.DstTON))
	w.OptInt(`,"dn":`, int64(md.DstNPI))
	w.OptInt(`,"rd":`, int64(md.RD))
	w.OptString(`,"t":`, md.Text)
	w.OptString(`,"svc":`, md.ServiceType)
	w.Raw(`}`)
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
