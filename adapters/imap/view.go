package imap

import (
	"bufio"
	"bytes"
	"slices"
	"sort"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"github.com/wabridge/wabridge/internal/mailbox"
)

// item is one message as this session sees it: its sequence number in
// the session's view (pending expunges and unannounced arrivals
// accounted for) and a copy of its record.
type item struct {
	seq uint32
	msg mailbox.Message
}

// items resolves numSet against the selected mailbox, in order. Only the
// messages in the set are visited: a UID FETCH of the newest ten looks
// at ten records, not the whole mailbox.
func (ss *session) items(numSet goimap.NumSet) []item {
	var out []item
	ss.mbox.Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		numSet = ss.static(numSet, msgs)
		// A message's number in this session's view is its position
		// when the session has seen every message and no expunge is
		// pending for it, which the last message's number tells: the
		// mailbox announces arrivals one at a time, so with none
		// pending at n and no expunge shifting n, none is pending
		// below n either (imapserver.SessionTracker.EncodeSeqNum is
		// monotonic). Otherwise each number is asked for (a lock each).
		n := uint32(len(msgs))
		positional := n == 0 || ss.view.EncodeSeqNum(n) == n
		seqOf := func(i int) uint32 {
			if positional {
				return uint32(i + 1)
			}
			return ss.view.EncodeSeqNum(uint32(i + 1))
		}
		// The records are shared, not copied: a message's Flags slice
		// is replaced on change, never modified (mailbox.Message).
		switch set := numSet.(type) {
		case goimap.UIDSet:
			spans := uidSpans(msgs, set)
			out = make([]item, 0, spansLen(spans))
			for _, span := range spans {
				for i := span[0]; i < span[1]; i++ {
					if seq := seqOf(i); seq != 0 {
						out = append(out, item{seq: seq, msg: *msgs[i]})
					}
				}
			}
		case goimap.SeqSet:
			if positional {
				spans := seqSpans(len(msgs), set)
				out = make([]item, 0, spansLen(spans))
				for _, span := range spans {
					for i := span[0]; i < span[1]; i++ {
						out = append(out, item{seq: uint32(i + 1), msg: *msgs[i]})
					}
				}
				return
			}
			for i, m := range msgs {
				if seq := seqOf(i); seq != 0 && set.Contains(seq) {
					out = append(out, item{seq: seq, msg: *m})
				}
			}
		}
	})
	return out
}

// uidSpans returns the index ranges [from, to) of msgs (in UID order)
// whose UIDs are in set (static: no "*"), in order and without overlap.
func uidSpans(msgs []*mailbox.Message, set goimap.UIDSet) [][2]int {
	spans := make([][2]int, 0, len(set))
	for _, r := range set {
		lo, hi := uint32(min(r.Start, r.Stop)), uint32(max(r.Start, r.Stop))
		from := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID >= lo })
		to := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID > hi })
		if from < to {
			spans = append(spans, [2]int{from, to})
		}
	}
	return mergeSpans(spans)
}

// seqSpans is uidSpans for sequence numbers that are positions among n
// messages.
func seqSpans(n int, set goimap.SeqSet) [][2]int {
	spans := make([][2]int, 0, len(set))
	for _, r := range set {
		lo, hi := int(min(r.Start, r.Stop)), int(max(r.Start, r.Stop))
		if from, to := max(lo-1, 0), min(hi, n); from < to {
			spans = append(spans, [2]int{from, to})
		}
	}
	return mergeSpans(spans)
}

// spansLen is how many messages spans cover.
func spansLen(spans [][2]int) int {
	n := 0
	for _, s := range spans {
		n += s[1] - s[0]
	}
	return n
}

// mergeSpans sorts spans and merges the ones that overlap or touch.
func mergeSpans(spans [][2]int) [][2]int {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	out := spans[:1]
	for _, s := range spans[1:] {
		if last := &out[len(out)-1]; s[0] <= last[1] {
			last[1] = max(last[1], s[1])
		} else {
			out = append(out, s)
		}
	}
	return out
}

func (ss *session) uids(numSet goimap.NumSet) []uint32 {
	var out []uint32
	for _, it := range ss.items(numSet) {
		out = append(out, it.msg.UID)
	}
	return out
}

// static turns "*" into the highest number and "$" into the saved search.
func (ss *session) static(numSet goimap.NumSet, msgs []*mailbox.Message) goimap.NumSet {
	if goimap.IsSearchRes(numSet) {
		return ss.searchRes
	}
	switch set := numSet.(type) {
	case goimap.SeqSet:
		top := ss.view.EncodeSeqNum(uint32(len(msgs)))
		for top == 0 && len(msgs) > 0 {
			msgs = msgs[:len(msgs)-1]
			top = ss.view.EncodeSeqNum(uint32(len(msgs)))
		}
		out := make(goimap.SeqSet, len(set))
		for i, r := range set {
			out[i] = r
			staticRange(&out[i].Start, &out[i].Stop, top)
		}
		return out
	case goimap.UIDSet:
		top := uint32(0)
		if len(msgs) > 0 {
			top = msgs[len(msgs)-1].UID
		}
		out := make(goimap.UIDSet, len(set))
		for i, r := range set {
			out[i] = r
			staticRange((*uint32)(&out[i].Start), (*uint32)(&out[i].Stop), top)
		}
		return out
	}
	return numSet
}

func staticRange(start, stop *uint32, top uint32) {
	dyn := false
	if *start == 0 {
		*start, dyn = top, true
	}
	if *stop == 0 {
		*stop, dyn = top, true
	}
	if dyn && *start > *stop {
		*start, *stop = *stop, *start
	}
}

