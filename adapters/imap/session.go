package imap

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/wabridge/wabridge/internal/mailbox"
)

// opTimeout bounds one command's store work.
const opTimeout = time.Minute

type session struct {
	srv  *Server
	conn *imapserver.Conn
	user *mailbox.User

	// Selected state.
	mbox      *mailbox.Mailbox
	view      *imapserver.SessionTracker
	readOnly  bool
	searchRes goimap.UIDSet
}

var _ imapserver.SessionIMAP4rev2 = (*session)(nil)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	return &session{srv: s, conn: c}, nil, nil
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// imapError maps mailbox errors to IMAP responses.
func imapError(err error) error {
	var ie *goimap.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return err
	case errors.Is(err, mailbox.ErrNoMailbox):
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeNonExistent, Text: "No such mailbox"}
	case errors.Is(err, mailbox.ErrExists):
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	case errors.Is(err, mailbox.ErrProtected):
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeCannot, Text: "INBOX and Sent cannot be deleted or renamed"}
	}
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeServerBug, Text: "Temporary failure; try again"}
}

func tryCreate() error {
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeTryCreate, Text: "No such mailbox"}
}

func (ss *session) Close() error {
	if ss.view != nil {
		ss.view.Close()
	}
	return nil
}

// Login implements imapserver.Session. imapserver refuses it before TLS
// unless allow_insecure_auth; a wrong password is slowed down.
func (ss *session) Login(username, password string) error {
	u := ss.srv.svc.Login("imap", username, password)
	if u == nil {
		ss.srv.log.Info("imap login failed", "user", username, "remote", ss.conn.NetConn().RemoteAddr().String())
		time.Sleep(ss.srv.cfg.FailedLoginDelay)
		return imapserver.ErrAuthFailed
	}
	ss.user = u
	return nil
}

func (ss *session) mailbox(name string) (*mailbox.Mailbox, error) {
	c, cancel := ctx()
	defer cancel()
	return ss.srv.svc.Mailbox(c, ss.user.Key(), name)
}

func (ss *session) Select(name string, options *goimap.SelectOptions) (*goimap.SelectData, error) {
	mb, err := ss.mailbox(name)
	if err != nil {
		return nil, imapError(err)
	}
	if ss.view != nil {
		ss.view.Close()
	}
	var data goimap.SelectData
	mb.Snapshot(func(info mailbox.Info, msgs []*mailbox.Message) {
		// The view is made under the lock, so it counts exactly msgs.
		ss.view = mb.Tracker().NewSession()
		seen := map[string]string{}
		for i, m := range msgs {
			for _, f := range m.Flags {
				seen[strings.ToLower(f)] = f
			}
			if data.FirstUnseenSeqNum == 0 && !mailbox.HasFlag(m.Flags, mailbox.FlagSeen) {
				data.FirstUnseenSeqNum = uint32(i + 1)
			}
		}
		for _, f := range []string{mailbox.FlagSeen, mailbox.FlagAnswered, mailbox.FlagFlagged, mailbox.FlagDeleted, mailbox.FlagDraft} {
			seen[strings.ToLower(f)] = f
		}
		for _, f := range seen {
			data.Flags = append(data.Flags, goimap.Flag(f))
		}
		sort.Slice(data.Flags, func(i, j int) bool { return data.Flags[i] < data.Flags[j] })
		if options.ReadOnly {
			data.PermanentFlags = []goimap.Flag{} // nothing can be changed (EXAMINE)
		} else {
			data.PermanentFlags = append(append([]goimap.Flag(nil), data.Flags...), goimap.FlagWildcard)
		}
		data.NumMessages = uint32(len(msgs))
		data.UIDNext = goimap.UID(info.UIDNext)
		data.UIDValidity = info.UIDValidity
	})
	ss.mbox, ss.readOnly, ss.searchRes = mb, options.ReadOnly, nil
	return &data, nil
}

func (ss *session) Unselect() error {
	if ss.view != nil {
		ss.view.Close()
	}
	ss.mbox, ss.view, ss.searchRes = nil, nil, nil
	return nil
}

func (ss *session) Create(name string, options *goimap.CreateOptions) error {
	use := ""
	if options != nil && len(options.SpecialUse) > 0 {
		use = string(options.SpecialUse[0])
	}
	c, cancel := ctx()
	defer cancel()
	return imapError(ss.srv.svc.Create(c, ss.user.Key(), name, use))
}

