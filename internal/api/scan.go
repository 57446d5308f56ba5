package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/harbor"
)

// scanOperations expose the vulnerability scanner: its database, scans
// and the projects' pull policies.
var scanOperations = []operation{
	{"GET", "/vulndb", (*API).vulnDBState, "The vulnerability database's state: its generation (grows with each import that changed something), last import, advisories and source", "any logged-in caller", nil, vulnDBJSON{}, 200},
	{"POST", "/vulndb", (*API).importVulnDB, "Import OSV advisories (?source= names the import): the body is one record, a JSON array of records, or a zip of record files as OSV publishes them per ecosystem (all.zip), up to 4 GiB; not a JSON object: send it as application/json or application/zip", "system admins", nil, scan.ImportResult{}, 200},
	{"POST", "/scans", (*API).queueScan, "Queue a scan of a manifest (reference: a tag or digest); 202 with the scan, or 200 with \"queued\": false when one is already queued or running", "who may push to the repository", scanRequest{}, scanJSON{}, 202},
	{"GET", "/scans", (*API).getScan, "The scan of ?repository=&reference= (a tag or digest): its state, summary and the last finished report; 404 when never scanned", "who may pull from the repository", nil, scanJSON{}, 200},
	{"GET", "/projects/{project}/scan-policy", (*API).getScanPolicy, "Read a project's vulnerability pull policy; 404 when it has none", "who may see it", nil, scanPolicyJSON{}, 200},
	{"PUT", "/projects/{project}/scan-policy", (*API).putScanPolicy, "Set a project's vulnerability pull policy: refuse pulls of images with findings of severity block (critical, high, medium, low; \"\" none) or worse except the allow-listed IDs, refuse unscanned images (require_scan), scan every push (scan_on_push)", "its admins", scanPolicyRequest{}, scanPolicyJSON{}, 200},
	{"DELETE", "/projects/{project}/scan-policy", (*API).deleteScanPolicy, "Remove a project's vulnerability pull policy", "its admins", nil, nil, 204},
	{"GET", "/scanners", (*API).listScanners, "List the external scanners (adapters of Harbor's Pluggable Scanner API; credentials are never shown)", "system admins", nil, []scannerJSON{}, 200},
	{"PUT", "/scanners/{name}", (*API).putScanner, "Register or change an external scanner: url, auth (basic with credential user:password, bearer, apikey, or none), insecure (skip TLS verification), default (scans the projects whose policy names no scanner)", "system admins", scannerRequest{}, scannerJSON{}, 200},
	{"GET", "/scanners/{name}", (*API).getScannerMetadata, "Ask an external scanner what it is and what it can scan (its /metadata): a health check", "system admins", nil, scannerMetadataJSON{}, 200},
	{"DELETE", "/scanners/{name}", (*API).deleteScanner, "Remove an external scanner", "system admins", nil, nil, 204},
}

// maxVulnDBBody bounds an advisory upload (as the importer does).
const maxVulnDBBody = 4 << 30

// WithScans serves the vulnerability scanner svc.
func (x *API) WithScans(svc *scan.Service) *API {
	x.scans = svc
	return x
}

// scanService returns the scanner, or why there is none.
func (x *API) scanService() (*scan.Service, error) { return wired(x.scans, "vulnerability scanning") }

type vulnDBJSON struct {
	Generation int64      `json:"generation"`
	ImportedAt *time.Time `json:"imported_at,omitempty"`
	Records    int64      `json:"records"`
	Source     string     `json:"source,omitempty"`
}

type scanRequest struct {
	Repository string `json:"repository"`
	Reference  string `json:"reference"` // tag or digest
}

