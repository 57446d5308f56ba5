package conformance

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

// Media types used throughout the suite.
const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtOCILayer       = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtOCIEmpty       = "application/vnd.oci.empty.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// emptyJSON is the OCI empty descriptor's content ("{}").
var emptyJSON = []byte("{}")

// registry is the server under test plus a client that fails the calling
// test on any 5xx answer.
type registry struct {
	base     *url.URL
	client   *http.Client
	external bool
	verbose  bool
	// user and password are sent as Basic credentials with every request
	// (CONFORMANCE_USER and CONFORMANCE_PASSWORD for an external target).
	user, password string
}

// testAdminPassword is the admin password of the registries these tests
// start (authentication is on, as by default).
const testAdminPassword = "conformance-admin-secret"

// newRegistry starts berth with the default configuration changed by the
// given mutators, or returns the external CONFORMANCE_TARGET (in which case
// the mutators are ignored: check reg.external where they matter).
func newRegistry(t *testing.T, mutate ...func(*config.Config)) *registry {
	t.Helper()
	reg := &registry{
		client:  &http.Client{},
		verbose: os.Getenv("CONFORMANCE_VERBOSE") != "",
	}
	if target := os.Getenv("CONFORMANCE_TARGET"); target != "" {
		u, err := url.Parse(strings.TrimSuffix(target, "/"))
		if err != nil {
			t.Fatalf("CONFORMANCE_TARGET: %v", err)
		}
		reg.base = u
		reg.external = true
		reg.user, reg.password = os.Getenv("CONFORMANCE_USER"), os.Getenv("CONFORMANCE_PASSWORD")
		return reg
	}
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	reg.user, reg.password = "admin", testAdminPassword
	for _, m := range mutate {
		m(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if reg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := a.Close(); err != nil {
			t.Errorf("app.Close: %v", err)
		}
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	reg.base = u
	return reg
}

// repo returns a fresh repository name, unique per call so that tests can
// share an external registry and be re-run against it.
func (r *registry) repo(t *testing.T, stem string) string {
	t.Helper()
	return "conformance/" + stem + "-" + randomHex(t, 4)
}

// result is a fully read HTTP response.
type result struct {
	Method        string
	URL           string
	Status        int
	Header        http.Header
	ContentLength int64
	Body          []byte
}

func (res *result) String() string {
	body := string(res.Body)
	if len(body) > 400 {
		body = body[:400] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %v %q", res.Method, res.URL, res.Status, res.Header, body)
}

// url turns a path (or an absolute URL, or a Location value relative to the
// registry) into an absolute URL.
func (r *registry) url(t *testing.T, ref string) string {
	t.Helper()
	u, err := url.Parse(ref)
	if err != nil {
		t.Fatalf("bad URL %q: %v", ref, err)
	}
	return r.base.ResolveReference(u).String()
}

// do sends a request whose body (nil for none) is sent with an exact
// Content-Length. hdrs are name/value pairs.
func (r *registry) do(t *testing.T, method, ref string, body []byte, hdrs ...string) *result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return r.send(t, method, ref, rd, int64(len(body)), hdrs...)
}

// doStream sends body with chunked transfer encoding (no Content-Length).
func (r *registry) doStream(t *testing.T, method, ref string, body []byte, hdrs ...string) *result {
	t.Helper()
	return r.send(t, method, ref, io.MultiReader(bytes.NewReader(body)), -1, hdrs...)
}

func (r *registry) send(t *testing.T, method, ref string, body io.Reader, length int64, hdrs ...string) *result {
	t.Helper()
	if len(hdrs)%2 != 0 {
		t.Fatalf("odd header list %q", hdrs)
	}
	req, err := http.NewRequest(method, r.url(t, ref), body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	for i := 0; i < len(hdrs); i += 2 {
		req.Header.Add(hdrs[i], hdrs[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, req.URL, err)
	}
	res := &result{
		Method:        method,
		URL:           req.URL.String(),
		Status:        resp.StatusCode,
		Header:        resp.Header,
		ContentLength: resp.ContentLength,
		Body:          data,
	}
	if r.verbose {
		t.Logf("%s", res)
	}
	if res.Status >= 500 {
		t.Errorf("server error (no request of this suite may yield a 5xx): %s", res)
	}
	return res
}

// expectStatus fails the test unless the response has the given status.
func expectStatus(t *testing.T, res *result, status int) bool {
	t.Helper()
	if res.Status != status {
		t.Errorf("want status %d, got %s", status, res)
		return false
	}
	return true
}

// specCodes are the error codes the spec allows (plus the legacy ones it
// says clients may encounter).
var specCodes = []string{
	"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
	"MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
	"NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
	"TOOMANYREQUESTS", "TAG_INVALID", "MANIFEST_UNVERIFIED",
}

var codeRE = regexp.MustCompile(`^[A-Z_]+$`)

type errorBody struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// expectError checks an error response: one of the statuses, Content-Type
// application/json and a spec error body whose first error code is one of
// codes (any spec code when codes is empty). HEAD responses carry no body, so
// only their status is checked.
func expectError(t *testing.T, res *result, statuses []int, codes ...string) {
	t.Helper()
	if !slices.Contains(statuses, res.Status) {
		t.Errorf("want status in %v, got %s", statuses, res)
		return
	}
	if res.Method == http.MethodHead {
		return
	}
	checkErrorBody(t, res, codes...)
}

func checkErrorBody(t *testing.T, res *result, codes ...string) {
	t.Helper()
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		t.Errorf("error response Content-Type %q, want application/json: %s", res.Header.Get("Content-Type"), res)
	}
	var eb errorBody
	if err := json.Unmarshal(res.Body, &eb); err != nil {
		t.Errorf("error body is not the spec JSON: %v: %s", err, res)
		return
	}
	if len(eb.Errors) == 0 {
		t.Errorf("error body has no errors: %s", res)
		return
	}
	for _, e := range eb.Errors {
		if !codeRE.MatchString(e.Code) || !slices.Contains(specCodes, e.Code) {
			t.Errorf("error code %q is not a spec code: %s", e.Code, res)
		}
	}
	if len(codes) > 0 && !slices.Contains(codes, eb.Errors[0].Code) {
		t.Errorf("want error code in %v, got %q: %s", codes, eb.Errors[0].Code, res)
	}
}

// Shorthands for the usual single-status errors.
func expectErr(t *testing.T, res *result, status int, codes ...string) {
	t.Helper()
	expectError(t, res, []int{status}, codes...)
}

func expectHeader(t *testing.T, res *result, name, want string) {
	t.Helper()
	if got := res.Header.Get(name); got != want {
		t.Errorf("header %s = %q, want %q: %s", name, got, want, res)
	}
}

func expectHeaderSet(t *testing.T, res *result, name string) string {
	t.Helper()
	v := res.Header.Get(name)
	if v == "" {
		t.Errorf("header %s missing: %s", name, res)
	}
	return v
}

// expectMediaType compares the Content-Type's media type, ignoring parameters.
func expectMediaType(t *testing.T, res *result, want string) {
	t.Helper()
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != want {
		t.Errorf("Content-Type %q, want %q: %s", res.Header.Get("Content-Type"), want, res)
	}
}

func expectBody(t *testing.T, res *result, want []byte) {
	t.Helper()
	if !bytes.Equal(res.Body, want) {
		t.Errorf("body differs: got %d bytes %q, want %d bytes %q", len(res.Body), trunc(res.Body), len(want), trunc(want))
	}
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	return hex.EncodeToString(randomBytes(t, n))
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func sha512Digest(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512:" + hex.EncodeToString(s[:])
}

// descriptor, manifest and index are the OCI (and Docker schema2) JSON shapes.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// encode marshals v with tab indentation and a trailing newline: bytes a
// registry that re-serialised the document would not reproduce.
func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// content is a pushed (or pushable) piece of content.
type content struct {
	desc descriptor
	body []byte
}

// pushBlob uploads b with POST then monolithic PUT and returns its descriptor.
func (r *registry) pushBlob(t *testing.T, repo, mediaType string, b []byte) descriptor {
	t.Helper()
	d := sha256Digest(b)
	loc := r.startUpload(t, repo)
	res := r.do(t, http.MethodPut, withQuery(t, r.url(t, loc), "digest", d), b,
		"Content-Type", "application/octet-stream")
	if !expectStatus(t, res, http.StatusCreated) {
		t.FailNow()
	}
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

// startUpload opens an upload session and returns its Location.
func (r *registry) startUpload(t *testing.T, repo string, query ...string) string {
	t.Helper()
	u := "/v2/" + repo + "/blobs/uploads/"
	for i := 0; i+1 < len(query); i += 2 {
		u = withQuery(t, u, query[i], query[i+1])
	}
	res := r.do(t, http.MethodPost, u, []byte{})
	if !expectStatus(t, res, http.StatusAccepted) {
		t.FailNow()
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		t.Fatalf("upload POST without Location: %s", res)
	}
	return r.url(t, loc)
}

// withQuery adds key=value to a URL (absolute or path), keeping what is there.
func withQuery(t *testing.T, ref, key, value string) string {
	t.Helper()
	u, err := url.Parse(ref)
	if err != nil {
		t.Fatalf("bad URL %q: %v", ref, err)
	}
	q := u.Query()
	q.Add(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// putManifest PUTs body as mediaType under ref and requires 201.
func (r *registry) putManifest(t *testing.T, repo, ref, mediaType string, body []byte) *result {
	t.Helper()
	res := r.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType)
	if !expectStatus(t, res, http.StatusCreated) {
		t.FailNow()
	}
	return res
}

// pushImage pushes a config and two layers (unique content) and an OCI image
// manifest for them under ref (a tag, or "" for by-digest).
func (r *registry) pushImage(t *testing.T, repo, ref string) content {
	t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":%q}`, randomHex(t, 8)))
	m := manifest{
		SchemaVersion: 2,
		MediaType:     mtOCIManifest,
		Config:        r.pushBlob(t, repo, mtOCIConfig, cfg),
		Layers: []descriptor{
			r.pushBlob(t, repo, mtOCILayer, randomBytes(t, 300)),
			r.pushBlob(t, repo, mtOCILayer, randomBytes(t, 500)),
		},
	}
	body := encode(t, m)
	d := sha256Digest(body)
	if ref == "" {
		ref = d
	}
	r.putManifest(t, repo, ref, mtOCIManifest, body)
	return content{desc: descriptor{MediaType: mtOCIManifest, Digest: d, Size: int64(len(body))}, body: body}
}

// pushArtifact pushes an artifact manifest (empty config, one layer) with the
// given artifactType, subject and annotations, by digest.
func (r *registry) pushArtifact(t *testing.T, repo, artifactType string, subject *descriptor, annotations map[string]string) content {
	t.Helper()
	m := manifest{
		SchemaVersion: 2,
		MediaType:     mtOCIManifest,
		ArtifactType:  artifactType,
		Config:        r.pushBlob(t, repo, mtOCIEmpty, emptyJSON),
		Layers:        []descriptor{r.pushBlob(t, repo, "application/octet-stream", randomBytes(t, 64))},
		Subject:       subject,
		Annotations:   annotations,
	}
	m.Config.Data = emptyJSON
	body := encode(t, m)
	d := sha256Digest(body)
	res := r.putManifest(t, repo, d, mtOCIManifest, body)
	if subject != nil {
		expectHeader(t, res, "OCI-Subject", subject.Digest)
	}
	return content{desc: descriptor{MediaType: mtOCIManifest, Digest: d, Size: int64(len(body))}, body: body}
}

// linkRE matches an RFC 5988 Link header with rel="next".
var linkRE = regexp.MustCompile(`^\s*<([^>]+)>\s*;\s*rel="?next"?\s*$`)

// nextLink extracts the rel="next" target of a Link header ("" when absent).
func nextLink(t *testing.T, res *result) string {
	t.Helper()
	v := res.Header.Get("Link")
	if v == "" {
		return ""
	}
	m := linkRE.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("Link header %q is not <url>; rel=\"next\"", v)
	}
	return m[1]
}
