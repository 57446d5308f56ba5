package meta

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned (bare or wrapped) when the named row does not exist.
var ErrNotFound = errors.New("meta: not found")

// ErrClosed is returned (bare or wrapped) by View and Update on a closed Store.
var ErrClosed = errors.New("meta: store closed")

// Store is the transactional metadata index. Every read and write happens in a
// transaction; Update commits when fn returns nil and rolls back otherwise
// (returning fn's error unchanged so errors.Is works).
type Store interface {
	View(ctx context.Context, fn func(Reader) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateAsync is Update with an asynchronous commit: it returns once the
	// change is visible and safe from a crash of the process, but before it
	// is durable against a power failure or an OS crash, which may lose the
	// most recent such transactions (never a part of one). It is for state
	// that is cheap to lose, such as upload progress; a later Update makes
	// everything before it durable.
	UpdateAsync(ctx context.Context, fn func(Tx) error) error
	// Close waits for running transactions and releases the store. Calling
	// it again is harmless; View and Update fail once it has been called.
	Close() error
}

// Reader is the read side of a transaction.
type Reader interface {
	RepoReader
	BlobReader
	ManifestReader
	TagReader
	UploadReader
	EventReader
	AccountReader
	ProjectReader
	KeyReader
	ThrottleReader
	AuditReader
	PolicyReader
	QuarantineReader
	GCReader
	PullReader
	QuotaReader
	RetentionReader
	WebhookReader
	ProxyReader
	ReplicationReader
	SignaturePolicyReader
	ScanReader
	ScannerReader
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	RepoWriter
	BlobWriter
	ManifestWriter
	TagWriter
	UploadWriter
	EventWriter
	LeaseWriter
	AccountWriter
	ProjectWriter
	KeyWriter
	ThrottleWriter
	AuditWriter
	PolicyWriter
	QuarantineWriter
	Locker
	PullWriter
	QuotaWriter
	RetentionWriter
	WebhookWriter
	ProxyWriter
	ReplicationWriter
	SignaturePolicyWriter
	ScanWriter
	ScannerWriter
}

// Repository is one repository (an image name such as "library/alpine").
type Repository struct {
	Name      string
	CreatedAt time.Time
}

type RepoReader interface {
	// Repository returns the named repository or ErrNotFound.
	Repository(name string) (Repository, error)
	// ListRepositories returns up to n repository names sorted ascending that
	// sort strictly after last ("" = from the start). n <= 0 means no limit.
	ListRepositories(last string, n int) ([]string, error)
}

type RepoWriter interface {
	// EnsureRepository creates the repository if it does not exist.
	EnsureRepository(name string) error
	// DeleteRepository removes the repository with its manifests, tags and
	// blob links (not the blobs: GC's business); ErrNotFound if it does
	// not exist.
	DeleteRepository(name string) error
}

type BlobReader interface {
	// BlobLink returns the size of blob d if it is linked to repo, else ErrNotFound.
	BlobLink(repo string, d digest.Digest) (size int64, err error)
	// BlobLinkInfo is BlobLink with the time the link was made or last
	// refreshed (LinkedAt), which garbage collection's grace period counts
	// from.
	BlobLinkInfo(repo string, d digest.Digest) (BlobLink, error)
	// ReposWithBlob returns up to limit repository names (sorted) that hold a
	// link to d (for the automatic cross-repository mount).
	ReposWithBlob(d digest.Digest, limit int) ([]string, error)
	// ListBlobLinks returns up to n blobs linked to repo, sorted by digest,
	// after the given digest ("" = from the start). n <= 0 means no limit.
	ListBlobLinks(repo string, after digest.Digest, n int) ([]BlobLink, error)
}

// BlobLink is one blob linked to a repository. LinkedAt is filled by
// BlobLinkInfo only.
type BlobLink struct {
	Digest   digest.Digest
	Size     int64
	LinkedAt time.Time
}

type BlobWriter interface {
	// LinkBlob links blob d of the given size to repo (creating the repository
	// if needed). Linking again is not an error: it refreshes the link's
	// time, as TouchBlobLink does.
	LinkBlob(repo string, d digest.Digest, size int64) error
	// TouchBlobLink sets the link's time to at: a client was just told the
	// repository holds the blob and may reference it without uploading it,
	// so garbage collection's grace period starts again. ErrNotFound if
	// there is no such link.
	TouchBlobLink(repo string, d digest.Digest, at time.Time) error
	// UnlinkBlob removes the link; ErrNotFound if it did not exist.
	UnlinkBlob(repo string, d digest.Digest) error
}

// Manifest is one manifest stored in one repository. Content holds the exact
// bytes the client pushed.
type Manifest struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string // the manifest's artifactType, or its config media type for image manifests, "" otherwise
	Size         int64
	Content      []byte
	Subject      digest.Digest     // "" when the manifest has no subject
	Annotations  map[string]string // kept for the referrers API
	CreatedAt    time.Time
}

