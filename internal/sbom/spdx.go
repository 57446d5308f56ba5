package sbom

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                string            `json:"SPDXID"`
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	SourceInfo            string            `json:"sourceInfo,omitempty"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs,omitempty"`
	Comment               string            `json:"comment,omitempty"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

const spdxImageID = "SPDXRef-Image"

// SPDX renders r as an SPDX 2.3 JSON document describing the image named
// by subject ("registry/repo@sha256:..."): the document DESCRIBES a
// container package for the image, which CONTAINS every package found.
// The output is deterministic for a given r, subject and created.
func SPDX(r Result, subject string, created time.Time) ([]byte, error) {
	if subject == "" {
		return nil, errors.New("sbom: SPDX needs a subject")
	}
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              subject,
		DocumentNamespace: "urn:uuid:" + documentUUID("spdx", r, subject, created),
		CreationInfo:      spdxCreationInfo{Created: timestamp(created), Creators: []string{"Tool: berth"}},
		Packages: []spdxPackage{{
			SPDXID:                spdxImageID,
			Name:                  subject,
			DownloadLocation:      "NOASSERTION",
			PrimaryPackagePurpose: "CONTAINER",
			Comment:               osComment(r.OS),
		}},
		Relationships: []spdxRelationship{{SPDXElementID: "SPDXRef-DOCUMENT", RelationshipType: "DESCRIBES", RelatedSPDXElement: spdxImageID}},
	}
	for i, id := range packageIDs(r.Packages) {
		p := r.Packages[i]
		sp := spdxPackage{
			SPDXID:           "SPDXRef-Package-" + p.Type + "-" + id,
			Name:             p.Name,
			VersionInfo:      p.Version,
			DownloadLocation: "NOASSERTION",
		}
		if len(p.Locations) > 0 {
			sp.SourceInfo = "found in " + joinLocations(p.Locations)
		}
		if p.PURL != "" {
			sp.ExternalRefs = []spdxExternalRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, spdxRelationship{SPDXElementID: spdxImageID, RelationshipType: "CONTAINS", RelatedSPDXElement: sp.SPDXID})
	}
	return json.MarshalIndent(doc, "", "  ")
}

func osComment(o OS) string {
	switch {
	case o.PrettyName != "":
		return "operating system: " + o.PrettyName
	case o.ID != "":
		return "operating system: " + o.ID + " " + o.VersionID
	}
	return ""
}

func joinLocations(ls []string) string { return strings.Join(ls, ", ") }
