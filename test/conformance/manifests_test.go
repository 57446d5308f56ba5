package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// checkManifest GETs and HEADs ref and checks status, bytes, digest, type.
func checkManifest(t *testing.T, reg *registry, repo, ref string, want content) {
	t.Helper()
	u := "/v2/" + repo + "/manifests/" + ref
	res := reg.do(t, http.MethodGet, u, nil, "Accept", want.desc.MediaType)
	if expectStatus(t, res, http.StatusOK) {
		expectBody(t, res, want.body)
		expectMediaType(t, res, want.desc.MediaType)
		expectHeader(t, res, "Docker-Content-Digest", want.desc.Digest)
		expectHeader(t, res, "Content-Length", strconv.FormatInt(want.desc.Size, 10))
	}
	res = reg.do(t, http.MethodHead, u, nil, "Accept", want.desc.MediaType)
	if expectStatus(t, res, http.StatusOK) {
		expectMediaType(t, res, want.desc.MediaType)
		expectHeader(t, res, "Docker-Content-Digest", want.desc.Digest)
		if res.ContentLength != want.desc.Size {
			t.Errorf("HEAD %s Content-Length %d, want %d", u, res.ContentLength, want.desc.Size)
		}
	}
}

// pushAndCheck PUTs a manifest by tag and checks the 201 answer.
func pushAndCheck(t *testing.T, reg *registry, repo, ref, mediaType string, body []byte) content {
	t.Helper()
	d := sha256Digest(body)
	res := reg.putManifest(t, repo, ref, mediaType, body)
	expectHeader(t, res, "Docker-Content-Digest", d)
	if loc := expectHeaderSet(t, res, "Location"); loc != "" {
		got := reg.do(t, http.MethodGet, loc, nil, "Accept", mediaType)
		expectStatus(t, got, http.StatusOK)
		expectBody(t, got, body)
	}
	return content{desc: descriptor{MediaType: mediaType, Digest: d, Size: int64(len(body))}, body: body}
}

