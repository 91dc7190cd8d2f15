package smpp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// metaSamples covers the fast paths and every reason to leave one to
// encoding/json.
func metaSamples() []meta {
	return []meta{
		{},
		{SystemID: "acme", Source: "Acme", SrcTON: 5, Dest: "4915112345678", DstTON: 1, DstNPI: 1, RD: 1, Text: "hello"},
		{SystemID: "acme", Source: "+4930", Dest: "49151", RD: 17, Text: "مرحبا بالعالم", ServiceType: "tpl"},
		{SystemID: "acme", Source: "a", Dest: "b", Text: `say "hi" \ <b> & co`},
		{SystemID: "acme", Source: "a", Dest: "b", Text: "line\nbreak\ttab"},
		{SystemID: "acme", Source: "a", Dest: "b", Text: "bad \xff utf8"},
		{SystemID: "acme", Source: "a", Dest: "b", Text: "sep \u2028 \u2029 and \ufffd"},
		{SystemID: "acme", Source: "a", Dest: "b", SrcNPI: 255, DstNPI: 9, Text: "😀 emoji"},
		{SystemID: "acme", Source: "a", Dest: "b", Parts: []string{"p1", "p2"}, PartRD: []byte{1, 0}},
	}
}

func TestMetaCodecMatchesEncodingJSON(t *testing.T) {
	for _, md := range metaSamples() {
		want, err := json.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalMeta(md); !bytes.Equal(got, want) {
			t.Errorf("marshalMeta(%+v)\n got %s\nwant %s", md, got, want)
		}
		checkMetaDecode(t, want)

		d := receiptData{Meta: md, Created: 1763800000123, Done: 1763800001456, Channel: "whatsapp",
			WAMID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI", Reason: "expired", ErrorCode: 131047}
		for _, d := range []receiptData{d, {Meta: md}, {Meta: md, Created: 1, Done: 2}} {
			want, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := marshalReceiptData(d); !bytes.Equal(got, want) {
				t.Errorf("marshalReceiptData(%+v)\n got %s\nwant %s", d, got, want)
			}
			checkReceiptDecode(t, want)
		}
	}
}

// TestMetaDecodeOddInputs: what encoding/json decodes differently from a
// naive reader (case-insensitive names, repeated members, nulls, escapes,
// whitespace, numbers out of range) decodes as encoding/json does.
func TestMetaDecodeOddInputs(t *testing.T) {
	for _, in := range []string{
		`{"SID":"acme","src":"a"}`, `{"sid":"a","sid":"b"}`, `{"sid":null}`, `{"sid":"a\"b"}`,
		`{"sid":"a\u00e9"}`, `{ "sid": "a" }`, `{"st":256}`, `{"st":-1}`, `{"st":1.5}`, `{"st":01}`,
		`{"st":1e2}`, `{"rd":17,"t":""}`, `{}`, `{"sid":"a"} `, `{"sid":"a"}x`, `{"sid":"a",}`, `[]`, `null`, ``,
		`{"unknown":1}`, `{"p":["x"],"prd":"AQ=="}`, `{"sid":"a` + "\x01" + `"}`, `{"sid":"` + "\xff" + `"}`,
	} {
		checkMetaDecode(t, []byte(in))
	}
	for _, in := range []string{
		`{"m":{"sid":"a"},"c":1,"d":2}`, `{"m":{"sid":"a"},"m":{"src":"b"},"c":1}`, `{"m":null,"c":1}`,
		`{"c":9999999999999999,"d":1}`, `{"c":1,"e":-5}`, `{"C":1}`, `{"c":1,"d":2,"ch":"sms","w":"","r":"x"}`,
		`{"m":{},"c":0}`, `{"m":{"sid":"a"},"c":1,"d":2} `, `{}`, `{"c":"1"}`,
	} {
		checkReceiptDecode(t, []byte(in))
	}
}

func checkMetaDecode(t *testing.T, in []byte) {
	t.Helper()
	var want meta
	wantErr := json.Unmarshal(in, &want)
	got, err := unmarshalMeta(in)
	if (err != nil) != (wantErr != nil) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
		t.Errorf("unmarshalMeta(%q) = %+v, %v; encoding/json: %+v, %v", in, got, err, want, wantErr)
	}
}

func checkReceiptDecode(t *testing.T, in []byte) {
	t.Helper()
	var want receiptData
	wantErr := json.Unmarshal(in, &want)
	got, err := unmarshalReceiptData(in)
	if (err != nil) != (wantErr != nil) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
		t.Errorf("unmarshalReceiptData(%q) = %+v, %v; encoding/json: %+v, %v", in, got, err, want, wantErr)
	}
}

// FuzzMetaCodec holds the submission meta's and the receipt data's codec
// to encoding/json: for any bytes the same value (or both an error), and
// for any fields the same encoding.
func FuzzMetaCodec(f *testing.F) {
	for _, md := range metaSamples() {
		b, _ := json.Marshal(md)
		f.Add(b, md.Text, md.RD)
		b, _ = json.Marshal(receiptData{Meta: md, Created: 1763800000123, Done: 1763800001456, WAMID: "wamid.x", ErrorCode: 470})
		f.Add(b, md.Source, md.SrcTON)
	}
	f.Fuzz(func(t *testing.T, raw []byte, text string, n byte) {
		checkMetaDecode(t, raw)
		checkReceiptDecode(t, raw)
		md := meta{SystemID: "acme", Source: text, Dest: "4915112345678", SrcTON: n, RD: n, Text: text, ServiceType: text}
		want, _ := json.Marshal(md)
		if got := marshalMeta(md); !bytes.Equal(got, want) {
			t.Fatalf("marshalMeta: %s, encoding/json: %s", got, want)
		}
		d := receiptData{Meta: md, Created: int64(n) << 20, Done: int64(n), Channel: text, WAMID: text, Reason: text, ErrorCode: int(n) - 100}
		want, _ = json.Marshal(d)
		if got := marshalReceiptData(d); !bytes.Equal(got, want) {
			t.Fatalf("marshalReceiptData: %s, encoding/json: %s", got, want)
		}
		checkMetaDecode(t, want)
		checkReceiptDecode(t, want)
	})
}
