package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// finding is what the test compares of a Finding.
func findingKeys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s %s fixed=%s", f.Severity, f.ID, f.Package, f.Version, f.FixedVersion))
	}
	slices.Sort(out)
	return out
}

// TestScanFindsExactly: images with dpkg, apk, rpm, Go and npm/Python
// package databases, against the OSV fixture: exactly the expected
// findings, no more and no fewer; each image gets its SBOM referrer.
func TestScanFindsExactly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	res, err := e.svc.Import(ctx, bytes.NewReader(osvZip(t)), "testdata")
	if err != nil || res.Records != 12 || res.Changed != 12 || res.Skipped != 0 || res.Generation != 1 {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	images := []struct {
		repo  string
		layer func(*testing.T) []byte
		pkgs  int
		want  []string
	}{
		{"os/debian", debianLayer, 3, []string{
			"CRITICAL DEBIAN-CVE-2023-45853 zlib1g 1:1.2.13.dfsg-1 fixed=",
			"MEDIUM DEBIAN-CVE-2023-5678 openssl 3.0.11-1~deb12u1 fixed=3.0.11-1~deb12u2",
		}},
		{"os/alpine", alpineLayer, 2, []string{"HIGH ALPINE-CVE-2023-6129 libcrypto3 3.1.4-r1 fixed=3.1.4-r3"}},
		{"os/rocky", rockyLayer, 2, []string{"HIGH RLSA-2024:0001 openssl-libs 1:3.0.7-24.el9 fixed=1:3.0.7-25.el9"}},
		{"lang/go", goLayer, 0, []string{"LOW BERTH-TEST-GO-0001 github.com/opencontainers/go-digest v1.0.0 fixed=1.0.1"}},
		{"lang/app", appLayer, 3, []string{
			"HIGH GHSA-35jh-r3h4-6jhm lodash 4.17.20 fixed=4.17.21",
			"MEDIUM GHSA-j8r2-6x86-q33q requests 2.25.0 fixed=2.31.0",
		}},
	}
	for _, img := range images {
		t.Run(img.repo, func(t *testing.T) {
			m := e.image(img.repo, "v1", img.layer(t))
			if ok, err := e.svc.Queue(ctx, img.repo, m.Digest, "manual"); err != nil || !ok {
				t.Fatalf("Queue = %v, %v", ok, err)
			}
			e.drain()
			st, err := e.svc.Status(ctx, img.repo, "v1")
			if err != nil {
				t.Fatal(err)
			}
			if st.State != meta.ScanDone || st.Report == nil || st.DBGeneration != 1 {
				t.Fatalf("status %+v", st)
			}
			if got := findingKeys(st.Report.Findings); !slices.Equal(got, img.want) {
				t.Errorf("findings:\n got %q\nwant %q\npackages: %+v\nwarnings: %v", got, img.want, st.Report.Packages, st.Report.Warnings)
			}
			if img.pkgs > 0 && st.Summary.Packages != img.pkgs {
				t.Errorf("%d packages, want %d: %+v", st.Summary.Packages, img.pkgs, st.Report.Packages)
			}
			if st.SBOM == "" {
				t.Fatalf("no SBOM referrer: warnings %v", st.Report.Warnings)
			}
			refs, err := e.reg.Referrers(ctx, img.repo, m.Digest, MediaTypeSPDX)
			if err != nil || len(refs) != 1 || refs[0].Digest != st.SBOM {
				t.Errorf("referrers = %+v, %v; want the SBOM %s", refs, err, st.SBOM)
			}
		})
	}
	t.Run("a scan again makes no second SBOM referrer", func(t *testing.T) {
		st, _ := e.svc.Status(ctx, "os/alpine", "v1")
		if _, err := e.svc.Queue(ctx, "os/alpine", st.Digest, "manual"); err != nil {
			t.Fatal(err)
		}
		e.drain()
		refs, _ := e.reg.Referrers(ctx, "os/alpine", st.Digest, "")
		if len(refs) != 1 {
			t.Errorf("%d referrers after a second scan, want 1", len(refs))
		}
	})
	t.Run("a newer database is matched against the stored SBOMs", func(t *testing.T) {
		rec := `{"id":"ALPINE-CVE-2099-0001","modified":"2025-01-01T00:00:00Z","database_specific":{"severity":"CRITICAL"},
			"affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"busybox"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r20"}]}]}]}`
		res, err := e.svc.Import(ctx, strings.NewReader(rec), "update")
		if err != nil || res.Changed != 1 || res.Generation != 2 {
			t.Fatalf("Import = %+v, %v", res, err)
		}
		n, err := e.svc.Rematch(ctx)
		if err != nil || n != 5 {
			t.Fatalf("Rematch = %d, %v; want the 5 images", n, err)
		}
		st, _ := e.svc.Status(ctx, "os/alpine", "v1")
		want := []string{"CRITICAL ALPINE-CVE-2099-0001 busybox 1.36.1-r15 fixed=1.36.1-r20", "HIGH ALPINE-CVE-2023-6129 libcrypto3 3.1.4-r1 fixed=3.1.4-r3"}
		if got := findingKeys(st.Report.Findings); !slices.Equal(got, want) || st.DBGeneration != 2 || st.Summary.Critical != 1 {
			t.Errorf("after the update: %q (generation %d, summary %+v)", got, st.DBGeneration, st.Summary)
		}
		if n, _ := e.svc.Rematch(ctx); n != 0 {
			t.Errorf("a second Rematch matched %d again", n)
		}
	})
}

