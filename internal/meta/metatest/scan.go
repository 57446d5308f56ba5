package metatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var scanTests = []test{
	{"vulnerability records: put, only newer replace, lookup by ecosystems, state", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		rec := func(id string, mod time.Time, data string, pkgs ...meta.VulnPackage) meta.VulnRecord {
			return meta.VulnRecord{ID: id, Modified: mod, Data: []byte(data), Packages: pkgs}
		}
		deb := meta.VulnPackage{Ecosystem: "Debian:12", Name: "openssl"}
		update(t, s, func(tx meta.Tx) error {
			n, err := tx.PutVulnRecords([]meta.VulnRecord{
				rec("DSA-1", t0, "v1", deb),
				rec("CVE-2", t0, "v1", meta.VulnPackage{Ecosystem: "Debian", Name: "openssl"}, meta.VulnPackage{Ecosystem: "Alpine:v3.19", Name: "openssl"}),
				rec("GO-3", t0, "v1", meta.VulnPackage{Ecosystem: "Go", Name: "golang.org/x/net"}),
			})
			if err != nil || n != 3 {
				t.Errorf("PutVulnRecords = %d, %v; want 3", n, err)
			}
			// Same time: unchanged; newer: replaced, with new packages.
			n, err = tx.PutVulnRecords([]meta.VulnRecord{
				rec("DSA-1", t0, "same time", deb),
				rec("GO-3", t0.Add(time.Hour), "v2", meta.VulnPackage{Ecosystem: "Go", Name: "golang.org/x/text"}),
			})
			if err != nil || n != 1 {
				t.Errorf("second PutVulnRecords = %d, %v; want 1", n, err)
			}
			return tx.SetVulnDBState(meta.VulnDBState{Generation: 2, ImportedAt: t0, Records: 3, Source: "osv"})
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.VulnRecordsFor([]string{"Debian:12", "Debian"}, "openssl")
			if err != nil {
				return err
			}
			if len(got) != 2 || got[0].ID != "CVE-2" || got[1].ID != "DSA-1" || string(got[1].Data) != "v1" || !got[1].Modified.Equal(t0) {
				t.Errorf("openssl in Debian = %+v", got)
			}
			if got, _ := r.VulnRecordsFor([]string{"Alpine:v3.20", "Alpine"}, "openssl"); len(got) != 0 {
				t.Errorf("openssl in Alpine 3.20 = %+v", got)
			}
			if got, _ := r.VulnRecordsFor([]string{"Go"}, "golang.org/x/net"); len(got) != 0 {
				t.Errorf("x/net after GO-3 moved to x/text = %+v", got)
			}
			if got, _ := r.VulnRecordsFor([]string{"Go"}, "golang.org/x/text"); len(got) != 1 || string(got[0].Data) != "v2" {
				t.Errorf("x/text = %+v", got)
			}
			st, err := r.VulnDBState()
			if err != nil {
				return err
			}
			if st.Generation != 2 || st.Records != 3 || st.Source != "osv" || !st.ImportedAt.Equal(t0) {
				t.Errorf("state %+v", st)
			}
			return nil
		})
	}},
	{"scans: queue, claim, renew, finish, queue again keeps the result, requeue expired, behind, go with the repository", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		a, b := dg("a"), dg("b")
		update(t, s, func(tx meta.Tx) error {
			if err := tx.EnsureRepository("team/app"); err != nil {
				return err
			}
			if _, err := tx.QueueScan("nope/x", a, "push", t0); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("QueueScan in a missing repository: %v", err)
			}
			for i, d := range []digest.Digest{a, b} {
				if ok, err := tx.QueueScan("team/app", d, "push", t0.Add(time.Duration(i)*time.Second)); err != nil || !ok {
					t.Errorf("QueueScan %s = %v, %v", d, ok, err)
				}
			}
			if ok, err := tx.QueueScan("team/app", a, "manual", t0); err != nil || ok {
				t.Errorf("QueueScan of a queued scan = %v, %v; want false", ok, err)
			}
			return nil
		})
		var got meta.Scan
		update(t, s, func(tx meta.Tx) error {
			var ok bool
			var err error
			got, ok, err = tx.ClaimScan("w1", t0.Add(time.Minute), time.Minute)
			if err != nil || !ok || got.Digest != a || got.State != meta.ScanRunning || got.Holder != "w1" || got.Attempts != 1 || got.Repo != "team/app" {
				t.Errorf("ClaimScan = %+v, %v, %v", got, ok, err)
			}
			if err := tx.RenewScan("team/app", a, "w2", t0.Add(time.Hour)); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("RenewScan by another holder: %v", err)
			}
			return tx.RenewScan("team/app", a, "w1", t0.Add(time.Hour))
		})
		update(t, s, func(tx meta.Tx) error {
			got.State, got.FinishedAt, got.DBGeneration, got.High, got.Packages, got.Report, got.SBOM = meta.ScanDone, t0.Add(2*time.Minute), 1, 2, 30, []byte(`{"r":1}`), dg("sbom")
			if err := tx.FinishScan(got, "w2"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("FinishScan by another holder: %v", err)
			}
			if err := tx.FinishScan(got, "w1"); err != nil {
				return err
			}
			// b is claimed and its worker dies.
			if _, ok, err := tx.ClaimScan("w3", t0.Add(time.Minute), time.Minute); err != nil || !ok {
				t.Errorf("claim b: %v %v", ok, err)
			}
			if _, ok, _ := tx.ClaimScan("w4", t0.Add(time.Minute), time.Minute); ok {
				t.Error("a third claim found a scan")
			}
			n, err := tx.RequeueExpiredScans(t0.Add(5 * time.Minute))
			if err != nil || n != 1 {
				t.Errorf("RequeueExpiredScans = %d, %v", n, err)
			}
			// a again: queued, its result kept.
			if ok, err := tx.QueueScan("team/app", a, "manual", t0.Add(time.Hour)); err != nil || !ok {
				t.Errorf("QueueScan of a finished scan = %v, %v", ok, err)
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			sa, err := r.Scan("team/app", a)
			if err != nil {
				return err
			}
			if sa.State != meta.ScanQueued || sa.Reason != "manual" || sa.High != 2 || string(sa.Report) != `{"r":1}` || sa.SBOM != dg("sbom") || sa.Packages != 30 || !sa.FinishedAt.Equal(t0.Add(2*time.Minute)) {
				t.Errorf("scan of a after queueing again: %+v", sa)
			}
			sb, err := r.Scan("team/app", b)
			if err != nil {
				return err
			}
			if sb.State != meta.ScanQueued || sb.Holder != "" {
				t.Errorf("scan of b after its lease expired: %+v", sb)
			}
			_, err = r.Scan("team/app", dg("c"))
			wantNotFound(t, "Scan of a digest never queued", err)
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			// b (queued first) then a; a is matched against generation 1, b 5.
			for _, want := range []digest.Digest{b, a} {
				sc, ok, err := tx.ClaimScan("w1", t0.Add(2*time.Hour), time.Minute)
				if err != nil || !ok || sc.Digest != want {
					t.Fatalf("claim: %+v %v %v, want %s", sc, ok, err, want)
				}
				sc.State, sc.FinishedAt, sc.DBGeneration = meta.ScanDone, t0.Add(2*time.Hour), 1
				if want == b {
					sc.DBGeneration = 5
				}
				if err := tx.FinishScan(sc, "w1"); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			behind, err := r.ScansBehind(2, "", "", 10)
			if err != nil {
				return err
			}
			if len(behind) != 1 || behind[0].Digest != a {
				t.Errorf("ScansBehind(2) = %+v", behind)
			}
			if behind, _ := r.ScansBehind(1, "", "", 10); len(behind) != 0 {
				t.Errorf("ScansBehind(1) = %+v", behind)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			sa, err := tx.Scan("team/app", a)
			if err != nil {
				return err
			}
			sa.DBGeneration, sa.High, sa.Critical, sa.Report = 2, 0, 1, []byte(`{"r":2}`)
			if err := tx.UpdateScanFindings(sa); err != nil {
				return err
			}
			return tx.DeleteRepository("team/app")
		})
		view(t, s, func(r meta.Reader) error {
			_, err := r.Scan("team/app", a)
			wantNotFound(t, "Scan after the repository was deleted", err)
			return nil
		})
	}},
	{"scan cursor and policies", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			if err := tx.CreateProject(meta.Project{Name: "prod"}); err != nil {
				return err
			}
			wantNotFound(t, "PutScanPolicy of a missing project", tx.PutScanPolicy(meta.ScanPolicy{Project: "nope"}))
			if err := tx.PutScanPolicy(meta.ScanPolicy{Project: "prod", Block: "high", Allow: []string{"CVE-1", "GHSA-x"}, RequireScan: true, Scanner: "trivy"}); err != nil {
				return err
			}
			if err := tx.AdvanceScanCursor(7); err != nil {
				return err
			}
			return tx.AdvanceScanCursor(5) // never backwards
		})
		view(t, s, func(r meta.Reader) error {
			c, err := r.ScanCursor()
			if err != nil || c != 7 {
				t.Errorf("ScanCursor = %d, %v", c, err)
			}
			p, err := r.ScanPolicy("prod")
			if err != nil {
				return err
			}
			if p.Block != "high" || !slices.Equal(p.Allow, []string{"CVE-1", "GHSA-x"}) || !p.RequireScan || p.ScanOnPush || p.Scanner != "trivy" {
				t.Errorf("policy %+v", p)
			}
			all, err := r.ScanPolicies()
			if err != nil || len(all) != 1 {
				t.Errorf("ScanPolicies = %+v, %v", all, err)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.PutScanPolicy(meta.ScanPolicy{Project: "prod", ScanOnPush: true}); err != nil {
				return err
			}
			p, err := tx.ScanPolicy("prod")
			if err != nil || p.Block != "" || len(p.Allow) != 0 || !p.ScanOnPush {
				t.Errorf("after a change: %+v, %v", p, err)
			}
			if err := tx.DeleteScanPolicy("prod"); err != nil {
				return err
			}
			wantNotFound(t, "DeleteScanPolicy twice", tx.DeleteScanPolicy("prod"))
			return nil
		})
	}},
	{"external scanners: put, one default, delete", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for _, sc := range []meta.Scanner{
				{Name: "trivy", URL: "http://trivy:8080", Auth: "bearer", Credential: []byte("sealed"), Default: true},
				{Name: "other", URL: "https://other", Insecure: true},
			} {
				if err := tx.PutScanner(sc); err != nil {
					return err
				}
			}
			// other becomes the default: trivy no longer is.
			return tx.PutScanner(meta.Scanner{Name: "other", URL: "https://other", Insecure: true, Default: true})
		})
		view(t, s, func(r meta.Reader) error {
			all, err := r.Scanners()
			if err != nil {
				return err
			}
			if len(all) != 2 || all[0].Name != "other" || !all[0].Default || !all[0].Insecure || all[1].Default ||
				all[1].Auth != "bearer" || string(all[1].Credential) != "sealed" {
				t.Errorf("Scanners = %+v", all)
			}
			_, err = r.ScannerByName("nope")
			wantNotFound(t, "ScannerByName(nope)", err)
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteScanner("trivy"); err != nil {
				return err
			}
			wantNotFound(t, "DeleteScanner twice", tx.DeleteScanner("trivy"))
			return nil
		})
	}},
}
