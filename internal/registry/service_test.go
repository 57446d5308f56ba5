package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/blob/mem"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

type stores struct {
	blobs blob.Store
	meta  meta.Store
}

func newStores(t *testing.T) stores {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	return stores{blobs: mem.New(), meta: md}
}

func (s stores) service(opts Options) *Service {
	return New(s.blobs, s.meta, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func codeOf(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e.Code.Name
	}
	return ""
}

func TestUploadResumesInAnotherProcess(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	data := randomBytes(t, 3<<20+17)
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		t.Run(string(alg), func(t *testing.T) {
			first := st.service(Options{})
			up, err := first.StartUpload(ctx, "a/b", alg)
			if err != nil {
				t.Fatal(err)
			}
			half := int64(len(data) / 2)
			if up, err = first.WriteUpload(ctx, "a/b", up.ID, 0, half, bytes.NewReader(data[:half])); err != nil || up.Offset != half {
				t.Fatalf("first chunk: %+v, %v", up, err)
			}
			// A second service over the same stores (another node, or this
			// one after a restart) continues from the saved hash state.
			second := st.service(Options{})
			st2, err := second.UploadStatus(ctx, "a/b", up.ID)
			if err != nil || st2.Offset != half {
				t.Fatalf("status: %+v, %v", st2, err)
			}
			want := alg.FromBytes(data)
			info, err := second.FinishUpload(ctx, "a/b", up.ID, want, -1, bytes.NewReader(data[half:]))
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest != want || info.Size != int64(len(data)) {
				t.Fatalf("info = %+v", info)
			}
			if _, err := second.StatBlob(ctx, "a/b", want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUploadErrors(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	svc := st.service(Options{MaxBlobSize: 1000})
	data := randomBytes(t, 600)

	t.Run("out of order chunk is 416", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		_, err := svc.WriteUpload(ctx, "r", up.ID, 5, 10, bytes.NewReader(data[:10]))
		var e *errcode.Error
		if !errors.As(err, &e) || e.HTTPStatus() != 416 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("upload of another repository is unknown", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		if _, err := svc.UploadStatus(ctx, "other", up.ID); codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong digest is refused and the session dropped", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		_, err := svc.FinishUpload(ctx, "r", up.ID, digest.FromString("other"), -1, bytes.NewReader(data))
		if codeOf(err) != "DIGEST_INVALID" {
			t.Fatalf("err = %v", err)
		}
		if _, err := svc.UploadStatus(ctx, "r", up.ID); codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("session still there: %v", err)
		}
	})
	t.Run("sha512 digest on a session hashed with sha256", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		want := digest.SHA512.FromBytes(data)
		if _, err := svc.FinishUpload(ctx, "r", up.ID, want, -1, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.StatBlob(ctx, "r", want); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("declared size over the maximum", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		_, err := svc.WriteUpload(ctx, "r", up.ID, -1, 2000, bytes.NewReader(randomBytes(t, 2000)))
		var e *errcode.Error
		if !errors.As(err, &e) || e.HTTPStatus() != 413 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("streamed size over the maximum", func(t *testing.T) {
		up, _ := svc.StartUpload(ctx, "r", "")
		if _, err := svc.WriteUpload(ctx, "r", up.ID, -1, -1, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		_, err := svc.WriteUpload(ctx, "r", up.ID, -1, -1, bytes.NewReader(data))
		var e *errcode.Error
		if !errors.As(err, &e) || e.HTTPStatus() != 413 {
			t.Fatalf("err = %v", err)
		}
		if s, _ := svc.UploadStatus(ctx, "r", up.ID); s.Offset != int64(len(data)) {
			t.Fatalf("offset after refused chunk = %d", s.Offset)
		}
	})
	t.Run("upload that lost its tail in a machine crash must restart", func(t *testing.T) {
		for _, finish := range []bool{false, true} {
			up, _ := svc.StartUpload(ctx, "r", "")
			if _, err := svc.WriteUpload(ctx, "r", up.ID, -1, 10, bytes.NewReader(data[:10])); err != nil {
				t.Fatal(err)
			}
			// the driver keeps 5 of the 10 bytes the session recorded
			if _, err := st.blobs.WriteUpload(ctx, up.ID, 5, bytes.NewReader(nil)); err != nil {
				t.Fatal(err)
			}
			var err error
			if finish {
				_, err = svc.FinishUpload(ctx, "r", up.ID, digest.FromBytes(data[:10]), 0, bytes.NewReader(nil))
			} else {
				_, err = svc.WriteUpload(ctx, "r", up.ID, -1, 5, bytes.NewReader(data[10:15]))
			}
			if codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
				t.Fatalf("finish=%v: err = %v", finish, err)
			}
			if _, err := svc.UploadStatus(ctx, "r", up.ID); codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
				t.Fatalf("finish=%v: session survived: %v", finish, err)
			}
		}
	})
	t.Run("single request put with wrong size", func(t *testing.T) {
		d := digest.FromBytes(data[:100])
		if _, err := svc.PutBlob(ctx, "r", d, 99, bytes.NewReader(data[:100])); codeOf(err) != "SIZE_INVALID" {
			t.Fatalf("err = %v", err)
		}
		if _, err := svc.StatBlob(ctx, "r", d); codeOf(err) != "BLOB_UNKNOWN" {
			t.Fatalf("blob visible after a failed put: %v", err)
		}
	})
}

func TestPurgeUploads(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	now := time.Now()
	svc := st.service(Options{Now: func() time.Time { return now }, UploadMaxAge: time.Hour})
	// a session with a row (it holds bytes) and one without (POST only)
	old, _ := svc.StartUpload(ctx, "r", "")
	if _, err := svc.WriteUpload(ctx, "r", old.ID, 0, 3, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	oldEmpty, _ := svc.StartUpload(ctx, "r", "")
	// an orphaned driver upload with no session (a crash mid single-request push)
	if err := st.blobs.CreateUpload(ctx, "orphan"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	fresh, _ := svc.StartUpload(ctx, "r", "")
	if _, err := svc.WriteUpload(ctx, "r", fresh.ID, 0, 3, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	freshEmpty, _ := svc.StartUpload(ctx, "r", "")
	// mem uploads carry wall-clock mod times; purge with a cutoff in the future of them
	n, err := svc.PurgeUploads(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("purged %d, want the stale session and the orphan", n)
	}
	for _, id := range []string{old.ID, oldEmpty.ID} {
		if _, err := svc.UploadStatus(ctx, "r", id); codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("stale session %s survived: %v", id, err)
		}
	}
	for _, id := range []string{fresh.ID, freshEmpty.ID} {
		if _, err := svc.UploadStatus(ctx, "r", id); err != nil {
			t.Fatalf("fresh session %s purged: %v", id, err)
		}
	}
}

// TestSessionsWithoutRows: a POST writes nothing; the id alone carries the
// session until bytes arrive; an ended session's id is refused, and the
// record of its end is purged once the id has expired anyway. On a store
// with PutBlob (fs) and one without (mem).
func TestSessionsWithoutRows(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		blobs func(t *testing.T) blob.Store
	}{
		{"mem", func(*testing.T) blob.Store { return mem.New() }},
		{"fs", func(t *testing.T) blob.Store {
			s, err := fs.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newStores(t)
			st.blobs = c.blobs(t)
			now := time.Now()
			svc := st.service(Options{Now: func() time.Time { return now }, UploadMaxAge: time.Hour})
			data := randomBytes(t, 70_000)
			d := digest.FromBytes(data)
			unknown := func(t *testing.T, what string, err error) {
				t.Helper()
				if codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
					t.Errorf("%s: error = %v, want BLOB_UPLOAD_UNKNOWN", what, err)
				}
			}
			start := func(t *testing.T) string {
				t.Helper()
				up, err := svc.StartUpload(ctx, "team/app", "")
				if err != nil {
					t.Fatal(err)
				}
				return up.ID
			}
			counts := func(t *testing.T) (rows, driver int) {
				t.Helper()
				if err := st.meta.View(ctx, func(r meta.Reader) (err error) { rows, err = r.CountUploads(); return err }); err != nil {
					t.Fatal(err)
				}
				if err := st.blobs.WalkUploads(ctx, func(blob.UploadInfo) error { driver++; return nil }); err != nil {
					t.Fatal(err)
				}
				return rows, driver
			}

			t.Run("POST then PUT writes no session", func(t *testing.T) {
				id := start(t)
				if rows, driver := counts(t); rows != 0 || driver != 0 {
					t.Fatalf("after POST: %d session rows, %d driver uploads; want none", rows, driver)
				}
				if up, err := svc.UploadStatus(ctx, "team/app", id); err != nil || up.Offset != 0 {
					t.Fatalf("status of a fresh session = %+v, %v", up, err)
				}
				unknown(t, "status in another repository", func() error { _, err := svc.UploadStatus(ctx, "team/other", id); return err }())
				info, err := svc.FinishUpload(ctx, "team/app", id, d, int64(len(data)), bytes.NewReader(data))
				if err != nil || info.Digest != d || info.Size != int64(len(data)) {
					t.Fatalf("PUT = %+v, %v", info, err)
				}
				if _, err := svc.StatBlob(ctx, "team/app", d); err != nil {
					t.Fatalf("blob after PUT: %v", err)
				}
				if rows, driver := counts(t); rows != 0 || driver != 0 {
					t.Errorf("after PUT: %d session rows, %d driver uploads; want none", rows, driver)
				}
				unknown(t, "status after PUT", func() error { _, err := svc.UploadStatus(ctx, "team/app", id); return err }())
				unknown(t, "PATCH after PUT", func() error {
					_, err := svc.WriteUpload(ctx, "team/app", id, -1, 1, strings.NewReader("x"))
					return err
				}())
				unknown(t, "PUT again", func() error {
					_, err := svc.FinishUpload(ctx, "team/app", id, d, int64(len(data)), bytes.NewReader(data))
					return err
				}())
			})
			t.Run("PATCH saves a row, PUT ends it", func(t *testing.T) {
				id := start(t)
				if up, err := svc.WriteUpload(ctx, "team/app", id, 0, 1000, bytes.NewReader(data[:1000])); err != nil || up.Offset != 1000 {
					t.Fatalf("PATCH = %+v, %v", up, err)
				}
				if rows, _ := counts(t); rows != 1 {
					t.Fatalf("%d session rows after the first PATCH, want 1", rows)
				}
				if up, err := svc.UploadStatus(ctx, "team/app", id); err != nil || up.Offset != 1000 {
					t.Fatalf("status = %+v, %v", up, err)
				}
				if _, err := svc.FinishUpload(ctx, "team/app", id, d, -1, bytes.NewReader(data[1000:])); err != nil {
					t.Fatalf("PUT: %v", err)
				}
				if rows, driver := counts(t); rows != 0 || driver != 0 {
					t.Errorf("after PUT: %d session rows, %d driver uploads; want none", rows, driver)
				}
				unknown(t, "status after PUT", func() error { _, err := svc.UploadStatus(ctx, "team/app", id); return err }())
			})
			t.Run("a row left behind an ended session", func(t *testing.T) {
				id := start(t)
				if _, err := svc.WriteUpload(ctx, "team/app", id, 0, 1000, bytes.NewReader(data[:1000])); err != nil {
					t.Fatalf("PATCH: %v", err)
				}
				// What a PUT on another node commits alongside this row.
				if err := st.meta.Update(ctx, func(tx meta.Tx) error { return tx.EndUpload(id) }); err != nil {
					t.Fatal(err)
				}
				unknown(t, "status", func() error { _, err := svc.UploadStatus(ctx, "team/app", id); return err }())
				unknown(t, "PATCH", func() error {
					_, err := svc.WriteUpload(ctx, "team/app", id, 1000, 1000, bytes.NewReader(data[1000:2000]))
					return err
				}())
				unknown(t, "PUT", func() error {
					_, err := svc.FinishUpload(ctx, "team/app", id, d, -1, bytes.NewReader(data[1000:]))
					return err
				}())
				// What the purge does with such a row, by age.
				if err := st.meta.Update(ctx, func(tx meta.Tx) error { return tx.DeleteUpload(id) }); err != nil {
					t.Fatal(err)
				}
				if err := st.blobs.AbortUpload(ctx, id); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("cancel", func(t *testing.T) {
				id := start(t)
				if err := svc.CancelUpload(ctx, "team/app", id); err != nil {
					t.Fatalf("DELETE of a fresh session: %v", err)
				}
				unknown(t, "DELETE again", svc.CancelUpload(ctx, "team/app", id))
				unknown(t, "PATCH after DELETE", func() error {
					_, err := svc.WriteUpload(ctx, "team/app", id, 0, 1, strings.NewReader("x"))
					return err
				}())
			})
			t.Run("wrong digest ends the session", func(t *testing.T) {
				id := start(t)
				other := digest.FromString("something else")
				if _, err := svc.FinishUpload(ctx, "team/app", id, other, int64(len(data)), bytes.NewReader(data)); codeOf(err) != "DIGEST_INVALID" {
					t.Fatalf("PUT with a wrong digest: %v", err)
				}
				if _, err := svc.StatBlob(ctx, "team/app", other); codeOf(err) != "BLOB_UNKNOWN" {
					t.Errorf("blob visible after a refused PUT: %v", err)
				}
				unknown(t, "status after a refused PUT", func() error { _, err := svc.UploadStatus(ctx, "team/app", id); return err }())
				if _, driver := counts(t); driver != 0 {
					t.Errorf("%d driver uploads after a refused PUT, want none", driver)
				}
			})
			t.Run("forged and expired ids", func(t *testing.T) {
				future := newRowlessID("team/app", digest.SHA256, now.Add(10*time.Minute))
				unknown(t, "id from the future", func() error { _, err := svc.UploadStatus(ctx, "team/app", future); return err }())
				skewed := newRowlessID("team/app", digest.SHA256, now.Add(30*time.Second))
				if _, err := svc.UploadStatus(ctx, "team/app", skewed); err != nil {
					t.Errorf("id of a node whose clock is 30 s ahead: %v", err)
				}
				bad := []byte(start(t))
				bad[17] = '2' // version 2
				unknown(t, "mangled id", func() error { _, err := svc.UploadStatus(ctx, "team/app", string(bad)); return err }())
				unknown(t, "unknown old-style id", func() error {
					_, err := svc.UploadStatus(ctx, "team/app", "0123456789abcdef0123456789abcdef")
					return err
				}())
				old := start(t)
				now = now.Add(time.Hour + time.Second)
				unknown(t, "expired id", func() error { _, err := svc.UploadStatus(ctx, "team/app", old); return err }())
			})
			t.Run("ended records are purged after the ids expire", func(t *testing.T) {
				id := start(t)
				if err := svc.CancelUpload(ctx, "team/app", id); err != nil {
					t.Fatal(err)
				}
				ended := func() bool {
					t.Helper()
					var e bool
					if err := st.meta.View(ctx, func(r meta.Reader) (err error) { e, err = r.UploadEnded(id); return err }); err != nil {
						t.Fatal(err)
					}
					return e
				}
				if !ended() {
					t.Fatalf("cancel left no record of the end")
				}
				now = now.Add(time.Hour) // the id is still accepted until now+skew: keep the record
				if _, err := svc.PurgeUploads(ctx, time.Hour); err != nil {
					t.Fatal(err)
				}
				if !ended() {
					t.Fatalf("the record went while the id could still be accepted")
				}
				now = now.Add(idClockSkew + time.Second)
				if _, err := svc.PurgeUploads(ctx, time.Hour); err != nil {
					t.Fatal(err)
				}
				if ended() {
					t.Errorf("the record outlived the id")
				}
			})
		})
	}
}

func pushBlob(t *testing.T, svc *Service, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	if _, err := svc.PutBlob(context.Background(), repo, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestManifestPushWritesEvents(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	svc := st.service(Options{})
	cfg := pushBlob(t, svc, "r", []byte("{}"))
	layer := randomBytes(t, 100)
	ld := digest.FromBytes(layer)
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfg.String() + `","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + ld.String() + `","size":100}]}`)

	if _, err := svc.PutManifest(ctx, "r", Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", body, nil); codeOf(err) != "MANIFEST_BLOB_UNKNOWN" {
		t.Fatalf("push before the layer: %v", err)
	}
	pushBlob(t, svc, "r", layer)
	res, err := svc.PutManifest(ctx, "r", Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", body, []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteManifest(ctx, "r", Reference{Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteManifest(ctx, "r", Reference{Digest: res.Digest}); err != nil {
		t.Fatal(err)
	}
	var evs []meta.Event
	_ = st.meta.View(ctx, func(r meta.Reader) error {
		var err error
		evs, err = r.EventsAfter(0, 100)
		return err
	})
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.Tag)
	}
	if got := strings.Join(kinds, ","); got != "manifest.push:v1,manifest.push:latest,tag.delete:latest,manifest.delete:" {
		t.Fatalf("events = %s", got)
	}
}
