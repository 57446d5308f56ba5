package registry

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// imageBody is an image manifest naming config cfg and the given layers.
func imageBody(cfg []byte, layers ...[]byte) []byte {
	var b strings.Builder
	b.WriteString(`{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromBytes(cfg).String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[`)
	for i, l := range layers {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + digest.FromBytes(l).String() + `","size":` + strconv.Itoa(len(l)) + `}`)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func setQuota(t *testing.T, st stores, project string, quota int64) {
	t.Helper()
	err := st.meta.Update(context.Background(), func(tx meta.Tx) error {
		if _, err := tx.Project(project); errors.Is(err, meta.ErrNotFound) {
			return tx.CreateProject(meta.Project{Name: project, Quota: quota})
		}
		return tx.SetProjectQuota(project, quota)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func usageOf(t *testing.T, st stores, project string) int64 {
	t.Helper()
	var n int64
	if err := st.meta.View(context.Background(), func(r meta.Reader) error {
		var err error
		n, err = r.ProjectUsage(project)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantDenied(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if codeOf(err) != "DENIED" || !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: err = %v, want DENIED containing %q", what, err, contains)
	}
}

func TestQuotaRefusesPushes(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	svc := st.service(Options{})
	cfg, l1, l2 := []byte("{}"), randomBytes(t, 600), randomBytes(t, 500)
	first := imageBody(cfg, l1)
	second := imageBody(cfg, l1, l2)
	firstSize := int64(len(cfg)+len(l1)) + int64(len(first))
	setQuota(t, st, "team", firstSize+100) // room for the first image and a little

	for _, b := range [][]byte{cfg, l1} {
		pushBlob(t, svc, "team/app", b)
	}
	if _, err := svc.PutManifest(ctx, "team/app", Reference{Tag: "v1"}, ociManifest, first, nil); err != nil {
		t.Fatalf("push under the quota: %v", err)
	}
	if got := usageOf(t, st, "team"); got != firstSize {
		t.Fatalf("usage after the first push = %d, want %d", got, firstSize)
	}

	t.Run("a blob sent whole over the quota is not stored", func(t *testing.T) {
		_, err := svc.PutBlob(ctx, "team/app", digest.FromBytes(l2), int64(len(l2)), bytes.NewReader(l2))
		wantDenied(t, "PutBlob", err, "quota exceeded: project team would use")
		if _, err := st.blobs.Stat(ctx, digest.FromBytes(l2)); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("refused blob is in the blob store: %v", err)
		}
	})
	t.Run("a blob the project holds passes over the quota", func(t *testing.T) {
		if _, err := svc.PutBlob(ctx, "team/other", digest.FromBytes(l1), int64(len(l1)), bytes.NewReader(l1)); err != nil {
			t.Fatalf("PutBlob of a counted blob: %v", err)
		}
	})
	t.Run("a finished upload over the quota is discarded", func(t *testing.T) {
		up, err := svc.StartUpload(ctx, "team/app", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.FinishUpload(ctx, "team/app", up.ID, digest.FromBytes(l2), int64(len(l2)), bytes.NewReader(l2))
		wantDenied(t, "FinishUpload", err, "quota exceeded: project team would use")
		if _, err := svc.UploadStatus(ctx, "team/app", up.ID); codeOf(err) != "BLOB_UPLOAD_UNKNOWN" {
			t.Errorf("upload session after the refusal: %v", err)
		}
		if _, err := st.blobs.Stat(ctx, digest.FromBytes(l2)); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("refused upload is in the blob store: %v", err)
		}
	})
	t.Run("a manifest that takes usage over is refused in its transaction", func(t *testing.T) {
		setQuota(t, st, "team", 0)
		pushBlob(t, svc, "team/app", l2) // no quota: stored
		setQuota(t, st, "team", firstSize+100)
		_, err := svc.PutManifest(ctx, "team/app", Reference{Tag: "v2"}, ociManifest, second, nil)
		wantDenied(t, "PutManifest", err, "quota exceeded: project team would use")
		if got := usageOf(t, st, "team"); got != firstSize {
			t.Errorf("usage after the refused push = %d, want %d", got, firstSize)
		}
		if _, err := svc.GetManifest(ctx, "team/app", Reference{Tag: "v2"}); codeOf(err) != "MANIFEST_UNKNOWN" {
			t.Errorf("refused manifest is there: %v", err)
		}
	})
	t.Run("pushes that add nothing pass over the quota", func(t *testing.T) {
		setQuota(t, st, "team", 10) // far below usage
		if _, err := svc.PutManifest(ctx, "team/app", Reference{Tag: "again"}, ociManifest, first, []string{"latest"}); err != nil {
			t.Fatalf("re-tag over the quota: %v", err)
		}
		for _, b := range [][]byte{cfg, l1} {
			pushBlob(t, svc, "team/copy", b)
		}
		if _, err := svc.PutManifest(ctx, "team/copy", Reference{Tag: "v1"}, ociManifest, first, nil); err != nil {
			t.Fatalf("the same image in another repository of the project: %v", err)
		}
		if got := usageOf(t, st, "team"); got != firstSize {
			t.Errorf("usage = %d, want %d", got, firstSize)
		}
	})
	t.Run("no upload starts at the quota", func(t *testing.T) {
		_, err := svc.StartUpload(ctx, "team/app", "")
		wantDenied(t, "StartUpload", err, "quota exceeded: project team uses")
	})
	t.Run("deletes make room again", func(t *testing.T) {
		setQuota(t, st, "team", firstSize+100)
		for _, repo := range []string{"team/app", "team/copy"} {
			if err := svc.DeleteManifest(ctx, repo, Reference{Digest: digest.FromBytes(first)}); err != nil {
				t.Fatal(err)
			}
		}
		if got := usageOf(t, st, "team"); got != 0 {
			t.Fatalf("usage after the deletes = %d, want 0", got)
		}
		if _, err := svc.StartUpload(ctx, "team/app", ""); err != nil {
			t.Errorf("StartUpload after the deletes: %v", err)
		}
	})
	t.Run("a project without a row has no quota", func(t *testing.T) {
		for _, b := range [][]byte{cfg, l1, l2} {
			pushBlob(t, svc, "free/app", b)
		}
		if _, err := svc.PutManifest(ctx, "free/app", Reference{Tag: "v1"}, ociManifest, second, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"}, {10<<20 - 1, "9.9 MiB"},
		{10 << 20, "10 MiB"}, {10<<30 - 200<<20, "9.8 GiB"}, {5 << 40, "5 TiB"}, {-2048, "-2 KiB"}, {1<<63 - 1, "7.9 EiB"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := FormatBytes(c.n); got != c.want {
				t.Errorf("FormatBytes(%d) = %q, want %q", c.n, got, c.want)
			}
		})
	}
}

func TestQuotaMessageShowsBytesWhenRoundedAlike(t *testing.T) {
	err := quotaExceeded("team", 10<<20+1, 9<<20, 10<<20)
	want := "quota exceeded: project team would use 10 MiB (10485761 bytes) of 10 MiB (10485760 bytes) (uses 9 MiB)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message = %q, want it to contain %q", err.Error(), want)
	}
}

func TestQuotaWarning(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	svc := st.service(Options{})
	cfg := []byte("{}")
	layers := [][]byte{randomBytes(t, 3000), randomBytes(t, 3000), randomBytes(t, 3000)}
	setQuota(t, st, "team", 12000)
	warnings := func() []meta.Event {
		t.Helper()
		var out []meta.Event
		if err := st.meta.View(ctx, func(r meta.Reader) error {
			evs, err := r.EventsAfter(0, 0)
			for _, e := range evs {
				if e.Kind == meta.EventQuotaWarning {
					out = append(out, e)
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	pushBlob(t, svc, "team/app", cfg)
	for i, l := range layers {
		pushBlob(t, svc, "team/app", l)
		body := imageBody(cfg, l)
		if _, err := svc.PutManifest(ctx, "team/app", Reference{Tag: "v" + strconv.Itoa(i)}, ociManifest, body, nil); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		usage := usageOf(t, st, "team")
		ws := warnings()
		switch {
		case usage < 9600 && len(ws) != 0:
			t.Fatalf("at %d bytes of 12000 a warning came: %+v", usage, ws)
		case usage >= 9600 && len(ws) != 1: // once, at the crossing
			t.Fatalf("at %d bytes of 12000: %d warnings, want 1", usage, len(ws))
		case len(ws) == 1 && (ws[0].Repo != "team/app" || ws[0].Size != usage ||
			!strings.Contains(ws[0].Detail, "project team uses") || !strings.Contains(ws[0].Detail, "%")):
			t.Fatalf("warning = %+v", ws[0])
		}
	}
	if len(warnings()) != 1 {
		t.Fatal("the warning did not come when usage crossed 80%")
	}
}
