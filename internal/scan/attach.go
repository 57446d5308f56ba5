package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/sbom"
)

// SBOM artifact types (the referrer's artifactType and its layer's media
// type).
const (
	MediaTypeSPDX      = "application/spdx+json"
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
	// AnnotationScanner marks the SBOM referrers berth made.
	AnnotationScanner = "dev.berth.scanner"
)

var emptyJSON = []byte("{}")

// attachSBOM pushes res as an SBOM referrer of m in repo and returns the
// referrer's digest.
func (s *Service) attachSBOM(ctx context.Context, repo string, m meta.Manifest, res sbom.Result) (digest.Digest, error) {
	subject := repo + "@" + m.Digest.String()
	// Dated by the image's push, so that scanning it again makes the same
	// document, the same referrer (not one more).
	created := m.CreatedAt.UTC()
	if created.IsZero() {
		created = s.o.Now().UTC()
	}
	var (
		doc []byte
		mt  string
		err error
	)
	switch s.o.SBOMFormat {
	case FormatCycloneDX:
		mt = MediaTypeCycloneDX
		doc, err = sbom.CycloneDX(res, subject, created)
	default:
		mt = MediaTypeSPDX
		doc, err = sbom.SPDX(res, subject, created)
	}
	if err != nil {
		return "", fmt.Errorf("SBOM document: %w", err)
	}
	layer := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(doc), Size: int64(len(doc))}
	cfg := ocispec.DescriptorEmptyJSON
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{cfg, emptyJSON}, {layer, doc}} {
		if _, err := s.o.Pusher.PutBlob(ctx, repo, b.d.Digest, b.d.Size, bytes.NewReader(b.data)); err != nil {
			return "", fmt.Errorf("SBOM blob: %w", err)
		}
	}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: mt,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size},
		Annotations: map[string]string{
			ocispec.AnnotationCreated: created.Format("2006-01-02T15:04:05Z"),
			AnnotationScanner:         ScannerName,
		},
	}
	body, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(body)
	if _, err := s.o.Pusher.PutManifest(ctx, repo, registry.Reference{Digest: d}, ocispec.MediaTypeImageManifest, body, nil); err != nil {
		return "", fmt.Errorf("SBOM manifest: %w", err)
	}
	return d, nil
}
