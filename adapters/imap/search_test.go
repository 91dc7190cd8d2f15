package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/wabridge/wabridge/internal/mailbox"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// searchBox fills INBOX with four messages (UIDs 1, 2, 3, 5; 4 is
// expunged) of known flags, sizes, headers and dates:
//
//	UID  subject    Date (sent)  internal    flags      size
//	1    Invoice 1  2 Mar 2026   2 Mar 2026  \Seen      < 400
//	2    Offer      1 Feb 2026   1 Feb 2026  \Flagged   > 1000
//	3    Invoice 2  1 Apr 2026   1 Apr 2026  -          400…1000
//	5    Re: hello  1 Jan 2026   1 Jan 2026  \Answered  > 1000
func searchBox(t *testing.T) *testServer {
	t.Helper()
	ts := startServer(t)
	ts.put("INBOX", testMail("Invoice 1", "Mon, 02 Mar 2026 10:00:00 +0100", "X-Tag: alpha\r\n", "Amount due.\r\n"), day(2026, 3, 2).Add(9*time.Hour), `\Seen`)
	ts.put("INBOX", testMail("Offer", "Sun, 01 Feb 2026 23:30:00 -0500", "", strings.Repeat("o", 2000)+"\r\n"), day(2026, 2, 1).Add(12*time.Hour), `\Flagged`)
	ts.put("INBOX", testMail("Invoice 2", "Wed, 01 Apr 2026 08:00:00 +0000", "", strings.Repeat("i", 600)+"\r\n"), day(2026, 4, 1).Add(8*time.Hour))
	ts.put("INBOX", testMail("gone", "Wed, 01 Apr 2026 08:00:00 +0000", "", "gone\r\n"), day(2026, 4, 1))
	if _, err := ts.mailbox("INBOX").Expunge(context.Background(), []uint32{4}); err != nil {
		t.Fatal(err)
	}
	ts.put("INBOX", testMail("Re: hello", "Thu, 01 Jan 2026 12:00:00 +0000", "X-Tag: beta\r\n", "hello world\r\n"+strings.Repeat("h", 1200)+"\r\n"), day(2026, 1, 1).Add(12*time.Hour), `\Answered`)
	sizes := map[uint32]int64{}
	for _, m := range ts.mailboxMessages("INBOX") {
		sizes[m.UID] = m.Size
	}
	if !(sizes[1] < 400 && sizes[2] > 1000 && sizes[3] > 400 && sizes[3] < 1000 && sizes[5] > 1000) {
		t.Fatalf("sizes %v do not fit the table", sizes)
	}
	return ts
}

