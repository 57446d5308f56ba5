package s3_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/s3"
)

// The tests need an S3 server: scripts/lib/s3.sh's start_s3 starts one and
// exports these variables. Without them the tests skip, unless
// BERTH_REQUIRE_S3=1 (CI) makes that a failure.
const (
	envEndpoint = "BERTH_TEST_S3_ENDPOINT"
	envAccess   = "BERTH_TEST_S3_ACCESS_KEY"
	envSecret   = "BERTH_TEST_S3_SECRET_KEY"
	envBucket   = "BERTH_TEST_S3_BUCKET"
	envRegion   = "BERTH_TEST_S3_REGION"
	envRequire  = "BERTH_REQUIRE_S3"
)

// serverConfig returns the test server's configuration under a fresh random
// prefix, creating the bucket if needed, and removes everything under the
// prefix when the test ends.
func serverConfig(t *testing.T) s3.Config {
	t.Helper()
	cfg := s3.Config{
		Endpoint:     os.Getenv(envEndpoint),
		AccessKey:    os.Getenv(envAccess),
		SecretKey:    os.Getenv(envSecret),
		Bucket:       os.Getenv(envBucket),
		Region:       os.Getenv(envRegion),
		UsePathStyle: true,
		Insecure:     true,
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" || cfg.Bucket == "" {
		msg := "no S3 server: set " + envEndpoint + ", " + envAccess + ", " + envSecret + " and " + envBucket +
			" (scripts/lib/s3.sh: start_s3 does)"
		if os.Getenv(envRequire) == "1" {
			t.Fatal(msg + "; " + envRequire + "=1")
		}
		t.Skip(msg)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	var b [6]byte
	crand.Read(b[:])
	cfg.Prefix = "test-" + hex.EncodeToString(b[:]) + "/"
	c := rawClient(t, cfg)
	ctx := context.Background()
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		t.Fatalf("BucketExists: %v", err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			t.Fatalf("MakeBucket: %v", err)
		}
	}
	t.Cleanup(func() { clearPrefix(t, c, cfg) })
	return cfg
}

// rawClient is a plain minio client on the test server, to look behind the
// driver's back.
func rawClient(t *testing.T, cfg s3.Config) minio.Core {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatalf("minio.New: %v", err)
	}
	return minio.Core{Client: c}
}

func clearPrefix(t *testing.T, c minio.Core, cfg s3.Config) {
	ctx := context.Background()
	for _, m := range multipartUploads(t, c, cfg) {
		c.AbortMultipartUpload(ctx, cfg.Bucket, m.Key, m.UploadID)
	}
	for oi := range c.Client.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix, Recursive: true}) {
		if oi.Err == nil {
			c.RemoveObject(ctx, cfg.Bucket, oi.Key, minio.RemoveObjectOptions{})
		}
	}
}

func multipartUploads(t *testing.T, c minio.Core, cfg s3.Config) []minio.ObjectMultipartInfo {
	t.Helper()
	res, err := c.ListMultipartUploads(context.Background(), cfg.Bucket, cfg.Prefix, "", "", "", 1000)
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	return res.Uploads
}

func objectKeys(t *testing.T, c minio.Core, cfg s3.Config, under string) []string {
	t.Helper()
	var keys []string
	for oi := range c.Client.ListObjects(context.Background(), cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix + under, Recursive: true}) {
		if oi.Err != nil {
			t.Fatalf("ListObjects: %v", oi.Err)
		}
		keys = append(keys, strings.TrimPrefix(oi.Key, cfg.Prefix))
	}
	return keys
}

func open(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := serverConfig(t)
		cfg.MaxConcurrency = 16
		return open(t, cfg)
	}, blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store {
		return open(t, s.(*s3.Store).Config())
	}))
}

// TestConformanceSmallParts runs the suite with the smallest part size, so
// its 8 MiB upload crosses part boundaries.
func TestConformanceSmallParts(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	blobtest.Run(t, func(t *testing.T) blob.Store {
		cfg := serverConfig(t)
		cfg.PartSize = s3.MinPartSize
		return open(t, cfg)
	}, blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store {
		return open(t, s.(*s3.Store).Config())
	}))
}

func randBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

const mib = 1 << 20

func mustWrite(t *testing.T, s blob.Store, id string, off int64, p []byte) {
	t.Helper()
	n, err := s.WriteUpload(context.Background(), id, off, bytes.NewReader(p))
	if err != nil || n != int64(len(p)) {
		t.Fatalf("WriteUpload(%q, %d, %d bytes) = %d, %v", id, off, len(p), n, err)
	}
}

func mustRead(t *testing.T, s blob.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return b
}

func uploadSize(t *testing.T, s blob.Store, id string) int64 {
	t.Helper()
	size := int64(-1)
	err := s.WalkUploads(context.Background(), func(u blob.UploadInfo) error {
		if u.ID == id {
			size = u.Size
		}
		return nil
	})
	if err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	return size
}

