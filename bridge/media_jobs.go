package bridge

import (
	"context"
	"fmt"
)

// fetchMedia downloads one inbound message's media into the file store and
// records it on the message. Temporary failures are retried with backoff
// while the provider keeps the media (MediaRetryFor from the message time);
// a final failure is recorded on the message as Media.FetchError.
func (b *Bridge) fetchMedia(job Job) {
	ctx := context.Background()
	id := MessageID(job.Ref)
	log := b.log.With("message_id", id)
	m, err := b.store.Message(ctx, job.Ref)
	if err != nil {
		log.Error("media job without message", "err", err)
		_, _ = b.store.UpdateMedia(ctx, id, func(*Media) {}, JobMediaFetch)
		return
	}
	md := m.Content.Media
	if md == nil || md.ID == "" || md.FileID != "" {
		_, _ = b.store.UpdateMedia(ctx, id, func(*Media) {}, JobMediaFetch)
		return
	}
	limit := InboundMediaMaxBytes[m.Kind]
	if limit == 0 {
		limit = 100 * MiB
	}
	w, err := b.files.Create(ctx)
	if err != nil {
		b.retryMedia(ctx, job, m, err)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, b.cfg.MediaTimeout)
	info, err := b.transfer.Download(dctx, m.Business, md.ID, w, limit)
	cancel()
	if err != nil {
		w.Abort()
		se := AsSendError(err)
		if se.Action == ActionRetry {
			b.retryMedia(ctx, job, m, err)
			return
		}
		b.mediaFailed(ctx, m, err)
		return
	}
	mime := info.MIMEType
	if mime == "" {
		mime = md.MIMEType
	}
	f, err := w.Commit(ctx, File{MIMEType: mime, Filename: md.Filename})
	if err != nil {
		b.retryMedia(ctx, job, m, err)
		return
	}
	if _, err := b.store.UpdateMedia(ctx, id, func(x *Media) {
		// The download was checked against the provider's digest: keep
		// ours (hex), as for every stored file.
		x.FileID, x.Size, x.SHA256, x.FetchError = f.ID, f.Size, f.SHA256, ""
		if x.MIMEType == "" {
			x.MIMEType = f.MIMEType
		}
	}, JobMediaFetch); err != nil {
		log.Error("record media file", "file_id", f.ID, "err", err)
		return
	}
	if b.obs != nil {
		b.obs.MediaFetched("ok")
	}
	log.Info("media stored", "file_id", f.ID, "bytes", f.Size)
}

func (b *Bridge) retryMedia(ctx context.Context, job Job, m *Message, cause error) {
	born := m.Timestamp
	if born.IsZero() {
		born = m.CreatedAt
	}
	if b.now().Sub(born) >= b.cfg.MediaRetryFor {
		b.mediaFailed(ctx, m, fmt.Errorf("gave up after %d attempts: %w", job.Attempts, cause))
		return
	}
	delay := Backoff(b.cfg.BackoffInitial, b.cfg.BackoffMax, job.Attempts)
	b.log.Warn("media download failed; will retry", "message_id", m.ID, "attempt", job.Attempts, "retry_in", delay, "err", cause)
	if err := b.store.RetryJob(ctx, JobMediaFetch, job.Ref, b.now().Add(delay), cause.Error()); err != nil {
		b.log.Error("reschedule media job", "message_id", m.ID, "err", err)
	}
	if b.obs != nil {
		b.obs.MediaFetched("retry")
	}
}

func (b *Bridge) mediaFailed(ctx context.Context, m *Message, cause error) {
	msg := string(ReasonMediaUnavailable) + ": " + cause.Error()
	b.log.Warn("media download failed for good", "message_id", m.ID, "err", cause)
	if _, err := b.store.UpdateMedia(ctx, m.ID, func(x *Media) { x.FetchError = msg }, JobMediaFetch); err != nil {
		b.log.Error("record media failure", "message_id", m.ID, "err", err)
	}
	if b.obs != nil {
		b.obs.MediaFetched("failed")
	}
}

// uploadForSend gives a stored file a provider media id before the send
// (kept on the message, so a retry does not upload again).
func (b *Bridge) uploadForSend(ctx context.Context, m *Message) error {
	md := m.Content.Media
	if md == nil || md.FileID == "" || md.ID != "" {
		return nil
	}
	if b.files == nil || b.transfer == nil {
		return &SendError{Action: ActionPermanent, Reason: ReasonInvalid, Title: "this provider cannot upload media"}
	}
	r, f, err := b.files.Open(ctx, md.FileID)
	if err != nil {
		return &SendError{Action: ActionPermanent, Reason: ReasonInvalid, Title: "uploaded file is gone", Err: err}
	}
	defer r.Close()
	uctx, cancel := context.WithTimeout(ctx, b.cfg.MediaTimeout)
	defer cancel()
	mediaID, err := b.transfer.Upload(uctx, m.Business, f, r)
	if err != nil {
		se := AsSendError(err)
		if se.Err != nil && se.Code == 0 {
			// A lost answer to an upload costs nothing: upload again (a
			// definite retry, not an unknown send outcome).
			return &SendError{Action: ActionRetry, Reason: ReasonUpstreamError, Title: "media upload failed: " + se.Err.Error()}
		}
		return se
	}
	if _, err := b.store.UpdateMedia(ctx, m.ID, func(x *Media) { x.ID = mediaID }, ""); err != nil {
		return err
	}
	md.ID = mediaID
	return nil
}
