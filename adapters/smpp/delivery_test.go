package smpp

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
)

// Exactly one final receipt per message, whatever order Meta's webhooks
// come in: delivered then read → the receipt goes with delivered; read
// then delivered (out of order) → with read (delivered changes nothing).
func TestWantsReceiptOrder(t *testing.T) {
	h := func(sts ...bridge.Status) []bridge.HistoryEntry {
		var out []bridge.HistoryEntry
		for _, s := range sts {
			out = append(out, bridge.HistoryEntry{Status: s})
		}
		return out
	}
	q, s, d, r, f := bridge.StatusQueued, bridge.StatusSent, bridge.StatusDelivered, bridge.StatusRead, bridge.StatusFailed
	tests := []struct {
		name    string
		rd      byte
		status  bridge.Status
		history []bridge.HistoryEntry
		want    bool
	}{
		{"delivered", 1, d, h(q, s, d), true},
		{"read after delivered", 1, r, h(q, s, d, r), false},
		{"read before delivered", 1, r, h(q, s, r, d), true},
		{"read without delivered", 1, r, h(q, r), true},
		{"failed, final asked", 1, f, h(q, f), true},
		{"failed, failure-only asked", 2, f, h(q, f), true},
		{"delivered, failure-only asked", 2, d, h(q, d), false},
		{"sent without intermediate", 1, s, h(q, s), false},
		{"sent with intermediate", 0x11, s, h(q, s), true},
		{"nothing asked", 0, d, h(q, d), false},
	}
	for _, tt := range tests {
		m := &bridge.Message{Status: tt.status, History: tt.history}
		if got := wantsReceipt(tt.rd, m); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// releasingJobs records the jobs put back; the rest of Jobs is unused.
type releasingJobs struct {
	Jobs
	released []string
	why      []string
}

func (r *releasingJobs) ReleaseJob(_ context.Context, _, ref, lastErr string) error {
	r.released = append(r.released, ref)
	r.why = append(r.why, lastErr)
	return nil
}

func (r *releasingJobs) FinishJobs(context.Context, string, []string) error { return nil }

// A batch claimed just before the server stopped puts its jobs back with
// the reason (it once dereferenced the batch's missing failure).
func TestStoppedBatchReleasesItsJobs(t *testing.T) {
	s, err := New(Config{Accounts: []Account{{SystemID: "acme", Password: "secret12", Numbers: []string{"+15550100001"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := &releasingJobs{}
	s.jobs = jobs
	close(s.stop)
	failed, _ := s.deliverBatch(s.accounts["acme"], []bridge.Job{{Kind: "smpp:acme", Ref: "dlr/a"}, {Kind: "smpp:acme", Ref: "dlr/b"}})
	if failed != nil {
		t.Errorf("failed = %v, want none", failed)
	}
	if fmt.Sprint(jobs.released) != "[dlr/a dlr/b]" || jobs.why[0] != "the SMPP server stopped" {
		t.Errorf("released %v (%v)", jobs.released, jobs.why)
	}
}

// A receipt job carries its receipt's fields (ReportJobs, in the status's
// commit): the deliver_sm built from them is the one the message's row
// gives, byte for byte, for a delivered and a failed status. Data that is
// not a receipt's, or a message without its submit time, falls back to
// reading the message.
func TestReceiptFromJobDataMatchesTheMessage(t *testing.T) {
	s, err := New(Config{Accounts: []Account{{SystemID: "acme", Password: "secret12", Numbers: []string{"+15550100001"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	origin := []byte(`{"sid":"acme","src":"15550100001","st":1,"sn":1,"dst":"4915112345678","dt":1,"dn":1,"rd":1,"t":"Your code is 123456"}`)
	for _, m := range []*bridge.Message{
		{ID: "m1", Origin: "smpp:acme", OriginData: origin, Status: bridge.StatusDelivered, WAMID: "wamid.HBgL",
			Channel: bridge.ChannelWhatsApp, CreatedAt: created, UpdatedAt: created.Add(3 * time.Second)},
		{ID: "m2", Origin: "smpp:acme", OriginData: origin, Status: bridge.StatusFailed, WAMID: "wamid.HBgM",
			Channel: bridge.ChannelWhatsApp, Reason: bridge.ReasonUpstreamError, ErrorCode: 131026,
			CreatedAt: created, UpdatedAt: created.Add(time.Minute)},
	} {
		jobs := s.ReportJobs(m)
		if len(jobs) != 1 || jobs[0].Data == "" {
			t.Fatalf("%s: jobs %+v, want one with data", m.ID, jobs)
		}
		md, fromData, ok := receiptFromData(jobs[0].Data, string(m.ID), m.Status)
		if !ok {
			t.Fatalf("%s: data %s not read back", m.ID, jobs[0].Data)
		}
		want, got := receiptFields(receiptPDU(m, string(m.ID))), receiptFields(receiptPDUOf(md, fromData, string(m.ID)))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: receipt from data\n%+v\nwant (from the message)\n%+v", m.ID, got, want)
		}
	}
	noTime := &bridge.Message{ID: "m3", Origin: "smpp:acme", OriginData: origin, Status: bridge.StatusDelivered}
	if jobs := s.ReportJobs(noTime); len(jobs) != 1 || jobs[0].Data != "" {
		t.Errorf("without a submit time: %+v, want a job without data", jobs)
	}
	for _, data := range []string{"", "{", `{"m":{}}`, `[1]`} {
		if _, _, ok := receiptFromData(data, "m1", bridge.StatusDelivered); ok {
			t.Errorf("data %q taken for a receipt's", data)
		}
	}
}

// receiptFields is what a deliver_sm says: its mandatory fields encoded
// and its TLVs by tag (gosmpp writes TLVs in map order).
func receiptFields(p pdu.PDU) map[string]string {
	d := p.(*pdu.DeliverSM)
	text, _ := d.Message.GetMessage()
	out := map[string]string{"src": d.SourceAddr.Address(), "dst": d.DestAddr.Address(),
		"esm": fmt.Sprint(d.EsmClass), "text": text}
	for tag, f := range d.OptionalParameters {
		out[fmt.Sprintf("tlv %04x", uint16(tag))] = fmt.Sprintf("%x", f.Data)
	}
	return out
}