// TestChunksAcrossParts writes 23 MiB in 3 MiB chunks with 5 MiB parts,
// alternating between two stores as two nodes would, and checks that the
// multipart upload carries the data and vanishes with the commit.
func TestChunksAcrossParts(t *testing.T) {
	ctx := context.Background()
	cfg := serverConfig(t)
	cfg.PartSize = s3.MinPartSize
	a, b := open(t, cfg), open(t, cfg)
	raw := rawClient(t, cfg)
	data := randBytes(1, 23*mib)
	const id = "across"
	if err := a.CreateUpload(ctx, id); err != nil {
		t.Fatal(err)
	}
	nodes := []*s3.Store{a, b}
	for i, off := 0, 0; off < len(data); i, off = i+1, off+3*mib {
		end := min(off+3*mib, len(data))
		mustWrite(t, nodes[i%2], id, int64(off), data[off:end])
		if got := uploadSize(t, nodes[(i+1)%2], id); got != int64(end) {
			t.Fatalf("after chunk %d the other node sees %d bytes, want %d", i, got, end)
		}
	}
	if m := multipartUploads(t, raw, cfg); len(m) != 1 {
		t.Fatalf("%d multipart uploads in progress, want 1", len(m))
	}
	d := digest.FromBytes(data)
	if err := b.CommitUpload(ctx, id, d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	if !bytes.Equal(mustRead(t, a, d), data) {
		t.Fatal("committed blob differs from the data written")
	}
	if m := multipartUploads(t, raw, cfg); len(m) != 0 {
		t.Errorf("multipart uploads left after commit: %v", m)
	}
	if keys := objectKeys(t, raw, cfg, "uploads/"); len(keys) != 0 {
		t.Errorf("upload objects left after commit: %v", keys)
	}
}

// TestRewind rewrites from earlier offsets: inside the current tail, at the
// start of the last write (its checkpoint), and inside a part that no tail
// covers (the slow path).
func TestRewind(t *testing.T) {
	cases := []struct {
		name   string
		writes []int // chunk sizes in MiB, written in order
		offset int64 // then a write of 2 MiB + 7 bytes from here
		// cheap: the rewrite must not restart the multipart upload (the
		// retry of the last write restarts from its checkpoint tail)
		cheap bool
	}{
		{"inside tail", []int{12}, 11*mib + 5, true},
		{"retry last chunk", []int{7, 6}, 7 * mib, true},
		{"retry last chunk at boundary", []int{5, 6}, 5 * mib, true},
		{"retry first chunk", []int{12}, 0, true},
		{"into first part", []int{12}, 3*mib + 1, false},
		{"into second part after two writes", []int{4, 9}, 6 * mib, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := serverConfig(t)
			cfg.PartSize = s3.MinPartSize
			s := open(t, cfg)
			id := "rewind"
			if err := s.CreateUpload(ctx, id); err != nil {
				t.Fatal(err)
			}
			var data []byte
			for j, mb := range c.writes {
				chunk := randBytes(uint64(10*i+j), mb*mib)
				mustWrite(t, s, id, int64(len(data)), chunk)
				data = append(data, chunk...)
			}
			raw := rawClient(t, cfg)
			before := multipartUploads(t, raw, cfg)
			retry := randBytes(uint64(100+i), 2*mib+7)
			mustWrite(t, s, id, c.offset, retry)
			after := multipartUploads(t, raw, cfg)
			if len(before) != 1 || len(after) != 1 {
				t.Fatalf("multipart uploads before/after the rewrite: %d/%d, want 1/1", len(before), len(after))
			}
			if restarted := before[0].UploadID != after[0].UploadID; restarted == c.cheap {
				t.Errorf("multipart upload restarted: %v, want %v", restarted, !c.cheap)
			}
			want := append(data[:c.offset:c.offset], retry...)
			if got := uploadSize(t, s, id); got != int64(len(want)) {
				t.Fatalf("upload holds %d bytes after the rewrite, want %d", got, len(want))
			}
			// A reopened store sees the same upload and commits it.
			other := open(t, cfg)
			d := digest.FromBytes(want)
			if err := other.CommitUpload(ctx, id, d, int64(len(want))); err != nil {
				t.Fatalf("CommitUpload: %v", err)
			}
			if got := mustRead(t, s, d); !bytes.Equal(got, want) {
				t.Fatalf("blob holds %d bytes (%s), want %d (%s)", len(got), digest.FromBytes(got), len(want), d)
			}
		})
	}
}

// TestAbortRemovesMultipart checks that aborting an upload with parts
// aborts its multipart upload and leaves no objects.
func TestAbortRemovesMultipart(t *testing.T) {
	ctx := context.Background()
	cfg := serverConfig(t)
	cfg.PartSize = s3.MinPartSize
	s := open(t, cfg)
	raw := rawClient(t, cfg)
	if err := s.CreateUpload(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, "gone", 0, randBytes(3, 12*mib))
	if m := multipartUploads(t, raw, cfg); len(m) != 1 {
		t.Fatalf("%d multipart uploads before abort, want 1", len(m))
	}
	if err := open(t, cfg).AbortUpload(ctx, "gone"); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	if m := multipartUploads(t, raw, cfg); len(m) != 0 {
		t.Errorf("multipart uploads after abort: %v", m)
	}
	if keys := objectKeys(t, raw, cfg, ""); len(keys) != 0 {
		t.Errorf("objects left after abort: %v", keys)
	}
	if err := s.AbortUpload(ctx, "gone"); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("second AbortUpload error = %v, want ErrUploadNotFound", err)
	}
}

