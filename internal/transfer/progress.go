package transfer

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Progress receives the events of a copy. Update is called from several
// goroutines at once (blobs are copied in parallel) and must not block
// for long.
type Progress interface {
	Update(Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

// Update calls f(e).
func (f ProgressFunc) Update(e Event) { f(e) }

// EventKind says what happened.
type EventKind int

// The events of a copy. A blob that is uploaded sees BlobStart, any
// number of BlobBytes, then BlobSent or BlobMounted; a blob the
// destination has sees only BlobSkipped.
const (
	// BlobStart: an upload begins; Size is the blob's size.
	BlobStart EventKind = iota + 1
	// BlobBytes: Done bytes of the blob have been read from the source
	// and sent on.
	BlobBytes
	// BlobSent: the blob was uploaded.
	BlobSent
	// BlobMounted: the destination took the blob without an upload
	// (a cross-repository mount, or it appeared meanwhile).
	BlobMounted
	// BlobSkipped: the destination had the blob; Note says why when it is
	// not that (a non-distributable layer is never copied).
	BlobSkipped
	// ManifestSent: a manifest was written (by digest, or with Tag).
	ManifestSent
	// ManifestSkipped: the destination had the manifest.
	ManifestSkipped
	// Tagged: Tag now names the manifest (which the destination had).
	Tagged
	// TagUpToDate: Tag already named the source's digest.
	TagUpToDate
	// Warning: something was left out; Note says what.
	Warning
)

var kindNames = map[EventKind]string{
	BlobStart: "blob-start", BlobBytes: "blob-bytes", BlobSent: "blob-sent",
	BlobMounted: "blob-mounted", BlobSkipped: "blob-skipped",
	ManifestSent: "manifest-sent", ManifestSkipped: "manifest-skipped",
	Tagged: "tagged", TagUpToDate: "tag-up-to-date", Warning: "warning",
}

func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one step of a copy.
type Event struct {
	Kind EventKind
	// Repo is the destination repository (registry/path).
	Repo string
	// Tag is set for manifests written or checked under a tag.
	Tag string
	// Digest, MediaType and Size describe the blob or manifest.
	Digest    v1.Hash
	MediaType types.MediaType
	Size      int64
	// Done is the number of bytes sent so far (BlobBytes).
	Done int64
	// Note explains a skip or a warning.
	Note string
}

// String is the event as one log line (BlobBytes events are not meant to
// be logged).
func (e Event) String() string {
	short := e.Digest.String()
	switch e.Kind {
	case BlobStart:
		return fmt.Sprintf("%s: blob %s (%s): uploading", e.Repo, short, humanBytes(e.Size))
	case BlobBytes:
		return fmt.Sprintf("%s: blob %s: %s of %s", e.Repo, short, humanBytes(e.Done), humanBytes(e.Size))
	case BlobSent:
		return fmt.Sprintf("%s: blob %s (%s): sent", e.Repo, short, humanBytes(e.Size))
	case BlobMounted:
		return fmt.Sprintf("%s: blob %s (%s): mounted", e.Repo, short, humanBytes(e.Size))
	case BlobSkipped:
		note := "already there"
		if e.Note != "" {
			note = e.Note
		}
		return fmt.Sprintf("%s: blob %s (%s): skipped, %s", e.Repo, short, humanBytes(e.Size), note)
	case ManifestSent:
		if e.Tag != "" {
			return fmt.Sprintf("%s:%s: manifest %s (%s): sent", e.Repo, e.Tag, short, e.MediaType)
		}
		return fmt.Sprintf("%s: manifest %s (%s): sent", e.Repo, short, e.MediaType)
	case ManifestSkipped:
		return fmt.Sprintf("%s: manifest %s: skipped, already there", e.Repo, short)
	case Tagged:
		return fmt.Sprintf("%s:%s: tagged %s", e.Repo, e.Tag, short)
	case TagUpToDate:
		return fmt.Sprintf("%s:%s: up to date (%s)", e.Repo, e.Tag, short)
	case Warning:
		return fmt.Sprintf("%s: warning: %s", e.Repo, e.Note)
	}
	return fmt.Sprintf("%s: %s %s", e.Repo, e.Kind, short)
}

// humanBytes formats n in binary units (1.5 MiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// HumanBytes formats n in binary units, as the events do.
func HumanBytes(n int64) string { return humanBytes(n) }
