package conformance

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// referrersPage is one response of the referrers API, with the raw entries
// kept to check which keys are present.
type referrersPage struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []json.RawMessage `json:"manifests"`
}

// getReferrers fetches every page of the referrers list (following Link
// headers) and returns the entries keyed by digest plus the first response.
func getReferrers(t *testing.T, reg *registry, repo, digest, artifactType string) (map[string]json.RawMessage, *result) {
	t.Helper()
	u := "/v2/" + repo + "/referrers/" + digest
	if artifactType != "" {
		u += "?artifactType=" + url.QueryEscape(artifactType)
	}
	entries := map[string]json.RawMessage{}
	var first *result
	for page := 0; u != ""; page++ {
		if page > 100 {
			t.Fatal("referrers pagination does not end")
		}
		res := reg.do(t, http.MethodGet, u, nil)
		if first == nil {
			first = res
		}
		if !expectStatus(t, res, http.StatusOK) {
			t.FailNow()
		}
		expectMediaType(t, res, mtOCIIndex)
		var p referrersPage
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatalf("referrers body: %v: %s", err, res)
		}
		if p.SchemaVersion != 2 || p.MediaType != mtOCIIndex {
			t.Errorf("referrers index has schemaVersion %d mediaType %q", p.SchemaVersion, p.MediaType)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(res.Body, &raw); err != nil {
			t.Fatal(err)
		}
		if m := bytes.TrimSpace(raw["manifests"]); !bytes.HasPrefix(m, []byte("[")) {
			t.Errorf("referrers manifests is %q, want a JSON array (empty list, not null/absent)", m)
		}
		for _, e := range p.Manifests {
			var d descriptor
			if err := json.Unmarshal(e, &d); err != nil {
				t.Fatal(err)
			}
			if _, dup := entries[d.Digest]; dup {
				t.Errorf("referrer %s listed twice", d.Digest)
			}
			entries[d.Digest] = e
		}
		u = nextLink(t, res)
	}
	return entries, first
}

// wantReferrer is what the referrers list must say about one manifest.
type wantReferrer struct {
	desc         descriptor
	artifactType string // "" = key must be absent
	annotations  map[string]string
}

func checkReferrers(t *testing.T, got map[string]json.RawMessage, want ...wantReferrer) {
	t.Helper()
	var gotKeys, wantKeys []string
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	for _, w := range want {
		wantKeys = append(wantKeys, w.desc.Digest)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("referrers %v, want %v", gotKeys, wantKeys)
	}
	for _, w := range want {
		raw, ok := got[w.desc.Digest]
		if !ok {
			continue
		}
		var d descriptor
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &keys); err != nil {
			t.Fatal(err)
		}
		if d.MediaType != w.desc.MediaType || d.Size != w.desc.Size {
			t.Errorf("referrer %s: mediaType %q size %d, want %q %d", w.desc.Digest, d.MediaType, d.Size, w.desc.MediaType, w.desc.Size)
		}
		if _, has := keys["artifactType"]; w.artifactType == "" && has {
			t.Errorf("referrer %s: artifactType %s must be omitted", w.desc.Digest, keys["artifactType"])
		}
		if d.ArtifactType != w.artifactType {
			t.Errorf("referrer %s: artifactType %q, want %q", w.desc.Digest, d.ArtifactType, w.artifactType)
		}
		if !maps.Equal(d.Annotations, w.annotations) {
			t.Errorf("referrer %s: annotations %v, want %v", w.desc.Digest, d.Annotations, w.annotations)
		}
	}
}