func (ss *session) Delete(name string) error {
	c, cancel := ctx()
	defer cancel()
	return imapError(ss.srv.svc.Delete(c, ss.user.Key(), name))
}

func (ss *session) Rename(from, to string, _ *goimap.RenameOptions) error {
	c, cancel := ctx()
	defer cancel()
	return imapError(ss.srv.svc.Rename(c, ss.user.Key(), from, to))
}

func (ss *session) Subscribe(name string) error {
	c, cancel := ctx()
	defer cancel()
	return imapError(ss.srv.svc.Subscribe(c, ss.user.Key(), name, true))
}

func (ss *session) Unsubscribe(name string) error {
	c, cancel := ctx()
	defer cancel()
	return imapError(ss.srv.svc.Subscribe(c, ss.user.Key(), name, false))
}

func (ss *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *goimap.ListOptions) error {
	if len(patterns) == 0 || (len(patterns) == 1 && patterns[0] == "") {
		return w.WriteList(&goimap.ListData{Attrs: []goimap.MailboxAttr{goimap.MailboxAttrNoSelect}, Delim: mailbox.Delim})
	}
	c, cancel := ctx()
	defer cancel()
	boxes, err := ss.srv.svc.Mailboxes(c, ss.user.Key())
	if err != nil {
		return imapError(err)
	}
	var out []goimap.ListData
	for _, mb := range boxes {
		info := mb.Info()
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(info.Name, mailbox.Delim, ref, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		if options.SelectSubscribed && !info.Subscribed || options.SelectSpecialUse && info.SpecialUse == "" {
			continue
		}
		d := goimap.ListData{Mailbox: info.Name, Delim: mailbox.Delim}
		if info.Subscribed {
			d.Attrs = append(d.Attrs, goimap.MailboxAttrSubscribed)
		}
		if info.SpecialUse != "" {
			// Always shown: clients that did not ask (Thunderbird, mbsync's
			// plain LIST) still find Sent and Trash by it.
			d.Attrs = append(d.Attrs, goimap.MailboxAttr(info.SpecialUse))
		}
		if options.ReturnStatus != nil {
			d.Status = status(mb, options.ReturnStatus)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		// INBOX first, then by name.
		if (out[i].Mailbox == mailbox.Inbox) != (out[j].Mailbox == mailbox.Inbox) {
			return out[i].Mailbox == mailbox.Inbox
		}
		return out[i].Mailbox < out[j].Mailbox
	})
	for i := range out {
		if err := w.WriteList(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

func status(mb *mailbox.Mailbox, options *goimap.StatusOptions) *goimap.StatusData {
	var d goimap.StatusData
	mb.Snapshot(func(info mailbox.Info, msgs []*mailbox.Message) {
		d.Mailbox = info.Name
		n := uint32(len(msgs))
		var unseen, deleted uint32
		var size int64
		for _, m := range msgs {
			if !mailbox.HasFlag(m.Flags, mailbox.FlagSeen) {
				unseen++
			}
			if mailbox.HasFlag(m.Flags, mailbox.FlagDeleted) {
				deleted++
			}
			size += m.Size
		}
		if options.NumMessages {
			d.NumMessages = &n
		}
		if options.UIDNext {
			d.UIDNext = goimap.UID(info.UIDNext)
		}
		if options.UIDValidity {
			d.UIDValidity = info.UIDValidity
		}
		if options.NumUnseen {
			d.NumUnseen = &unseen
		}
		if options.NumDeleted {
			d.NumDeleted = &deleted
		}
		if options.Size {
			d.Size = &size
		}
		if options.NumRecent {
			zero := uint32(0)
			d.NumRecent = &zero
		}
	})
	return &d
}

func (ss *session) Status(name string, options *goimap.StatusOptions) (*goimap.StatusData, error) {
	mb, err := ss.mailbox(name)
	if err != nil {
		return nil, imapError(err)
	}
	return status(mb, options), nil
}

// Append implements imapserver.Session. A message appended to Sent whose
// Message-ID is that of our own Sent copy (a client saving what it just
// submitted) is merged into it instead of stored twice.
func (ss *session) Append(name string, r goimap.LiteralReader, options *goimap.AppendOptions) (*goimap.AppendData, error) {
	mb, err := ss.mailbox(name)
	if err != nil {
		if errors.Is(err, mailbox.ErrNoMailbox) {
			return nil, tryCreate()
		}
		return nil, imapError(err)
	}
	if r.Size() > ss.srv.cfg.MaxMessageBytes {
		return nil, &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeTooBig, Text: "Message too large"}
	}
	body, err := io.ReadAll(io.LimitReader(r, ss.srv.cfg.MaxMessageBytes+1))
	if err != nil {
		return nil, err
	}
	flags := make([]string, len(options.Flags))
	for i, f := range options.Flags {
		flags[i] = string(f)
	}
	info := mb.Info()
	c, cancel := ctx()
	defer cancel()
	a, err := mb.Append(c, mailbox.NewMessage{
		MessageID: headerMessageID(body),
		Flags:     flags,
		Date:      options.Time,
		Body:      body,
	}, info.Name == mailbox.Sent)
	if err != nil {
		return nil, imapError(err)
	}
	return &goimap.AppendData{UIDValidity: info.UIDValidity, UID: goimap.UID(a.UID)}, nil
}

func (ss *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if ss.view == nil {
		return nil
	}
	return ss.view.Poll(w, allowExpunge)
}

// Idle implements imapserver.Session. Not SessionTracker.Idle: it only
// wakes for updates queued after it started, so changes made since the
// session's last command would wait for the next change.
func (ss *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if ss.view == nil {
		<-stop
		return nil
	}
	for {
		changed := ss.mbox.Changed()
		if err := ss.view.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stop:
			return nil
		}
	}
}

func (ss *session) Namespace() (*goimap.NamespaceData, error) {
	return &goimap.NamespaceData{Personal: []goimap.NamespaceDescriptor{{Delim: mailbox.Delim}}}, nil
}

func readOnlyError() error {
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeCannot, Text: "Mailbox is read-only (EXAMINE)"}
}

func (ss *session) Expunge(w *imapserver.ExpungeWriter, uids *goimap.UIDSet) error {
	if ss.readOnly {
		// Nothing is removed, without an error: imapserver runs CLOSE
		// through here, and CLOSE after EXAMINE must succeed (RFC 3501
		// 6.4.2).
		return nil
	}
	var del []uint32
	ss.mbox.Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		for _, m := range msgs {
			if (uids == nil || uids.Contains(goimap.UID(m.UID))) && mailbox.HasFlag(m.Flags, mailbox.FlagDeleted) {
				del = append(del, m.UID)
			}
		}
	})
	if len(del) == 0 {
		return nil
	}
	c, cancel := ctx()
	defer cancel()
	// The removals reach this session through its tracker, like any other.
	_, err := ss.mbox.Expunge(c, del)
	return imapError(err)
}

