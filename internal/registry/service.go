package registry

import (
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// Options tune the service.
type Options struct {
	// MaxBlobSize refuses larger blobs (0 = unlimited).
	MaxBlobSize int64
	// ManifestMaxSize refuses larger manifests.
	ManifestMaxSize int64
	// ListMaxEntries clamps the page size of tag lists and the catalog.
	ListMaxEntries int
	// RedirectTTL, when positive, answers blob GETs with a redirect to a
	// URL the blob store signs for that long (stores that can, like S3).
	RedirectTTL time.Duration
	// CacheSize bounds the bytes of manifests kept in memory for pulls
	// (0 = no cache). Only for a single process that sees every write.
	CacheSize int64
	// Now is the clock (tests may replace it).
	Now func() time.Time
	// Tags, when set, is asked before a tag moves or goes (immutable tags).
	Tags TagPolicy
	// LinkRefresh, when positive, is the age after which a blob link a
	// client asks about (HEAD, GET) is refreshed: the client may now
	// reference the blob without uploading it, so garbage collection's
	// grace period must start again (half of gc.grace).
	LinkRefresh time.Duration
	// Upstream, when set, makes proxy projects pull-through caches of
	// their upstream registries (see proxy.go).
	Upstream Upstream
	// UpstreamTimeout bounds an upstream request a client waits for
	// (default 30 s).
	UpstreamTimeout time.Duration
	// SpoolDir holds the blobs being fetched from upstreams while clients
	// read them (default: the system's temporary directory).
	SpoolDir string
	// UploadMaxAge is the age after which upload sessions are purged
	// (default 24 h); ids of sessions without a row expire with it.
	UploadMaxAge time.Duration
}

// uploadMaxAge is Options.UploadMaxAge or its default.
func (s *Service) uploadMaxAge() time.Duration {
	if s.opts.UploadMaxAge > 0 {
		return s.opts.UploadMaxAge
	}
	return 24 * time.Hour
}

// TagPolicy decides whether a tag may change: the admission check the core
// declares for tag rules (internal/policy implements it).
type TagPolicy interface {
	// ImmutableRule returns the rule that makes tag of repo immutable
	// ("" when none), reading in the change's own transaction.
	ImmutableRule(r meta.Reader, repo, tag string) (string, error)
}

// Service implements the registry operations over a blob store and a
// metadata index.
type Service struct {
	blobs blob.Store
	meta  meta.Store
	opts  Options
	log   *slog.Logger
	cache *manifestCache
	locks [64]sync.Mutex // serialise writes to one upload session within a process
	quar  quarantine
	// flights coalesces concurrent upstream manifest requests; fills the
	// blob downloads (pull-through cache).
	flights flightGroup
	fills   fills
}

// New returns a service.
func New(blobs blob.Store, md meta.Store, opts Options, log *slog.Logger) *Service {
	if opts.ManifestMaxSize <= 0 {
		opts.ManifestMaxSize = 4 << 20
	}
	if opts.ListMaxEntries <= 0 {
		opts.ListMaxEntries = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{blobs: blobs, meta: md, opts: opts, log: log, cache: newManifestCache(opts.CacheSize)}
}

// ManifestMaxSize is the largest manifest accepted, in bytes.
func (s *Service) ManifestMaxSize() int64 { return s.opts.ManifestMaxSize }

func (s *Service) lockUpload(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// storageErr turns a blob store failure into the error a client sees.
func storageErr(err error) error {
	if errors.Is(err, blob.ErrNoSpace) {
		return errcode.StorageFull.Errorf("the registry's storage is full; nothing was stored")
	}
	return err
}