func TestSearch(t *testing.T) {
	ts := searchBox(t)
	c := ts.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	seen := goimap.SearchCriteria{Flag: []goimap.Flag{goimap.FlagSeen}}
	for _, tc := range []struct {
		name string
		c    goimap.SearchCriteria
		want []goimap.UID
	}{
		{"ALL", goimap.SearchCriteria{}, []goimap.UID{1, 2, 3, 5}},
		{"SEEN", seen, []goimap.UID{1}},
		{"NOT SEEN", goimap.SearchCriteria{Not: []goimap.SearchCriteria{seen}}, []goimap.UID{2, 3, 5}},
		{"UNSEEN", goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}}, []goimap.UID{2, 3, 5}},
		{"OR HEADER Subject Invoice FLAGGED", goimap.SearchCriteria{Or: [][2]goimap.SearchCriteria{{
			{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "invoice"}}},
			{Flag: []goimap.Flag{goimap.FlagFlagged}},
		}}}, []goimap.UID{1, 2, 3}},
		{"UID 2:4", goimap.SearchCriteria{UID: []goimap.UIDSet{{{Start: 2, Stop: 4}}}}, []goimap.UID{2, 3}},
		{"UID 3:*", goimap.SearchCriteria{UID: []goimap.UIDSet{{{Start: 3, Stop: 0}}}}, []goimap.UID{3, 5}},
		{"UID *", goimap.SearchCriteria{UID: []goimap.UIDSet{{{Start: 0, Stop: 0}}}}, []goimap.UID{5}},
		{"UID 1,5 UID 2:5", goimap.SearchCriteria{UID: []goimap.UIDSet{goimap.UIDSetNum(1, 5), {{Start: 2, Stop: 5}}}}, []goimap.UID{5}},
		{"seq 2:3", goimap.SearchCriteria{SeqNum: []goimap.SeqSet{{{Start: 2, Stop: 3}}}}, []goimap.UID{2, 3}},
		{"seq *", goimap.SearchCriteria{SeqNum: []goimap.SeqSet{{{Start: 0, Stop: 0}}}}, []goimap.UID{5}},
		{"LARGER 1000", goimap.SearchCriteria{Larger: 1000}, []goimap.UID{2, 5}},
		{"SMALLER 400", goimap.SearchCriteria{Smaller: 400}, []goimap.UID{1}},
		{"NOT (OR SMALLER 400 LARGER 1000)", goimap.SearchCriteria{Not: []goimap.SearchCriteria{{Or: [][2]goimap.SearchCriteria{{
			{Smaller: 400}, {Larger: 1000},
		}}}}}, []goimap.UID{3}},
		{"HEADER X-Tag alpha", goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "X-Tag", Value: "ALPHA"}}}, []goimap.UID{1}},
		{`HEADER X-Tag ""`, goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "x-tag", Value: ""}}}, []goimap.UID{1, 5}},
		{"HEADER Subject nothing", goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "nothing"}}}, nil},
		{"SENTSINCE 1-Mar-2026", goimap.SearchCriteria{SentSince: day(2026, 3, 1)}, []goimap.UID{1, 3}},
		{"SENTSINCE 2-Mar-2026 (same day)", goimap.SearchCriteria{SentSince: day(2026, 3, 2)}, []goimap.UID{1, 3}},
		{"SENTSINCE 3-Mar-2026", goimap.SearchCriteria{SentSince: day(2026, 3, 3)}, []goimap.UID{3}},
		{"SENTBEFORE 1-Mar-2026", goimap.SearchCriteria{SentBefore: day(2026, 3, 1)}, []goimap.UID{2, 5}},
		{"SENTBEFORE 1-Feb-2026 (not the same day)", goimap.SearchCriteria{SentBefore: day(2026, 2, 1)}, []goimap.UID{5}},
		{"SINCE 1-Feb-2026 BEFORE 1-Apr-2026", goimap.SearchCriteria{Since: day(2026, 2, 1), Before: day(2026, 4, 1)}, []goimap.UID{1, 2}},
		{"SENTSINCE 1-Mar-2026 NOT SEEN", goimap.SearchCriteria{SentSince: day(2026, 3, 1), Not: []goimap.SearchCriteria{seen}}, []goimap.UID{3}},
		{"BODY hello world", goimap.SearchCriteria{Body: []string{"HELLO WORLD"}}, []goimap.UID{5}},
		{"BODY Invoice (only in the subject)", goimap.SearchCriteria{Body: []string{"Invoice"}}, nil},
		{"TEXT alpha (a header)", goimap.SearchCriteria{Text: []string{"alpha"}}, []goimap.UID{1}},
		{"OR (NOT SEEN) (UID 1) LARGER 1000", goimap.SearchCriteria{Larger: 1000, Or: [][2]goimap.SearchCriteria{{
			{Not: []goimap.SearchCriteria{seen}}, {UID: []goimap.UIDSet{goimap.UIDSetNum(1)}},
		}}}, []goimap.UID{2, 5}},
		{"NOT UID 2:*", goimap.SearchCriteria{Not: []goimap.SearchCriteria{{UID: []goimap.UIDSet{{{Start: 2, Stop: 0}}}}}}, []goimap.UID{1}},
	} {
		data, err := c.UIDSearch(&tc.c, nil).Wait()
		if err != nil {
			t.Errorf("UID SEARCH %s: %v", tc.name, err)
			continue
		}
		got := data.AllUIDs()
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("UID SEARCH %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// SEARCH answers sequence numbers (UID 5 is number 4).
	data, err := c.Search(&goimap.SearchCriteria{Larger: 1000}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := data.AllSeqNums(); !slices.Equal(got, []uint32{2, 4}) {
		t.Errorf("SEARCH LARGER 1000: %v, want [2 4]", got)
	}
	// ESEARCH: MIN, MAX, COUNT.
	data, err = c.UIDSearch(&goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}},
		&goimap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.Min != 2 || data.Max != 5 || data.Count != 3 {
		t.Errorf("ESEARCH MIN %d MAX %d COUNT %d, want 2 5 3", data.Min, data.Max, data.Count)
	}
}

// seqUIDs reads "* n FETCH (UID u ...)" lines as "n:u".
func seqUIDs(resp []string) string {
	var got []string
	for _, l := range resp {
		var seq, uid int
		if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d", &seq, &uid); err == nil {
			got = append(got, fmt.Sprint(seq, ":", uid))
		}
	}
	return strings.Join(got, " ")
}

func lastOK(t *testing.T, what string, resp []string) {
	t.Helper()
	if l := resp[len(resp)-1]; !strings.Contains(l, " OK ") {
		t.Errorf("%s: %q", what, resp)
	}
}

// SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) keeps the result as "$"
// for later commands; it holds UIDs, so expunges drop out of it.
func TestSearchRes(t *testing.T) {
	ts := searchBox(t)
	rc := ts.raw()
	if caps := rc.cmd("CAPABILITY")[0]; !strings.Contains(caps, "SEARCHRES") || !strings.Contains(caps, "ESEARCH") {
		t.Fatalf("capabilities: %s", caps)
	}
	lastOK(t, "SELECT", rc.cmd("SELECT INBOX"))
	resp := rc.cmd("UID SEARCH RETURN (SAVE) UNSEEN")
	lastOK(t, "SEARCH RETURN (SAVE)", resp)
	resp = rc.cmd("FETCH $ (UID)")
	lastOK(t, "FETCH $", resp)
	if got := seqUIDs(resp); got != "2:2 3:3 4:5" {
		t.Errorf("FETCH $: %q (%q)", got, resp)
	}
	resp = rc.cmd("UID FETCH $ (UID FLAGS)")
	if got := seqUIDs(resp); got != "2:2 3:3 4:5" {
		t.Errorf("UID FETCH $: %q (%q)", got, resp)
	}
	// "$" as a search key narrows the saved result.
	resp = rc.cmd("UID SEARCH $ LARGER 1000")
	lastOK(t, "UID SEARCH $", resp)
	if !slices.Contains(resp, "* SEARCH 2 5") {
		t.Errorf("UID SEARCH $ LARGER 1000: %q", resp)
	}
	// The saved result is by UID: expunging one drops it, the others keep
	// their place though their numbers moved.
	lastOK(t, "STORE", rc.cmd(`UID STORE 3 +FLAGS.SILENT (\Deleted)`))
	lastOK(t, "UID EXPUNGE", rc.cmd("UID EXPUNGE 3"))
	resp = rc.cmd("FETCH $ (UID)")
	if got := seqUIDs(resp); got != "2:2 3:5" {
		t.Errorf("FETCH $ after the expunge: %q (%q)", got, resp)
	}
	// STORE and COPY take "$" too.
	lastOK(t, "STORE $", rc.cmd(`STORE $ +FLAGS.SILENT ($Picked)`))
	if ts.storedFlags("INBOX", 2) != `\Flagged $Picked` || ts.storedFlags("INBOX", 5) != `\Answered $Picked` || ts.storedFlags("INBOX", 1) != `\Seen` {
		t.Errorf("after STORE $: %q %q %q", ts.storedFlags("INBOX", 1), ts.storedFlags("INBOX", 2), ts.storedFlags("INBOX", 5))
	}
	// A search that finds nothing saves an empty result.
	lastOK(t, "SEARCH nothing", rc.cmd("SEARCH RETURN (SAVE) SUBJECT nothing-like-this"))
	if resp := rc.cmd("FETCH $ (UID)"); seqUIDs(resp) != "" {
		t.Errorf("FETCH $ after an empty search: %q", resp)
	}
	// SELECT forgets it.
	lastOK(t, "SEARCH", rc.cmd("UID SEARCH RETURN (SAVE) ALL"))
	lastOK(t, "SELECT again", rc.cmd("SELECT INBOX"))
	if resp := rc.cmd("FETCH $ (UID)"); seqUIDs(resp) != "" {
		t.Errorf("FETCH $ after SELECT: %q", resp)
	}
}

// The spans a set selects come out in order, once each, whatever the
// set's order ("5:*" made static can come before "1:2").
func TestSpans(t *testing.T) {
	msgs := []*mailbox.Message{{UID: 2}, {UID: 5}, {UID: 6}, {UID: 9}, {UID: 12}}
	for _, c := range []struct {
		set  goimap.UIDSet
		want string
	}{
		{goimap.UIDSet{{Start: 1, Stop: 100}}, "[[0 5]]"},
		{goimap.UIDSet{{Start: 9, Stop: 12}, {Start: 1, Stop: 5}}, "[[0 2] [3 5]]"},
		{goimap.UIDSet{{Start: 5, Stop: 9}, {Start: 6, Stop: 6}, {Start: 2, Stop: 2}}, "[[0 4]]"},
		{goimap.UIDSet{{Start: 7, Stop: 8}, {Start: 13, Stop: 20}}, "[]"},
		{goimap.UIDSet{{Start: 12, Stop: 6}}, "[[2 5]]"},
	} {
		if got := fmt.Sprint(uidSpans(msgs, c.set)); got != c.want {
			t.Errorf("uidSpans(%v) = %s, want %s", c.set, got, c.want)
		}
	}
	for _, c := range []struct {
		set  goimap.SeqSet
		want string
	}{
		{goimap.SeqSet{{Start: 1, Stop: 5}}, "[[0 5]]"},
		{goimap.SeqSet{{Start: 4, Stop: 9}, {Start: 1, Stop: 1}}, "[[0 1] [3 5]]"},
		{goimap.SeqSet{{Start: 2, Stop: 3}, {Start: 3, Stop: 4}}, "[[1 4]]"},
		{goimap.SeqSet{{Start: 6, Stop: 8}}, "[]"},
	} {
		if got := fmt.Sprint(seqSpans(len(msgs), c.set)); got != c.want {
			t.Errorf("seqSpans(%v) = %s, want %s", c.set, got, c.want)
		}
	}
}
