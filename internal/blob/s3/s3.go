package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
)

// Part sizes: S3 refuses parts below 5 MiB (but the last) and above 5 GiB.
const (
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	DefaultPartSize = 16 << 20
	// DefaultMaxConcurrency bounds the requests in flight when the
	// configuration does not.
	DefaultMaxConcurrency = 64
	// maxCopySize is the largest object a single CopyObject may copy.
	maxCopySize = 5 << 30
)

// Config says where the store lives and how to talk to it.
type Config struct {
	// Endpoint is host[:port], or a URL whose scheme (http or https) then
	// decides Insecure, e.g. "s3.eu-west-1.amazonaws.com" or
	// "http://127.0.0.1:7070".
	Endpoint string
	// Region; empty lets the client ask the bucket for its location.
	Region string
	Bucket string
	// Prefix is prepended to every key (e.g. "berth/"); may be empty.
	Prefix string
	// AccessKey and SecretKey; when both are empty the standard AWS
	// environment variables (AWS_ACCESS_KEY_ID, …) and the shared
	// credentials file are used.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// UsePathStyle addresses the bucket as endpoint/bucket rather than
	// bucket.endpoint (what MinIO, versitygw and most non-AWS stores need).
	UsePathStyle bool
	// Insecure talks plain HTTP.
	Insecure bool
	// MaxConcurrency bounds the requests to the store in flight at once
	// (0: DefaultMaxConcurrency).
	MaxConcurrency int
	// PartSize is the multipart part size for uploads (0: DefaultPartSize;
	// at least MinPartSize). An upload keeps the part size it started with.
	PartSize int64
}

// normalize fills defaults and checks the values.
func (c Config) normalize() (Config, error) {
	if c.Endpoint == "" {
		return c, errors.New("blob/s3: no endpoint")
	}
	if strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			return c, fmt.Errorf("blob/s3: endpoint: %w", err)
		}
		switch u.Scheme {
		case "http":
			c.Insecure = true
		case "https":
			c.Insecure = false
		default:
			return c, fmt.Errorf("blob/s3: endpoint %q: scheme must be http or https", c.Endpoint)
		}
		if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return c, fmt.Errorf("blob/s3: endpoint %q must be a scheme and host[:port] only", c.Endpoint)
		}
		c.Endpoint = u.Host
	}
	if c.Bucket == "" {
		return c, errors.New("blob/s3: no bucket")
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return c, errors.New("blob/s3: set both access key and secret key, or neither")
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Prefix != "" {
		c.Prefix += "/"
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.MaxConcurrency < 0 {
		return c, fmt.Errorf("blob/s3: max concurrency %d is negative", c.MaxConcurrency)
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		return c, fmt.Errorf("blob/s3: part size %d outside [%d, %d]", c.PartSize, MinPartSize, MaxPartSize)
	}
	return c, nil
}

// Store is a blob.Store on an S3 bucket.
type Store struct {
	cfg    Config
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
}

var _ blob.Store = (*Store)(nil)

// New connects to the bucket and checks that it exists.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		})
	}
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("blob/s3: %w", err)
	}
	lookup := minio.BucketLookupAuto
	if cfg.UsePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !cfg.Insecure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    newLimiter(tr, cfg.MaxConcurrency),
	})
	if err != nil {
		return nil, fmt.Errorf("blob/s3: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		client: client,
		core:   minio.Core{Client: client},
		bucket: cfg.Bucket,
		prefix: cfg.Prefix,
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob/s3: bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob/s3: bucket %q does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	return s, nil
}

// Config returns the store's configuration with defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// limiter is an http.RoundTripper that lets at most n requests wait for
// their response at once. A request holds its slot until the response
// headers (or an error) arrive, not while its body is read, so a reader
// that streams a blob slowly never starves other requests (and a caller
// holding two readers cannot deadlock).
type limiter struct {
	next http.RoundTripper
	sem  chan struct{}
}

func newLimiter(next http.RoundTripper, n int) *limiter {
	return &limiter{next: next, sem: make(chan struct{}, n)}
}

func (l *limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case l.sem <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	defer func() { <-l.sem }()
	return l.next.RoundTrip(req)
}

// S3 error codes the driver maps onto blob errors.
const (
	codeNoSuchKey    = "NoSuchKey"
	codeNotFound     = "NotFound"
	codeNoSuchUpload = "NoSuchUpload"
)

// s3Error returns the S3 error response err carries, if any.
func s3Error(err error) (minio.ErrorResponse, bool) {
	var r minio.ErrorResponse
	ok := errors.As(err, &r)
	return r, ok
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool {
	r, ok := s3Error(err)
	if !ok {
		return false
	}
	switch r.Code {
	case codeNoSuchKey, codeNotFound:
		return true
	case codeNoSuchUpload, "NoSuchBucket":
		return false
	}
	return r.StatusCode == http.StatusNotFound
}

func isNoSuchUpload(err error) bool {
	r, ok := s3Error(err)
	return ok && r.Code == codeNoSuchUpload
}

// Stat returns the blob's size and modification time.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.blobKey(alg, hex), minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
		}
		return blob.Info{}, fmt.Errorf("blob/s3: stat %s: %w", d, err)
	}
	return blob.Info{Digest: d, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Open returns a reader over the blob. The reader (minio-go's *Object)
// fetches ranges lazily and supports Seek.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Reader, error) {
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return nil, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.blobKey(alg, hex), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("blob/s3: open %s: %w", d, err)
	}
	// The first request happens here, so a missing blob fails Open.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
		}
		return nil, fmt.Errorf("blob/s3: open %s: %w", d, err)
	}
	return obj, nil
}

// URL returns a presigned GET URL for the blob, valid for ttl, for clients
// to be redirected to. It checks that the blob exists first.
func (s *Store) URL(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error) {
	if _, err := s.Stat(ctx, d); err != nil {
		return "", err
	}
	alg, hex, _ := blob.SplitDigest(d)
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.blobKey(alg, hex), ttl, nil)
	if err != nil {
		return "", fmt.Errorf("blob/s3: presign %s: %w", d, err)
	}
	return u.String(), nil
}

// Delete removes a blob. S3 deletes are idempotent, so the blob is looked
// up first to report ErrNotFound.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if _, err := s.Stat(ctx, d); err != nil {
		return err
	}
	alg, hex, _ := blob.SplitDigest(d)
	if err := s.client.RemoveObject(ctx, s.bucket, s.blobKey(alg, hex), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob/s3: delete %s: %w", d, err)
	}
	return nil
}

// Walk lists every object under blobs/ and reports those whose key is a
// well-formed blob key.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + blobsDir, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("blob/s3: walk: %w", oi.Err)
		}
		d, ok := s.parseBlobKey(oi.Key)
		if !ok {
			continue
		}
		if err := fn(blob.Info{Digest: d, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}