// scanJSON is a scan; Queued only in the answer to POST /scans.
type scanJSON struct {
	Repository   string       `json:"repository"`
	Digest       string       `json:"digest"`
	State        string       `json:"state"` // queued, running, done, failed
	Queued       *bool        `json:"queued,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	QueuedAt     time.Time    `json:"queued_at"`
	StartedAt    *time.Time   `json:"started_at,omitempty"`
	FinishedAt   *time.Time   `json:"finished_at,omitempty"`
	Error        string       `json:"error,omitempty"`
	DBGeneration int64        `json:"db_generation"`
	Summary      scan.Summary `json:"summary"`
	SBOM         string       `json:"sbom,omitempty"`
	Report       *scan.Report `json:"report,omitempty"`
}

func scanOut(st scan.Status) scanJSON {
	return scanJSON{Repository: st.Repository, Digest: st.Digest.String(), State: st.State, Reason: st.Reason,
		QueuedAt: st.QueuedAt, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Error: st.Error,
		DBGeneration: st.DBGeneration, Summary: st.Summary, SBOM: st.SBOM.String(), Report: st.Report}
}

type scanPolicyRequest struct {
	Block       string   `json:"block"` // critical, high, medium, low or "" (none)
	Allow       []string `json:"allow"`
	RequireScan bool     `json:"require_scan"`
	ScanOnPush  bool     `json:"scan_on_push"`
	// Scanner names the external scanner of the project ("" = the default
	// one, else berth's; "berth" = berth's even when another is the default).
	Scanner string `json:"scanner,omitempty"`
}

type scanPolicyJSON struct {
	Project     string    `json:"project"`
	Block       string    `json:"block"`
	Allow       []string  `json:"allow"`
	RequireScan bool      `json:"require_scan"`
	ScanOnPush  bool      `json:"scan_on_push"`
	Scanner     string    `json:"scanner,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func scanPolicyOut(p meta.ScanPolicy) scanPolicyJSON {
	out := scanPolicyJSON{Project: p.Project, Block: p.Block, Allow: p.Allow, RequireScan: p.RequireScan,
		ScanOnPush: p.ScanOnPush, Scanner: p.Scanner, UpdatedAt: p.UpdatedAt}
	if out.Allow == nil {
		out.Allow = []string{}
	}
	return out
}

// scanErr maps the scanner's refusals to the API's.
func scanErr(err error) error {
	if errors.Is(err, scan.ErrInvalid) {
		return invalidf("%s", strings.TrimPrefix(err.Error(), scan.ErrInvalid.Error()+": "))
	}
	return err
}

// notScannedError answers 404 for a manifest that was never scanned.
type notScannedError struct {
	repo string
	d    digest.Digest
}

func (e notScannedError) Error() string {
	return fmt.Sprintf("%s@%s not scanned; POST /api/v1/scans or berth scan REPO:TAG", e.repo, e.d)
}

func (notScannedError) Is(target error) bool { return target == meta.ErrNotFound }

func (e notScannedError) notFoundMessage() string { return e.Error() }

// manifestOf resolves ref (a tag or digest) in repo.
func (x *API) manifestOf(ctx context.Context, repo, ref string) (meta.Manifest, error) {
	if repo == "" || ref == "" {
		return meta.Manifest{}, invalidf("give the repository and the reference (a tag or digest)")
	}
	r, err := registry.ParseReference(ref)
	if err != nil {
		return meta.Manifest{}, invalidf("reference %q: want a tag or a digest (sha256:…)", ref)
	}
	m, err := x.reg.GetManifest(ctx, repo, r)
	var ec *errcode.Error
	if errors.As(err, &ec) && ec.Code.Name == errcode.ManifestUnknown.Name {
		return meta.Manifest{}, fmt.Errorf("manifest %s of %s: %w", ref, repo, meta.ErrNotFound)
	}
	if err != nil && m.Digest == "" {
		return meta.Manifest{}, err
	}
	return m, nil // also when its blobs are quarantined: its scan stays readable
}

func (x *API) vulnDBState(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	if actor.IsAnonymous() {
		return 0, nil, auth.ErrDenied
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	st, err := svc.DBState(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, vulnDBJSON{Generation: st.Generation, ImportedAt: optTime(st.ImportedAt), Records: st.Records, Source: st.Source}, nil
}

// importVulnDB passes the body to the importer as it is: it is not a JSON
// object of ours, and may be large.
func (x *API) importVulnDB(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	body := http.MaxBytesReader(nil, r.Body, maxVulnDBBody)
	defer body.Close()
	res, err := svc.Import(ctx, body, r.URL.Query().Get("source"))
	if err != nil {
		return 0, nil, scanErr(err)
	}
	return http.StatusOK, res, nil
}

func (x *API) queueScan(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in scanRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.Repository == "" || in.Reference == "" {
		return 0, nil, invalidf("give {\"repository\": …, \"reference\": a tag or digest}")
	}
	if err := x.auth.Allowed(ctx, actor, in.Repository, auth.ActionPush); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	m, err := x.manifestOf(ctx, in.Repository, in.Reference)
	if err != nil {
		return 0, nil, err
	}
	queued, err := svc.Queue(ctx, in.Repository, m.Digest, "request")
	if err != nil {
		return 0, nil, err
	}
	st, err := svc.Status(ctx, in.Repository, m.Digest.String())
	if err != nil {
		return 0, nil, err
	}
	out := scanOut(st)
	out.Queued = &queued
	if !queued {
		return http.StatusOK, out, nil
	}
	return http.StatusAccepted, out, nil
}

func (x *API) getScan(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	repo, ref := r.URL.Query().Get("repository"), r.URL.Query().Get("reference")
	if repo == "" || ref == "" {
		return 0, nil, invalidf("give ?repository= and ?reference= (a tag or digest)")
	}
	if err := x.auth.Allowed(ctx, actor, repo, auth.ActionPull); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	m, err := x.manifestOf(ctx, repo, ref)
	if err != nil {
		return 0, nil, err
	}
	st, err := svc.Status(ctx, repo, m.Digest.String())
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil, notScannedError{repo: repo, d: m.Digest}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, scanOut(st), nil
}

func (x *API) getScanPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	project := r.PathValue("project")
	if _, err := x.auth.GetProject(ctx, actor, project); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	p, err := svc.Policy(ctx, project)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil, fmt.Errorf("scan policy of project %s: %w", project, meta.ErrNotFound)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, scanPolicyOut(p), nil
}

func (x *API) putScanPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	project := r.PathValue("project")
	if err := x.auth.RequireProjectAdmin(ctx, actor, project); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	var in scanPolicyRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	p, err := svc.SetPolicy(ctx, meta.ScanPolicy{Project: project, Block: in.Block, Allow: in.Allow,
		RequireScan: in.RequireScan, ScanOnPush: in.ScanOnPush, Scanner: in.Scanner})
	if err != nil {
		return 0, nil, scanErr(err)
	}
	return http.StatusOK, scanPolicyOut(p), nil
}

