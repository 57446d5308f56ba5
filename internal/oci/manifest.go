package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types berth knows by name.
const (
	MediaTypeOCIManifest    = ocispec.MediaTypeImageManifest
	MediaTypeOCIIndex       = ocispec.MediaTypeImageIndex
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1  = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSigned1  = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeEmptyJSON      = ocispec.MediaTypeEmptyJSON
)

// Kind says whether a manifest points at blobs (an image manifest or
// artifact) or at other manifests (an index).
type Kind int

const (
	KindImage Kind = iota + 1
	KindIndex
)

// Parsed is what the registry needs to know about a pushed manifest.
type Parsed struct {
	MediaType    string
	Kind         Kind
	ArtifactType string // artifactType, or the config media type of an image manifest
	Blobs        []ocispec.Descriptor
	Manifests    []ocispec.Descriptor
	Subject      *ocispec.Descriptor
	Annotations  map[string]string
}

// ErrInvalidManifest wraps every parse/validation failure.
var ErrInvalidManifest = errors.New("invalid manifest")

type rawManifest struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
}

// ParseManifest validates a manifest body pushed with the given Content-Type
// and returns its media type and references.
func ParseManifest(contentType string, body []byte) (*Parsed, error) {
	var raw rawManifest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, invalid("not valid JSON: %v", err)
	}
	ct := ""
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			ct = mt
		}
	}
	mt := raw.MediaType
	switch {
	case mt == "" && ct != "" && ct != "application/json":
		mt = ct
	case mt == "":
		switch {
		case raw.Manifests != nil:
			mt = MediaTypeOCIIndex
		case raw.Config != nil:
			mt = MediaTypeOCIManifest
		}
	case isKnownManifestType(ct) && ct != mt:
		return nil, invalid("mediaType %q does not match Content-Type %q", mt, ct)
	}
	if mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSigned1 {
		return nil, invalid("Docker schema 1 manifests are not supported")
	}
	if mt == "" {
		return nil, invalid("no media type: set the mediaType field or Content-Type")
	}

	p := &Parsed{MediaType: mt, Annotations: raw.Annotations}
	switch {
	case mt == MediaTypeOCIIndex || mt == MediaTypeDockerList:
		p.Kind = KindIndex
	case mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest:
		p.Kind = KindImage
	case raw.Config != nil:
		p.Kind = KindImage
	case raw.Manifests != nil:
		p.Kind = KindIndex
	default:
		return nil, invalid("media type %q is neither an image manifest nor an index", mt)
	}
	if raw.SchemaVersion == nil || *raw.SchemaVersion != 2 {
		return nil, invalid("schemaVersion must be 2")
	}

	switch p.Kind {
	case KindImage:
		if raw.Config == nil {
			return nil, invalid("image manifest has no config")
		}
		if raw.Manifests != nil {
			return nil, invalid("image manifest must not have manifests")
		}
		if err := checkDescriptor("config", *raw.Config); err != nil {
			return nil, err
		}
		p.Blobs = append(p.Blobs, *raw.Config)
		for i, l := range raw.Layers {
			if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
				return nil, err
			}
			if len(l.URLs) > 0 {
				continue // a foreign (non-distributable) layer lives elsewhere
			}
			p.Blobs = append(p.Blobs, l)
		}
		p.ArtifactType = raw.ArtifactType
		if p.ArtifactType == "" {
			p.ArtifactType = raw.Config.MediaType
		}
	case KindIndex:
		if raw.Config != nil || raw.Layers != nil {
			return nil, invalid("index must not have config or layers")
		}
		for i, m := range raw.Manifests {
			if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), m); err != nil {
				return nil, err
			}
		}
		p.Manifests = raw.Manifests
		p.ArtifactType = raw.ArtifactType
	}
	if raw.Subject != nil {
		if err := checkDescriptor("subject", *raw.Subject); err != nil {
			return nil, err
		}
		p.Subject = raw.Subject
	}
	return p, nil
}

func checkDescriptor(where string, d ocispec.Descriptor) error {
	if _, err := ParseDigest(string(d.Digest)); err != nil {
		return invalid("%s: %v", where, err)
	}
	if d.Size < 0 {
		return invalid("%s: negative size", where)
	}
	return nil
}

func isKnownManifestType(mt string) bool {
	switch mt {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerList:
		return true
	}
	return false
}

// Digests returns the digests of a descriptor list.
func Digests(ds []ocispec.Descriptor) []digest.Digest {
	out := make([]digest.Digest, len(ds))
	for i, d := range ds {
		out[i] = d.Digest
	}
	return out
}