func denied(err error) bool {
	var ce *errcode.Error
	return errors.As(err, &ce) && ce.Code == errcode.Denied
}

func TestPullPolicy(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	if _, err := e.svc.Import(ctx, bytes.NewReader(osvZip(t)), "testdata"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Update(ctx, func(tx meta.Tx) error { return tx.CreateProject(meta.Project{Name: "os"}) }); err != nil {
		t.Fatal(err)
	}
	deb := e.image("os/debian", "v1", debianLayer(t))
	never := func() bool { return false }
	if err := e.svc.AdmitPull(ctx, "os/debian", deb, never); err != nil {
		t.Fatalf("no policy: %v", err)
	}
	if _, err := e.svc.SetPolicy(ctx, meta.ScanPolicy{Project: "os", Block: "sometimes"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a bad severity: %v", err)
	}
	if _, err := e.svc.SetPolicy(ctx, meta.ScanPolicy{Project: "os", Block: "High", RequireScan: true}); err != nil {
		t.Fatal(err)
	}
	t.Run("not scanned: refused and queued", func(t *testing.T) {
		err := e.svc.AdmitPull(ctx, "os/debian", deb, never)
		if !denied(err) || !strings.Contains(err.Error(), "no completed vulnerability scan") {
			t.Fatalf("AdmitPull = %v", err)
		}
		if st, err := e.svc.Status(ctx, "os/debian", "v1"); err != nil || st.State != meta.ScanQueued || st.Reason != "pull" {
			t.Fatalf("not queued by the refusal: %+v, %v", st, err)
		}
		if err := e.svc.AdmitPull(ctx, "os/debian", deb, func() bool { return true }); err != nil {
			t.Fatalf("a pusher: %v", err)
		}
	})
	e.drain()
	t.Run("a critical finding refuses it, naming it", func(t *testing.T) {
		err := e.svc.AdmitPull(ctx, "os/debian", deb, never)
		if !denied(err) || !strings.Contains(err.Error(), "DEBIAN-CVE-2023-45853") || strings.Contains(err.Error(), "DEBIAN-CVE-2023-5678") ||
			!strings.Contains(err.Error(), "vulnerability policy of project os") {
			t.Fatalf("AdmitPull = %v", err)
		}
	})
	t.Run("allowed by its alias", func(t *testing.T) {
		if _, err := e.svc.SetPolicy(ctx, meta.ScanPolicy{Project: "os", Block: "high", Allow: []string{"CVE-2023-45853"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AdmitPull(ctx, "os/debian", deb, never); err != nil {
			t.Fatalf("AdmitPull = %v", err)
		}
	})
	t.Run("medium blocks the medium finding too", func(t *testing.T) {
		if _, err := e.svc.SetPolicy(ctx, meta.ScanPolicy{Project: "os", Block: "medium", Allow: []string{"CVE-2023-45853"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AdmitPull(ctx, "os/debian", deb, never); !denied(err) || !strings.Contains(err.Error(), "DEBIAN-CVE-2023-5678") {
			t.Fatalf("AdmitPull = %v", err)
		}
	})
	t.Run("the SBOM referrer itself stays pullable", func(t *testing.T) {
		st, _ := e.svc.Status(ctx, "os/debian", "v1")
		sb, err := e.reg.GetManifest(ctx, "os/debian", refOf(st.SBOM))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AdmitPull(ctx, "os/debian", sb, never); err != nil {
			t.Fatalf("AdmitPull(SBOM) = %v", err)
		}
	})
}

func TestScanOnPush(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{OnPush: true})
	m := e.image("os/alpine", "v1", alpineLayer(t))
	if err := e.svc.eventsOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Status(ctx, "os/alpine", m.Digest.String())
	if err != nil || st.State != meta.ScanQueued || st.Reason != "push" {
		t.Fatalf("after the push: %+v, %v", st, err)
	}
	e.drain()
	// The SBOM referrer the scan pushed is an artifact: scanned as one, quickly.
	if err := e.svc.eventsOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.drain()
	st, _ = e.svc.Status(ctx, "os/alpine", "v1")
	sb, err := e.svc.Status(ctx, "os/alpine", st.SBOM.String())
	if err != nil || sb.Report == nil || sb.Report.Artifact != "artifact" || len(sb.Report.Packages) != 0 {
		t.Fatalf("the SBOM referrer's scan: %+v, %v", sb, err)
	}
}

func TestImportErrors(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name, body string
		wantErr    bool
		skipped    int
	}{
		{"junk", "not json at all", true, 0},
		{"a broken zip", "PK\x03\x04 and then nothing", true, 0},
		{"empty array", "[]", true, 0},
		{"a record without id among good ones", `[{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"}}]},{"summary":"no id"}]`, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.svc.Import(context.Background(), strings.NewReader(tc.body), "t")
			if (err != nil) != tc.wantErr || res.Skipped != tc.skipped {
				t.Fatalf("Import = %+v, %v", res, err)
			}
			if tc.wantErr && (!errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "no advisory found") != (tc.name == "empty array")) {
				t.Fatalf("error %v: want ErrInvalid saying what is wrong", err)
			}
			if tc.skipped > 0 && len(res.Errors) == 0 {
				t.Fatal("skipped without saying why")
			}
		})
	}
}

// TestScanOnPushByPolicy: without scan.on_push, only the projects whose
// policy asks for it get their pushes scanned.
func TestScanOnPushByPolicy(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	for _, p := range []string{"os", "lang"} {
		if err := e.store.Update(ctx, func(tx meta.Tx) error { return tx.CreateProject(meta.Project{Name: p}) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.SetPolicy(ctx, meta.ScanPolicy{Project: "os", ScanOnPush: true}); err != nil {
		t.Fatal(err)
	}
	if !e.svc.anyScanOnPush(ctx) {
		t.Fatal("anyScanOnPush = false with a project scanning on push")
	}
	e.image("os/alpine", "v1", alpineLayer(t))
	e.image("lang/app", "v1", appLayer(t))
	if err := e.svc.eventsOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := e.svc.Status(ctx, "os/alpine", "v1"); err != nil || st.State != meta.ScanQueued {
		t.Errorf("os/alpine: %+v, %v; want queued", st, err)
	}
	if _, err := e.svc.Status(ctx, "lang/app", "v1"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("lang/app was queued: %v", err)
	}
}