// Refs are what a manifest points at: blobs (config, layers) and child
// manifests (the entries of an index). Children need not exist in the
// repository (a sparse index).
type Refs struct {
	Blobs     []digest.Digest
	Manifests []digest.Digest
}

type ManifestReader interface {
	// Manifest returns the manifest with digest d in repo, or ErrNotFound.
	Manifest(repo string, d digest.Digest) (Manifest, error)
	// ManifestByTag resolves tag and returns its manifest, or ErrNotFound.
	ManifestByTag(repo, tag string) (Manifest, error)
	// Referrers returns the manifests in repo whose subject is d, sorted by
	// digest, optionally only those with the given artifactType ("" = all).
	// Content is not filled in.
	Referrers(repo string, subject digest.Digest, artifactType string) ([]Manifest, error)
	// ListManifests returns up to n manifests of repo with their content,
	// sorted by digest, after the given digest ("" = from the start).
	// n <= 0 means no limit.
	ListManifests(repo string, after digest.Digest, n int) ([]Manifest, error)
	// ManifestParentDigests returns up to n digests of the manifests of
	// repo (indexes) that list d as a child, sorted.
	ManifestParentDigests(repo string, d digest.Digest, n int) ([]digest.Digest, error)
}

type ManifestWriter interface {
	// PutManifest stores m and its references in repo (creating the
	// repository if needed). Putting a manifest that exists replaces nothing
	// and is not an error.
	PutManifest(repo string, m Manifest, refs Refs) error
	// DeleteManifest removes the manifest, its references and every tag that
	// points at it. ErrNotFound if it is not in repo.
	DeleteManifest(repo string, d digest.Digest) error
	// TouchManifest notes that a client was shown manifest d of repo at
	// at (a HEAD by digest: it may list it in an index it pushes next), so
	// garbage collection's grace period starts again. ErrNotFound if the
	// manifest is not in repo.
	TouchManifest(repo string, d digest.Digest, at time.Time) error
}

type TagReader interface {
	// Tag returns the digest the tag points at, or ErrNotFound.
	Tag(repo, tag string) (digest.Digest, error)
	// ListTags returns up to n tag names of repo sorted ascending that sort
	// strictly after last. n <= 0 means no limit.
	ListTags(repo, last string, n int) ([]string, error)
	// TagsOf returns the tags of repo pointing at d, sorted.
	TagsOf(repo string, d digest.Digest) ([]string, error)
}

type TagWriter interface {
	// PutTag points tag at manifest d (which must exist in repo) and returns
	// the digest it pointed at before ("" if new).
	PutTag(repo, tag string, d digest.Digest) (previous digest.Digest, err error)
	// DeleteTag removes the tag; ErrNotFound if it did not exist.
	DeleteTag(repo, tag string) error
}