// TestOrphanedMultipart checks that a multipart upload whose upload has no
// objects left (a node died at the wrong moment) is reported by WalkUploads
// and removed by AbortUpload, as the purger does.
func TestOrphanedMultipart(t *testing.T) {
	ctx := context.Background()
	cfg := serverConfig(t)
	s := open(t, cfg)
	raw := rawClient(t, cfg)
	if _, err := raw.NewMultipartUpload(ctx, cfg.Bucket, cfg.Prefix+"uploads/orphan/data", minio.PutObjectOptions{}); err != nil {
		t.Fatalf("NewMultipartUpload: %v", err)
	}
	// Not every multipart upload is ours to report.
	if _, err := raw.NewMultipartUpload(ctx, cfg.Bucket, cfg.Prefix+"uploads/other/unrelated", minio.PutObjectOptions{}); err != nil {
		t.Fatalf("NewMultipartUpload: %v", err)
	}
	var seen []blob.UploadInfo
	if err := s.WalkUploads(ctx, func(u blob.UploadInfo) error { seen = append(seen, u); return nil }); err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	if len(seen) != 1 || seen[0].ID != "orphan" || seen[0].ModTime.IsZero() {
		t.Fatalf("WalkUploads = %+v, want just the orphan with a ModTime", seen)
	}
	if err := s.AbortUpload(ctx, "orphan"); err != nil {
		t.Fatalf("AbortUpload(orphan): %v", err)
	}
	for _, m := range multipartUploads(t, raw, cfg) {
		if strings.Contains(m.Key, "orphan") {
			t.Errorf("orphaned multipart upload %s survived the abort", m.Key)
		}
	}
}

// TestReadUpload reads uploads back, small (tail only) and across parts.
func TestReadUpload(t *testing.T) {
	for _, c := range []struct {
		name       string
		size, read int
	}{
		{"tail only", 3000, 2500},
		{"across parts", 12*mib + 9, 12*mib + 9},
		{"prefix of parts", 12 * mib, 7*mib + 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := serverConfig(t)
			cfg.PartSize = s3.MinPartSize
			s := open(t, cfg)
			data := randBytes(uint64(c.size), c.size)
			if err := s.CreateUpload(ctx, "read"); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, s, "read", 0, data)
			rc, err := s.ReadUpload(ctx, "read", int64(c.read))
			if err != nil {
				t.Fatalf("ReadUpload: %v", err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data[:c.read]) {
				t.Fatalf("ReadUpload gave %d bytes (err %v), want the first %d", len(got), err, c.read)
			}
			// The upload is intact and still continues and commits.
			mustWrite(t, s, "read", int64(c.size), []byte("more"))
			all := append(data, "more"...)
			d := digest.FromBytes(all)
			if err := s.CommitUpload(ctx, "read", d, int64(len(all))); err != nil {
				t.Fatalf("CommitUpload: %v", err)
			}
			if !bytes.Equal(mustRead(t, s, d), all) {
				t.Fatal("committed blob differs")
			}
		})
	}
}

// TestPresignedURL fetches a blob through its presigned URL.
func TestPresignedURL(t *testing.T) {
	ctx := context.Background()
	s := open(t, serverConfig(t))
	data := []byte("redirect me")
	if err := s.CreateUpload(ctx, "url"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, s, "url", 0, data)
	d := digest.FromBytes(data)
	if err := s.CommitUpload(ctx, "url", d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	u, err := s.URL(ctx, d, time.Minute)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET presigned URL: %s, %q", resp.Status, got)
	}
	if _, err := s.URL(ctx, digest.FromString("absent"), time.Minute); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("URL(absent) error = %v, want ErrNotFound", err)
	}
}

// TestConfig checks the configuration rules, with no server.
func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  s3.Config
		want string
	}{
		{"no endpoint", s3.Config{Bucket: "b"}, "no endpoint"},
		{"no bucket", s3.Config{Endpoint: "127.0.0.1:1"}, "no bucket"},
		{"bad scheme", s3.Config{Endpoint: "ftp://x", Bucket: "b"}, "scheme"},
		{"path in endpoint", s3.Config{Endpoint: "http://x/y", Bucket: "b"}, "host[:port] only"},
		{"half credentials", s3.Config{Endpoint: "x", Bucket: "b", AccessKey: "a"}, "both"},
		{"small parts", s3.Config{Endpoint: "x", Bucket: "b", PartSize: 1 << 20}, "part size"},
		{"negative concurrency", s3.Config{Endpoint: "x", Bucket: "b", MaxConcurrency: -1}, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s3.New(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