func imapFlags(flags []string) []goimap.Flag {
	out := make([]goimap.Flag, len(flags))
	for i, f := range flags {
		out[i] = goimap.Flag(f)
	}
	return out
}

// Fetch implements imapserver.Session. Reading a body section without
// PEEK sets \Seen (committed before the data is sent).
func (ss *session) Fetch(w *imapserver.FetchWriter, numSet goimap.NumSet, options *goimap.FetchOptions) error {
	items := ss.items(numSet)
	markSeen := false
	if !ss.readOnly {
		for _, bs := range options.BodySection {
			if !bs.Peek {
				markSeen = true
			}
		}
		for _, bs := range options.BinarySection {
			if !bs.Peek {
				markSeen = true // RFC 3516: BINARY[] like BODY[]
			}
		}
	}
	if markSeen {
		var unseen []uint32
		for _, it := range items {
			if !mailbox.HasFlag(it.msg.Flags, mailbox.FlagSeen) {
				unseen = append(unseen, it.msg.UID)
			}
		}
		if len(unseen) > 0 {
			c, cancel := ctx()
			flags, err := ss.mbox.UpdateFlags(c, unseen, func(cur []string) []string {
				return mailbox.AddFlags(cur, []string{mailbox.FlagSeen})
			}, ss.view)
			cancel()
			if err != nil {
				return imapError(err)
			}
			for i, it := range items {
				if f, ok := flags[it.msg.UID]; ok {
					items[i].msg.Flags = f
				}
			}
			options.Flags = true // RFC 3501 6.4.5: report the new \Seen
		}
	}
	need := fetchNeeds(options)
	for _, it := range items {
		var body []byte
		if need != needNothing {
			c, cancel := ctx()
			var b []byte
			var err error
			if need == needHeader {
				b, err = ss.mbox.Header(c, it.msg.UID) // all the items read
			} else {
				b, err = ss.mbox.Body(c, it.msg.UID)
			}
			cancel()
			if err != nil {
				continue // expunged meanwhile; its EXPUNGE follows
			}
			body = b
		}
		if err := writeMessage(w.CreateMessage(it.seq), it.msg, body, options); err != nil {
			return err
		}
	}
	return nil
}

// What a FETCH reads of each message besides its record.
const (
	needNothing = iota
	needHeader  // the header block (Mailbox.Header): ENVELOPE, BODY[HEADER…]
	needBody
)

// fetchNeeds says what of each message the FETCH items read. The header
// block is enough for ENVELOPE and for the header sections of the
// message itself (HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT without a
// part number): they parse the header and never read past it.
func fetchNeeds(options *goimap.FetchOptions) int {
	need := needNothing
	if options.Envelope {
		need = needHeader
	}
	for _, bs := range options.BodySection {
		if len(bs.Part) > 0 || bs.Specifier != goimap.PartSpecifierHeader {
			return needBody
		}
		need = needHeader
	}
	if options.BodyStructure != nil || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 {
		return needBody
	}
	return need
}

func writeMessage(w *imapserver.FetchResponseWriter, m mailbox.Message, body []byte, options *goimap.FetchOptions) error {
	w.WriteUID(goimap.UID(m.UID))
	if options.Flags {
		w.WriteFlags(imapFlags(m.Flags))
	}
	if options.InternalDate {
		w.WriteInternalDate(m.Date)
	}
	if options.RFC822Size {
		w.WriteRFC822Size(m.Size)
	}
	if options.Envelope {
		if h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(body))); err == nil {
			w.WriteEnvelope(imapserver.ExtractEnvelope(h))
		}
	}
	if options.BodyStructure != nil {
		w.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(body)))
	}
	for _, bs := range options.BodySection {
		buf := imapserver.ExtractBodySection(bytes.NewReader(body), bs)
		if err := writeAll(w.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		buf := imapserver.ExtractBinarySection(bytes.NewReader(body), bs)
		if err := writeAll(w.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		w.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(body), bss))
	}
	return w.Close()
}

func writeAll(wc interface {
	Write([]byte) (int, error)
	Close() error
}, buf []byte) error {
	_, err := wc.Write(buf)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// Store implements imapserver.Session: the new flags are committed, then
// every other session that has the mailbox selected is told.
func (ss *session) Store(w *imapserver.FetchWriter, numSet goimap.NumSet, flags *goimap.StoreFlags, options *goimap.StoreOptions) error {
	if ss.readOnly {
		return readOnlyError()
	}
	items := ss.items(numSet)
	given := make([]string, len(flags.Flags))
	for i, f := range flags.Flags {
		given[i] = string(f)
	}
	uids := make([]uint32, len(items))
	for i, it := range items {
		uids[i] = it.msg.UID
	}
	// The new flags are computed from the current ones under the
	// mailbox's lock: another session's concurrent change is kept.
	c, cancel := ctx()
	set, err := ss.mbox.UpdateFlags(c, uids, func(cur []string) []string {
		switch flags.Op {
		case goimap.StoreFlagsSet:
			return mailbox.SetFlags(given)
		case goimap.StoreFlagsAdd:
			return mailbox.AddFlags(cur, given)
		default:
			return mailbox.RemoveFlags(cur, given)
		}
	}, ss.view)
	cancel()
	if err != nil {
		return imapError(err)
	}
	kept := items[:0]
	for _, it := range items {
		if f, ok := set[it.msg.UID]; ok {
			it.msg.Flags = f
			kept = append(kept, it)
		}
	}
	items = kept
	if flags.Silent {
		return nil
	}
	for _, it := range items {
		if err := writeMessage(w.CreateMessage(it.seq), it.msg, nil, &goimap.FetchOptions{Flags: true}); err != nil {
			return err
		}
	}
	return nil
}