// Upload is an upload session. HashState is the marshalled running hash of
// the first Offset bytes (encoding.BinaryMarshaler output).
type Upload struct {
	ID        string
	Repo      string
	Algorithm digest.Algorithm
	Offset    int64
	HashState []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

type UploadReader interface {
	// Upload returns the session or ErrNotFound.
	Upload(id string) (Upload, error)
	// UploadsUpdatedBefore returns sessions last updated before t (to purge).
	UploadsUpdatedBefore(t time.Time) ([]Upload, error)
	// CountUploads is how many sessions there are.
	CountUploads() (int, error)
	// UploadEnded says whether EndUpload recorded the id.
	UploadEnded(id string) (bool, error)
}

type UploadWriter interface {
	CreateUpload(u Upload) error
	// UpdateUpload saves Offset, HashState and UpdatedAt; ErrNotFound if gone.
	UpdateUpload(u Upload) error
	// DeleteUpload removes the session; ErrNotFound if it did not exist.
	DeleteUpload(id string) error
	// EndUpload records that the session id is over (finished or cancelled),
	// whether or not it ever had a row: sessions that start without one
	// (their id says all there is to know) are refused by this record once
	// over. Recording an id twice is not an error.
	EndUpload(id string) error
	// DeleteUploadEndsBefore deletes the records of at most n ids that
	// sort before id (bytewise), the lowest first, and returns how many it
	// deleted. (The registry makes ids that sort by their start time.)
	DeleteUploadEndsBefore(id string, n int) (int, error)
}

// Event is one change recorded in the outbox in the same transaction as the
// change itself. Kinds: "manifest.push", "manifest.delete", "tag.delete",
// "blob.delete".
type Event struct {
	ID        int64 // assigned by the store
	Kind      string
	Repo      string
	Digest    digest.Digest
	Tag       string
	MediaType string
	Size      int64
	CreatedAt time.Time
	Actor     string // who made the change ("" when unknown)
	Addr      string // the client's address
	Detail    string // a human sentence, for kinds that need one (quota.warning)
}

type EventReader interface {
	// EventsAfter returns up to n events with ID > after, in ID order.
	EventsAfter(after int64, n int) ([]Event, error)
}

type EventWriter interface {
	AppendEvent(e Event) error
	// DeleteEventsBefore removes the events with an ID up to upTo that
	// were created before t, and says how many went.
	DeleteEventsBefore(upTo int64, t time.Time) (int, error)
}

// GCReader finds what garbage collection may remove.
type GCReader interface {
	// UntaggedManifests returns up to n manifests (repository, digest)
	// without a tag, created before t, after the cursor (repo, digest)
	// ("" = from the start), sorted by repository then digest.
	UntaggedManifests(before time.Time, afterRepo string, afterDigest digest.Digest, n int) ([]ManifestRef, error)
	// ManifestParents counts the manifests of repo that list d as a child.
	ManifestParents(repo string, d digest.Digest) (int, error)
	// UnreferencedLinks returns up to n blob links created before t that no
	// manifest of their repository references, after the cursor.
	UnreferencedLinks(before time.Time, afterRepo string, afterDigest digest.Digest, n int) ([]ManifestRef, error)
	// LinkReferenced reports whether a manifest of repo references blob d.
	LinkReferenced(repo string, d digest.Digest) (bool, error)
	// LinkedDigests returns which of ds any repository links.
	LinkedDigests(ds []digest.Digest) (map[digest.Digest]bool, error)
	// ManifestSeen is when TouchManifest last noted manifest d of repo
	// (zero if never, or if there is no such manifest).
	ManifestSeen(repo string, d digest.Digest) (time.Time, error)
	// OrphanReferrerTags returns up to n tags that look like the
	// referrers tag schema ("sha256-" and 64 more characters, then maybe a
	// suffix such as ".sig"; the caller checks the rest) last set before t
	// whose subject "sha256:" + those 64 characters is not in their
	// repository, after the cursor (repo, tag), sorted by repository then
	// tag.
	OrphanReferrerTags(before time.Time, afterRepo, afterTag string, n int) ([]TagRef, error)
}

// TagRef names a tag and the manifest it points at.
type TagRef struct {
	Repo      string
	Tag       string
	Digest    digest.Digest
	UpdatedAt time.Time
}

// ManifestRef names a manifest or a blob link.
type ManifestRef struct {
	Repo      string
	Digest    digest.Digest
	CreatedAt time.Time
}

// Locker serialises the changes that concern the same digests across
// transactions (PostgreSQL); a no-op where writers run one at a time.
type Locker interface {
	// LockDigests takes locks on ds, held until the transaction ends.
	LockDigests(ds ...digest.Digest) error
}

// LeaseWriter hands out named, expiring leases: the way a cluster of berth
// nodes runs a scheduled job on one node at a time. A lease held by a node
// that dies simply expires.
type LeaseWriter interface {
	// AcquireLease takes the lease name for holder until now+ttl when it is
	// free, expired (at now), or already held by holder (a renewal). It
	// reports whether holder has the lease afterwards.
	AcquireLease(name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(name, holder string) error
}
