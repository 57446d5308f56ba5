package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/blob/mem"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/sbom/sbomtest"
)

// env is a registry with a scanner over it.
type env struct {
	t     *testing.T
	reg   *registry.Service
	store meta.Store
	svc   *Service
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = md.Close() })
	blobs := mem.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(blobs, md, registry.Options{}, log)
	o.Store, o.Blobs, o.Pusher, o.Log = md, blobs, reg, log
	if o.SBOMFormat == "" {
		o.SBOMFormat = FormatSPDX
	}
	return &env{t: t, reg: reg, store: md, svc: New(o)}
}

func (e *env) blob(repo string, mt string, b []byte) ocispec.Descriptor {
	e.t.Helper()
	d := digest.FromBytes(b)
	if _, err := e.reg.PutBlob(context.Background(), repo, d, int64(len(b)), bytes.NewReader(b)); err != nil {
		e.t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
}

// image pushes an image of the layers (gzipped) to repo:tag.
func (e *env) image(repo, tag string, layers ...[]byte) meta.Manifest {
	e.t.Helper()
	cfg := e.blob(repo, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"tag":"`+tag+`"}`))
	var ls []ocispec.Descriptor
	for _, l := range layers {
		ls = append(ls, e.blob(repo, ocispec.MediaTypeImageLayerGzip, sbomtest.Gzip(e.t, l)))
	}
	body, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: ls})
	if _, err := e.reg.PutManifest(context.Background(), repo, registry.Reference{Tag: tag}, ocispec.MediaTypeImageManifest, body, nil); err != nil {
		e.t.Fatal(err)
	}
	m, err := e.reg.GetManifest(context.Background(), repo, registry.Reference{Digest: digest.FromBytes(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// drain runs queued scans until none is left.
func (e *env) drain() {
	e.t.Helper()
	for i := 0; ; i++ {
		ran, err := e.svc.RunOne(context.Background(), "test")
		if err != nil {
			e.t.Fatal(err)
		}
		if !ran {
			return
		}
		if i > 100 {
			e.t.Fatal("scans never end")
		}
	}
}

// osvZip zips testdata/osv as OSV publishes its exports.
func osvZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files, _ := filepath.Glob("testdata/osv/*.json")
	if len(files) == 0 {
		t.Fatal("no OSV fixtures")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(filepath.Base(f))
		_, _ = w.Write(b)
	}
	_ = zw.Close()
	return buf.Bytes()
}

// The images: each with package databases whose findings against
// testdata/osv are known exactly.
func debianLayer(t *testing.T) []byte {
	return sbomtest.Layer(t,
		sbomtest.Text("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"),
		sbomtest.Text("var/lib/dpkg/status", `Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u3

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Source: zlib
Version: 1:1.2.11
`))
}

func alpineLayer(t *testing.T) []byte {
	return sbomtest.Layer(t,
		sbomtest.Text("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"),
		sbomtest.Text("lib/apk/db/installed", "P:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n"))
}

func rockyLayer(t *testing.T) []byte {
	return sbomtest.Layer(t,
		sbomtest.Text("etc/os-release", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n"),
		sbomtest.File{Name: "var/lib/rpm/rpmdb.sqlite", Body: sbomtest.RPMDB(t, sbomtest.RPMSchema,
			sbomtest.RPM{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Epoch: 1, Arch: "x86_64", SourceRPM: "openssl-3.0.7-24.el9.src.rpm"}.Header(),
			sbomtest.RPM{Name: "bash", Version: "5.1.8", Release: "6.el9_1", Epoch: -1, Arch: "x86_64", SourceRPM: "bash-5.1.8-6.el9_1.src.rpm"}.Header())})
}

func goLayer(t *testing.T) []byte {
	sum := "github.com/opencontainers/go-digest v1.0.0 h1:apOUWs51W5PlhuyGyz9FCeeBIOUDA/6nW8Oi/yOhh5U=\n" +
		"github.com/opencontainers/go-digest v1.0.0/go.mod h1:0JzlMkj0TRzQZfJkVvzbP0HBR3IKzErnv2BNG4W4MAM=\n"
	bin := sbomtest.GoBinary(t, map[string]string{"github.com/opencontainers/go-digest": "v1.0.0"}, []string{"github.com/opencontainers/go-digest"}, sum)
	return sbomtest.Layer(t, sbomtest.File{Name: "usr/local/bin/hello", Body: bin, Mode: 0o755})
}

func appLayer(t *testing.T) []byte {
	return sbomtest.Layer(t,
		sbomtest.Text("app/package-lock.json", `{"name":"app","version":"1.0.0","lockfileVersion":3,"packages":{
"":{"name":"app","version":"1.0.0"},
"node_modules/lodash":{"version":"4.17.20"},
"node_modules/express":{"version":"4.18.2"},
"node_modules/jest":{"version":"29.0.0","dev":true}}}`),
		sbomtest.Text("usr/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n"))
}

func refOf(d digest.Digest) registry.Reference { return registry.Reference{Digest: d} }
