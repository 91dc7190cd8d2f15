package bridge

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Size units for media limits. Meta writes "5 MB"; wabridge reads it as
// 5 MiB, as Meta's own SDK samples do.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
)

// MediaRule is what WhatsApp accepts for one media kind when a business
// sends it: MIME types and the largest size (animated stickers have their own).
type MediaRule struct {
	MIMETypes        []string
	MaxBytes         int64
	AnimatedMaxBytes int64 // stickers only
	Caption          bool  // whether a caption may be sent
}

// MediaRules are Meta's published limits for sent media (FACTS.md b2).
var MediaRules = map[Kind]MediaRule{
	KindImage: {MIMETypes: []string{"image/jpeg", "image/png"}, MaxBytes: 5 * MiB, Caption: true},
	KindVideo: {MIMETypes: []string{"video/mp4", "video/3gpp"}, MaxBytes: 16 * MiB, Caption: true},
	KindAudio: {MIMETypes: []string{"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, MaxBytes: 16 * MiB},
	KindDocument: {MIMETypes: []string{
		"text/plain", "application/pdf",
		"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	}, MaxBytes: 100 * MiB, Caption: true},
	KindSticker: {MIMETypes: []string{"image/webp"}, MaxBytes: 100 * KiB, AnimatedMaxBytes: 500 * KiB},
}

// MaxCaptionLength is WhatsApp's limit for a media caption, in characters.
const MaxCaptionLength = 1024

// InboundMediaMaxBytes caps a download of a customer's media per kind.
// Meta does not deliver inbound media over 100 MB (error 131052).
var InboundMediaMaxBytes = map[Kind]int64{
	KindImage:    16 * MiB,
	KindSticker:  1 * MiB,
	KindAudio:    100 * MiB,
	KindVideo:    100 * MiB,
	KindDocument: 100 * MiB,
}

// BaseMIME returns a MIME type without parameters, lower-cased
// ("audio/ogg; codecs=opus" → "audio/ogg").
func BaseMIME(mime string) string {
	if i := strings.IndexByte(mime, ';'); i >= 0 {
		mime = mime[:i]
	}
	return strings.ToLower(strings.TrimSpace(mime))
}

// CheckMedia checks a media message a business wants to send against
// MediaRules: the kind, the MIME type (when known), the size (when known,
// > 0) and the caption. Refusals are *RefusedError with reason
// media_type_unsupported or media_too_large, naming the field.
func CheckMedia(kind Kind, mime string, size int64, animated bool, caption string) error {
	rule, ok := MediaRules[kind]
	if !ok {
		return &RefusedError{Reason: ReasonInvalid, Field: "media.type", Msg: fmt.Sprintf("%q is not a media type", kind)}
	}
	if mime != "" && !slices.Contains(rule.MIMETypes, BaseMIME(mime)) {
		return &RefusedError{Reason: ReasonMediaUnsupported, Field: "media.mime_type",
			Msg: fmt.Sprintf("WhatsApp does not accept %s as %s (allowed: %s)", BaseMIME(mime), kind, strings.Join(rule.MIMETypes, ", "))}
	}
	limit := rule.MaxBytes
	if animated && rule.AnimatedMaxBytes > 0 {
		limit = rule.AnimatedMaxBytes
	}
	if size > limit {
		return &RefusedError{Reason: ReasonMediaTooLarge, Field: "media",
			Msg: fmt.Sprintf("%s of %d bytes is over WhatsApp's limit of %d bytes", kind, size, limit)}
	}
	if caption != "" && !rule.Caption {
		return &RefusedError{Reason: ReasonInvalid, Field: "media.caption", Msg: fmt.Sprintf("%s messages carry no caption", kind)}
	}
	if n := utf8.RuneCountInString(caption); n > MaxCaptionLength {
		return &RefusedError{Reason: ReasonInvalid, Field: "media.caption",
			Msg: fmt.Sprintf("caption of %d characters; WhatsApp allows %d", n, MaxCaptionLength)}
	}
	return nil
}

// File is a media file wabridge keeps: downloaded from a customer's
// message or uploaded by a business to send.
type File struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"` // hex of the content
	MIMEType  string    `json:"mime_type"`
	Size      int64     `json:"size"`
	Filename  string    `json:"filename,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// FileStore keeps media files durably. Implementations are safe for
// concurrent use.
type FileStore interface {
	// Create starts a new file. Bytes written to it are counted and hashed;
	// Commit makes it durable (synced to disk, recorded) and returns its
	// record; Abort discards it.
	Create(ctx context.Context) (FileWriter, error)
	// Open returns a stored file's content and record; ErrNotFound if none.
	Open(ctx context.Context, id string) (io.ReadCloser, *File, error)
}

// FileWriter receives a new file's bytes.
type FileWriter interface {
	io.Writer
	// Written is the number of bytes written so far.
	Written() int64
	// Commit stores the file with meta's MIME type and name; ID, SHA256,
	// Size and CreatedAt are filled in.
	Commit(ctx context.Context, meta File) (*File, error)
	// Abort discards the file; safe after Commit (then a no-op).
	Abort()
}

// MediaInfo is what a provider reports about a media object.
type MediaInfo struct {
	MIMEType string
	SHA256   string // as the provider reports it (hex)
	Size     int64
}

// MediaTransfer is implemented by senders that move media files to and from
// the provider. Both calls do network I/O and honour ctx.
type MediaTransfer interface {
	// Upload sends size bytes from r for the business number and returns
	// the provider's media id (valid 30 days at Meta).
	Upload(ctx context.Context, business string, f *File, r io.Reader) (mediaID string, err error)
	// Download writes the media object's bytes to w, refusing more than
	// maxBytes, and checks them against the provider's sha256. Errors are
	// *SendError: ActionRetry for temporary ones, anything else is final.
	Download(ctx context.Context, business, mediaID string, w io.Writer, maxBytes int64) (MediaInfo, error)
}