func (ss *session) destination(name string) (*mailbox.Mailbox, error) {
	dst, err := ss.mailbox(name)
	if err != nil {
		return nil, tryCreate()
	}
	return dst, nil
}

func (ss *session) Copy(numSet goimap.NumSet, name string) (*goimap.CopyData, error) {
	dst, err := ss.destination(name)
	if err != nil {
		return nil, err
	}
	uids := ss.uids(numSet)
	c, cancel := ctx()
	defer cancel()
	res, _, err := ss.mbox.CopyTo(c, uids, dst, false)
	if err != nil {
		return nil, imapError(err)
	}
	return copyData(dst, res), nil
}

func (ss *session) Move(w *imapserver.MoveWriter, numSet goimap.NumSet, name string) error {
	if ss.readOnly {
		return readOnlyError()
	}
	dst, err := ss.destination(name)
	if err != nil {
		return err
	}
	uids := ss.uids(numSet)
	c, cancel := ctx()
	defer cancel()
	res, _, err := ss.mbox.CopyTo(c, uids, dst, true)
	if err != nil {
		return imapError(err)
	}
	if err := w.WriteCopyData(copyData(dst, res)); err != nil {
		return err
	}
	// The expunges reach this session through its tracker at the end of
	// the command, with its own sequence numbers.
	return nil
}

// copyData is the COPYUID of a copy, nil when nothing was copied (an
// empty set cannot be written).
func copyData(dst *mailbox.Mailbox, c mailbox.Copied) *goimap.CopyData {
	if len(c.Source) == 0 {
		return nil
	}
	var src, dest goimap.UIDSet
	for i := range c.Source {
		src.AddNum(goimap.UID(c.Source[i]))
		dest.AddNum(goimap.UID(c.Dest[i]))
	}
	return &goimap.CopyData{UIDValidity: dst.Info().UIDValidity, SourceUIDs: src, DestUIDs: dest}
}