func TestReferrers(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "referrers")
	subject := reg.pushImage(t, repo, "subject")
	other := reg.pushImage(t, repo, "other")

	const (
		sbomType = "application/vnd.example.sbom.v1"
		sigType  = "application/vnd.example.signature.v1"
		cfgType  = "application/vnd.example.config.v1+json"
	)
	sbomAnn := map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "org.example.format": "json"}
	sbom := reg.pushArtifact(t, repo, sbomType, &subject.desc, sbomAnn)
	sig := reg.pushArtifact(t, repo, sigType, &subject.desc, nil)

	// An image manifest without artifactType: the list reports its config's
	// media type instead.
	plainCfg := reg.pushBlob(t, repo, cfgType, []byte(`{"x":"`+randomHex(t, 4)+`"}`))
	plainBody := encode(t, manifest{SchemaVersion: 2, MediaType: mtOCIManifest, Config: plainCfg, Layers: []descriptor{},
		Subject: &subject.desc, Annotations: map[string]string{"k": "v"}})
	plain := content{desc: descriptor{MediaType: mtOCIManifest, Digest: sha256Digest(plainBody), Size: int64(len(plainBody))}, body: plainBody}
	res := reg.putManifest(t, repo, plain.desc.Digest, mtOCIManifest, plainBody)
	expectHeader(t, res, "OCI-Subject", subject.desc.Digest)

	// An index with a subject and no artifactType: artifactType is omitted.
	part := reg.pushArtifact(t, repo, "application/vnd.example.part", nil, nil)
	idxBody := encode(t, index{SchemaVersion: 2, MediaType: mtOCIIndex, Manifests: []descriptor{part.desc}, Subject: &subject.desc})
	idx := content{desc: descriptor{MediaType: mtOCIIndex, Digest: sha256Digest(idxBody), Size: int64(len(idxBody))}, body: idxBody}
	res = reg.putManifest(t, repo, idx.desc.Digest, mtOCIIndex, idxBody)
	expectHeader(t, res, "OCI-Subject", subject.desc.Digest)

	// An index with a subject and an artifactType.
	idx2Body := encode(t, index{SchemaVersion: 2, MediaType: mtOCIIndex, ArtifactType: "application/vnd.example.bundle",
		Manifests: []descriptor{part.desc}, Subject: &subject.desc, Annotations: map[string]string{"i": "2"}})
	idx2 := content{desc: descriptor{MediaType: mtOCIIndex, Digest: sha256Digest(idx2Body), Size: int64(len(idx2Body))}, body: idx2Body}
	reg.putManifest(t, repo, idx2.desc.Digest, mtOCIIndex, idx2Body)

	// Referrers of another subject, and of the same subject in another
	// repository, must not show up.
	reg.pushArtifact(t, repo, sbomType, &other.desc, nil)
	elsewhere := reg.repo(t, "referrers-elsewhere")
	reg.pushArtifact(t, elsewhere, sbomType, &subject.desc, nil)

	all := []wantReferrer{
		{desc: sbom.desc, artifactType: sbomType, annotations: sbomAnn},
		{desc: sig.desc, artifactType: sigType},
		{desc: plain.desc, artifactType: cfgType, annotations: map[string]string{"k": "v"}},
		{desc: idx.desc},
		{desc: idx2.desc, artifactType: "application/vnd.example.bundle", annotations: map[string]string{"i": "2"}},
	}

	t.Run("lists every manifest whose subject is the digest", func(t *testing.T) {
		got, _ := getReferrers(t, reg, repo, subject.desc.Digest, "")
		checkReferrers(t, got, all...)
	})
	t.Run("artifactType filter", func(t *testing.T) {
		got, first := getReferrers(t, reg, repo, subject.desc.Digest, sbomType)
		expectHeader(t, first, "OCI-Filters-Applied", "artifactType")
		checkReferrers(t, got, all[0])
	})
	t.Run("filter on the config media type", func(t *testing.T) {
		got, first := getReferrers(t, reg, repo, subject.desc.Digest, cfgType)
		expectHeader(t, first, "OCI-Filters-Applied", "artifactType")
		checkReferrers(t, got, all[2])
	})
	t.Run("filter matching nothing is an empty list", func(t *testing.T) {
		got, first := getReferrers(t, reg, repo, subject.desc.Digest, "application/vnd.example.none")
		expectHeader(t, first, "OCI-Filters-Applied", "artifactType")
		checkReferrers(t, got)
	})
	t.Run("digest without referrers is an empty list, not 404", func(t *testing.T) {
		got, first := getReferrers(t, reg, repo, sbom.desc.Digest, "")
		checkReferrers(t, got)
		if first.Header.Get("OCI-Filters-Applied") != "" {
			t.Errorf("OCI-Filters-Applied set without a filter: %s", first)
		}
	})
	t.Run("unknown digest is an empty list", func(t *testing.T) {
		got, _ := getReferrers(t, reg, repo, sha256Digest(randomBytes(t, 8)), "")
		checkReferrers(t, got)
	})
	t.Run("subject pushed after its referrer", func(t *testing.T) {
		late := reg.repo(t, "referrers-late")
		cfg := []byte(`{"late":"` + randomHex(t, 4) + `"}`)
		m := manifest{SchemaVersion: 2, MediaType: mtOCIManifest, Config: descriptor{MediaType: mtOCIConfig,
			Digest: sha256Digest(cfg), Size: int64(len(cfg))}, Layers: []descriptor{}}
		body := encode(t, m)
		subj := descriptor{MediaType: mtOCIManifest, Digest: sha256Digest(body), Size: int64(len(body))}
		art := reg.pushArtifact(t, late, sigType, &subj, nil)
		reg.pushBlob(t, late, mtOCIConfig, cfg)
		reg.putManifest(t, late, "v1", mtOCIManifest, body)
		got, _ := getReferrers(t, reg, late, subj.Digest, "")
		checkReferrers(t, got, wantReferrer{desc: art.desc, artifactType: sigType})
	})
	t.Run("a deleted referrer is no longer listed", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+sig.desc.Digest, nil)
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		got, _ := getReferrers(t, reg, repo, subject.desc.Digest, "")
		checkReferrers(t, got, all[0], all[2], all[3], all[4])
	})
	t.Run("sha512 subject", func(t *testing.T) {
		ghost := descriptor{MediaType: mtOCIManifest, Digest: sha512Digest(randomBytes(t, 8)), Size: 100}
		art := reg.pushArtifact(t, repo, sbomType, &ghost, nil)
		got, _ := getReferrers(t, reg, repo, ghost.Digest, "")
		checkReferrers(t, got, wantReferrer{desc: art.desc, artifactType: sbomType})
	})
	for _, bad := range []string{"sha256:abc", "notadigest", "sha256:" + randomHex(t, 31) + "XY"} {
		t.Run("invalid digest "+bad+" is 400", func(t *testing.T) {
			res := reg.do(t, http.MethodGet, "/v2/"+repo+"/referrers/"+bad, nil)
			expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID")
		})
	}
}