func TestManifestTypes(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "manifests")

	t.Run("OCI image manifest by tag", func(t *testing.T) {
		img := reg.pushImage(t, repo, "oci")
		checkManifest(t, reg, repo, "oci", img)
		checkManifest(t, reg, repo, img.desc.Digest, img)
	})

	var dockerImg content
	t.Run("Docker schema2 manifest (go-containerregistry random image)", func(t *testing.T) {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		reg.pushBlob(t, repo, mtDockerConfig, cfg)
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b := readAll(t, rc)
			reg.pushBlob(t, repo, mtDockerLayer, b)
		}
		raw, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := img.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		if string(mt) != mtDockerManifest {
			t.Fatalf("random.Image media type %q", mt)
		}
		dockerImg = pushAndCheck(t, reg, repo, "docker", mtDockerManifest, raw)
		checkManifest(t, reg, repo, "docker", dockerImg)
		checkManifest(t, reg, repo, dockerImg.desc.Digest, dockerImg)
	})

	t.Run("Docker manifest list", func(t *testing.T) {
		if dockerImg.body == nil {
			t.Skip("needs the schema2 manifest")
		}
		d := dockerImg.desc
		d.Platform = &platform{Architecture: "amd64", OS: "linux"}
		body := encode(t, index{SchemaVersion: 2, MediaType: mtDockerList, Manifests: []descriptor{d}})
		list := pushAndCheck(t, reg, repo, "dockerlist", mtDockerList, body)
		checkManifest(t, reg, repo, "dockerlist", list)
		checkManifest(t, reg, repo, list.desc.Digest, list)
	})

	t.Run("OCI index", func(t *testing.T) {
		a := reg.pushImage(t, repo, "")
		b := reg.pushImage(t, repo, "")
		a.desc.Platform = &platform{Architecture: "amd64", OS: "linux"}
		b.desc.Platform = &platform{Architecture: "arm64", OS: "linux"}
		body := encode(t, index{SchemaVersion: 2, MediaType: mtOCIIndex, Manifests: []descriptor{a.desc, b.desc},
			Annotations: map[string]string{"org.example": "index"}})
		idx := pushAndCheck(t, reg, repo, "index", mtOCIIndex, body)
		checkManifest(t, reg, repo, "index", idx)
		checkManifest(t, reg, repo, idx.desc.Digest, idx)
	})

	t.Run("artifact manifest with artifactType and empty config", func(t *testing.T) {
		art := reg.pushArtifact(t, repo, "application/vnd.example.thing.v1", nil, map[string]string{"k": "v"})
		checkManifest(t, reg, repo, art.desc.Digest, art)
		res := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+sha256Digest(emptyJSON), nil)
		expectStatus(t, res, http.StatusOK)
		expectBody(t, res, emptyJSON)
	})

	t.Run("image manifest without layers", func(t *testing.T) {
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest, ArtifactType: "application/vnd.example.nolayers",
			Config: reg.pushBlob(t, repo, mtOCIEmpty, emptyJSON), Layers: []descriptor{}}
		c := pushAndCheck(t, reg, repo, "nolayers", mtOCIManifest, encode(t, m))
		checkManifest(t, reg, repo, "nolayers", c)
	})

	t.Run("manifest bytes are stored exactly", func(t *testing.T) {
		img := reg.pushImage(t, repo, "")
		odd := []byte(strings.Replace(string(img.body), "\t", "    ", -1) + "   \n")
		c := pushAndCheck(t, reg, repo, "odd-spacing", mtOCIManifest, odd)
		checkManifest(t, reg, repo, "odd-spacing", c)
	})

	t.Run("PUT by digest", func(t *testing.T) {
		img := reg.pushImage(t, repo, "")
		checkManifest(t, reg, repo, img.desc.Digest, img)
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+img.desc.Digest, img.body, "Content-Type", mtOCIManifest)
		expectStatus(t, res, http.StatusCreated)
		expectHeader(t, res, "Docker-Content-Digest", img.desc.Digest)
		expectHeaderSet(t, res, "Location")
	})

	t.Run("retag moves the tag", func(t *testing.T) {
		a := reg.pushImage(t, repo, "moving")
		b := reg.pushImage(t, repo, "moving")
		checkManifest(t, reg, repo, "moving", b)
		checkManifest(t, reg, repo, a.desc.Digest, a)
	})

	t.Run("sha512 manifest", func(t *testing.T) {
		cfg := []byte(`{"architecture":"amd64","os":"linux","comment":"` + randomHex(t, 4) + `"}`)
		layer := randomBytes(t, 128)
		for _, b := range [][]byte{cfg, layer} {
			loc := reg.startUpload(t, repo, "digest-algorithm", "sha512")
			res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", sha512Digest(b)), b, "Content-Type", "application/octet-stream")
			if !expectStatus(t, res, http.StatusCreated) {
				return
			}
		}
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest,
			Config: descriptor{MediaType: mtOCIConfig, Digest: sha512Digest(cfg), Size: int64(len(cfg))},
			Layers: []descriptor{{MediaType: mtOCILayer, Digest: sha512Digest(layer), Size: int64(len(layer))}}}
		body := encode(t, m)
		d := sha512Digest(body)
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+d, body, "Content-Type", mtOCIManifest)
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", d)
		checkManifest(t, reg, repo, d, content{desc: descriptor{MediaType: mtOCIManifest, Digest: d, Size: int64(len(body))}, body: body})
	})
}

func TestManifestTagParam(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "tagparam")
	img := reg.pushImage(t, repo, "")

	t.Run("PUT by digest with ?tag=a&tag=b tags both", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+img.desc.Digest+"?tag=a&tag=b.2", img.body,
			"Content-Type", mtOCIManifest)
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", img.desc.Digest)
		var got []string
		for _, v := range res.Header.Values("OCI-Tag") {
			for _, s := range strings.Split(v, ",") {
				got = append(got, strings.TrimSpace(s))
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"a", "b.2"}) {
			t.Errorf("OCI-Tag headers %q, want a and b.2", res.Header.Values("OCI-Tag"))
		}
		checkManifest(t, reg, repo, "a", img)
		checkManifest(t, reg, repo, "b.2", img)
	})
	t.Run("an invalid tag parameter is 400", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+img.desc.Digest+"?tag=.bad", img.body,
			"Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "TAG_INVALID", "MANIFEST_INVALID")
	})
}