func (x *API) deleteScanPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	project := r.PathValue("project")
	if err := x.auth.RequireProjectAdmin(ctx, actor, project); err != nil {
		return 0, nil, err
	}
	svc, err := x.scanService()
	if err != nil {
		return 0, nil, err
	}
	err = svc.DeletePolicy(ctx, project)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil, fmt.Errorf("scan policy of project %s: %w", project, meta.ErrNotFound)
	}
	return http.StatusNoContent, nil, err
}

type scannerRequest struct {
	URL        string `json:"url"`
	Auth       string `json:"auth,omitempty"`
	Credential string `json:"credential,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
	Default    bool   `json:"default,omitempty"`
}

type scannerJSON struct {
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	Auth          string    `json:"auth,omitempty"`
	HasCredential bool      `json:"has_credential"`
	Insecure      bool      `json:"insecure"`
	Default       bool      `json:"default"`
	CreatedAt     time.Time `json:"created_at"`
}

type scannerMetadataJSON struct {
	Name         string              `json:"name"`
	Scanner      harbor.Scanner      `json:"scanner"`
	Capabilities []harbor.Capability `json:"capabilities"`
	Properties   map[string]string   `json:"properties,omitempty"`
}

func scannerOut(sc meta.Scanner, hasCred bool) scannerJSON {
	return scannerJSON{Name: sc.Name, URL: sc.URL, Auth: sc.Auth, HasCredential: hasCred, Insecure: sc.Insecure,
		Default: sc.Default, CreatedAt: sc.CreatedAt}
}

// scannersAdmin checks the caller is a system admin and returns the service.
func (x *API) scannersAdmin(actor auth.Identity) (*scan.Service, error) {
	return adminService(x, actor, x.scans, "vulnerability scanning")
}

func (x *API) listScanners(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	svc, err := x.scannersAdmin(actor)
	if err != nil {
		return 0, nil, err
	}
	all, err := svc.Scanners(ctx)
	out := make([]scannerJSON, 0, len(all))
	for _, sc := range all {
		out = append(out, scannerOut(sc, sc.Auth != ""))
	}
	return http.StatusOK, out, err
}

func (x *API) putScanner(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.scannersAdmin(actor)
	if err != nil {
		return 0, nil, err
	}
	var in scannerRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.Auth == "none" {
		in.Auth = ""
	}
	sc, err := svc.PutScanner(ctx, scan.ScannerSpec{Name: r.PathValue("name"), URL: in.URL, Auth: in.Auth,
		Credential: in.Credential, Insecure: in.Insecure, Default: in.Default})
	return http.StatusOK, scannerOut(sc, in.Credential != ""), scanErr(err)
}

func (x *API) getScannerMetadata(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.scannersAdmin(actor)
	if err != nil {
		return 0, nil, err
	}
	md, err := svc.ScannerMetadata(ctx, r.PathValue("name"))
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return 0, nil, fmt.Errorf("%w: scanner %s does not answer: %v", errBadGateway, r.PathValue("name"), err)
	}
	return http.StatusOK, scannerMetadataJSON{Name: r.PathValue("name"), Scanner: md.Scanner, Capabilities: md.Capabilities, Properties: md.Properties}, err
}

func (x *API) deleteScanner(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.scannersAdmin(actor)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, scanErr(svc.DeleteScanner(ctx, r.PathValue("name")))
}