func TestManifestErrors(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "manerr")
	img := reg.pushImage(t, repo, "exists")

	t.Run("manifest referencing a blob not in the repository is 400 MANIFEST_BLOB_UNKNOWN", func(t *testing.T) {
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest,
			Config: reg.pushBlob(t, repo, mtOCIConfig, []byte(`{"c":"`+randomHex(t, 4)+`"}`)),
			Layers: []descriptor{{MediaType: mtOCILayer, Digest: sha256Digest(randomBytes(t, 10)), Size: 10}}}
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/missing-layer", encode(t, m), "Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/missing-layer", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("a blob of another repository does not count", func(t *testing.T) {
		other := reg.repo(t, "manerr-other")
		layer := reg.pushBlob(t, other, mtOCILayer, randomBytes(t, 40))
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest,
			Config: reg.pushBlob(t, repo, mtOCIConfig, []byte(`{"c":"`+randomHex(t, 4)+`"}`)),
			Layers: []descriptor{layer}}
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/foreign-layer", encode(t, m), "Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	})
	t.Run("invalid JSON is 400 MANIFEST_INVALID", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/broken", []byte(`{"schemaVersion":2,`), "Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "MANIFEST_INVALID")
	})
	t.Run("mediaType not matching Content-Type is 400 MANIFEST_INVALID", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/mismatch", img.body, "Content-Type", mtOCIIndex)
		expectErr(t, res, http.StatusBadRequest, "MANIFEST_INVALID")
	})
	t.Run("digest in the URL not matching the body is 400 DIGEST_INVALID", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+sha256Digest([]byte("x")), img.body, "Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID")
	})
	t.Run("malformed digest in the URL is 400", func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/sha256:nothex", img.body, "Content-Type", mtOCIManifest)
		expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID", "MANIFEST_INVALID", "TAG_INVALID")
		res = reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/sha256:nothex", nil)
		expectError(t, res, []int{http.StatusBadRequest, http.StatusNotFound}, "DIGEST_INVALID", "MANIFEST_UNKNOWN", "TAG_INVALID")
	})
	for _, bad := range []string{".INVALID_MANIFEST_NAME", "-dash", strings.Repeat("t", 129), "bad%21tag"} {
		t.Run("invalid tag "+bad[:min(len(bad), 12)]+": PUT 400, pull 404", func(t *testing.T) {
			res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+bad, img.body, "Content-Type", mtOCIManifest)
			expectErr(t, res, http.StatusBadRequest, "TAG_INVALID", "MANIFEST_INVALID")
			// Pulls only fail with 404 (end-3); conformance v1.1.1 GETs and
			// HEADs ".INVALID_MANIFEST_NAME" and wants exactly that.
			res = reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+bad, nil)
			expectErr(t, res, http.StatusNotFound, "MANIFEST_UNKNOWN")
			res = reg.do(t, http.MethodHead, "/v2/"+repo+"/manifests/"+bad, nil)
			expectErr(t, res, http.StatusNotFound)
		})
	}
	t.Run("a 128-character tag is fine", func(t *testing.T) {
		tag := "T" + strings.Repeat("a", 127)
		reg.putManifest(t, repo, tag, mtOCIManifest, img.body)
		checkManifest(t, reg, repo, tag, img)
	})
	t.Run("unknown tag is 404 MANIFEST_UNKNOWN", func(t *testing.T) {
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/nope", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodHead, "/v2/"+repo+"/manifests/nope", nil), http.StatusNotFound)
	})
	t.Run("unknown digest is 404 MANIFEST_UNKNOWN", func(t *testing.T) {
		d := sha256Digest(randomBytes(t, 8))
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+d, nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("a blob digest is not a manifest", func(t *testing.T) {
		var m manifest
		if err := json.Unmarshal(img.body, &m); err != nil {
			t.Fatal(err)
		}
		res := reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+m.Layers[0].Digest, nil)
		expectErr(t, res, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("unknown repository is 404", func(t *testing.T) {
		res := reg.do(t, http.MethodGet, "/v2/"+reg.repo(t, "ghost")+"/manifests/latest", nil)
		expectErr(t, res, http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
	})
	t.Run("a manifest of another repository is not visible", func(t *testing.T) {
		other := reg.repo(t, "manerr-other")
		reg.pushImage(t, other, "x")
		res := reg.do(t, http.MethodGet, "/v2/"+other+"/manifests/"+img.desc.Digest, nil)
		expectErr(t, res, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	for _, name := range []string{"conformance/UpperCase", "conformance/a..b", "conformance/x_-y"} {
		t.Run("invalid repository name "+name, func(t *testing.T) {
			res := reg.do(t, http.MethodPut, "/v2/"+name+"/manifests/latest", img.body, "Content-Type", mtOCIManifest)
			if res.Status == http.StatusBadRequest {
				expectErr(t, res, http.StatusBadRequest, "NAME_INVALID")
			} else {
				expectErr(t, res, http.StatusNotFound, "NAME_INVALID", "NAME_UNKNOWN")
			}
		})
	}
}

func TestManifestSparseIndex(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "sparse")
	t.Run("index naming manifests that are not in the repository is accepted", func(t *testing.T) {
		missing := descriptor{MediaType: mtOCIManifest, Digest: sha256Digest(randomBytes(t, 32)), Size: 500,
			Platform: &platform{Architecture: "riscv64", OS: "linux"}}
		present := reg.pushImage(t, repo, "")
		body := encode(t, index{SchemaVersion: 2, MediaType: mtOCIIndex, Manifests: []descriptor{present.desc, missing}})
		c := pushAndCheck(t, reg, repo, "sparse", mtOCIIndex, body)
		checkManifest(t, reg, repo, "sparse", c)
	})
}

func TestManifestSizeLimit(t *testing.T) {
	const small = 64 << 10
	reg := newRegistry(t, func(c *config.Config) { c.Registry.ManifestMaxSize = small })
	limit := small
	if reg.external {
		limit = 4 << 20 // what the spec asks registries to accept at least
	}
	repo := reg.repo(t, "bigmanifest")
	cfgDesc := reg.pushBlob(t, repo, mtOCIConfig, []byte(`{"c":"`+randomHex(t, 4)+`"}`))
	// padded builds a valid manifest of exactly n bytes.
	padded := func(t *testing.T, n int) []byte {
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest, Config: cfgDesc, Layers: []descriptor{},
			Annotations: map[string]string{"pad": ""}}
		base := len(encode(t, m))
		if n < base {
			t.Fatalf("cannot pad to %d bytes", n)
		}
		m.Annotations["pad"] = strings.Repeat("p", n-base)
		b := encode(t, m)
		if len(b) != n {
			t.Fatalf("padded manifest is %d bytes, want %d", len(b), n)
		}
		return b
	}
	t.Run(fmt.Sprintf("manifest of exactly %d bytes is accepted", limit), func(t *testing.T) {
		body := padded(t, limit)
		c := pushAndCheck(t, reg, repo, "at-limit", mtOCIManifest, body)
		checkManifest(t, reg, repo, "at-limit", c)
	})
	t.Run(fmt.Sprintf("manifest of %d bytes is 413", limit+1), func(t *testing.T) {
		res := reg.do(t, http.MethodPut, "/v2/"+repo+"/manifests/over-limit", padded(t, limit+1), "Content-Type", mtOCIManifest)
		if res.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("want 413, got %s", res)
		}
		if len(res.Body) > 0 {
			checkErrorBody(t, res, "SIZE_INVALID", "MANIFEST_INVALID")
		}
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/over-limit", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
}

func TestManifestSubject(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "subject")
	img := reg.pushImage(t, repo, "base")

	t.Run("manifest with subject: 201 with OCI-Subject", func(t *testing.T) {
		art := reg.pushArtifact(t, repo, "application/vnd.example.sig", &img.desc, nil)
		checkManifest(t, reg, repo, art.desc.Digest, art)
	})
	t.Run("subject that does not exist yet is accepted", func(t *testing.T) {
		ghost := descriptor{MediaType: mtOCIManifest, Digest: sha256Digest(randomBytes(t, 16)), Size: 321}
		art := reg.pushArtifact(t, repo, "application/vnd.example.sig", &ghost, nil)
		checkManifest(t, reg, repo, art.desc.Digest, art)
	})
	t.Run("index with subject: 201 with OCI-Subject", func(t *testing.T) {
		a := reg.pushArtifact(t, repo, "application/vnd.example.part", nil, nil)
		body := encode(t, index{SchemaVersion: 2, MediaType: mtOCIIndex, Manifests: []descriptor{a.desc}, Subject: &img.desc})
		res := reg.putManifest(t, repo, sha256Digest(body), mtOCIIndex, body)
		expectHeader(t, res, "OCI-Subject", img.desc.Digest)
	})
}

func TestManifestDelete(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "mandel")
	img := reg.pushImage(t, repo, "one")
	reg.putManifest(t, repo, "two", mtOCIManifest, img.body)

	t.Run("DELETE tag is 202 and only untags", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/one", nil)
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/one", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
		checkManifest(t, reg, repo, img.desc.Digest, img)
		checkManifest(t, reg, repo, "two", img)
	})
	t.Run("DELETE unknown tag is 404", func(t *testing.T) {
		expectErr(t, reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/never", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("DELETE by digest is 202; digest and tags are gone", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+img.desc.Digest, nil)
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/"+img.desc.Digest, nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodHead, "/v2/"+repo+"/manifests/"+img.desc.Digest, nil), http.StatusNotFound)
		expectErr(t, reg.do(t, http.MethodGet, "/v2/"+repo+"/manifests/two", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("DELETE unknown digest is 404 MANIFEST_UNKNOWN", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+img.desc.Digest, nil)
		expectErr(t, res, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
	t.Run("DELETE in an unknown repository is 404", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+reg.repo(t, "ghost")+"/manifests/"+img.desc.Digest, nil)
		expectErr(t, res, http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
	})
	t.Run("manifest can be pushed again after DELETE", func(t *testing.T) {
		reg.putManifest(t, repo, "again", mtOCIManifest, img.body)
		checkManifest(t, reg, repo, "again", img)
	})
}
