package sbom

import (
	"encoding/json"
	"errors"
	"time"
)

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

const cdxImageRef = "image"

// CycloneDX renders r as a CycloneDX 1.5 JSON BOM whose metadata component
// is the container image named by subject, depending on every component
// (each package found, and the operating system when known). The output
// is deterministic for a given r, subject and created.
func CycloneDX(r Result, subject string, created time.Time) ([]byte, error) {
	if subject == "" {
		return nil, errors.New("sbom: CycloneDX needs a subject")
	}
	bom := cdxBOM{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.5",
		SerialNumber: "urn:uuid:" + documentUUID("cyclonedx", r, subject, created),
		Version:      1,
		Metadata: cdxMetadata{
			Timestamp: timestamp(created),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "berth"}}},
			Component: cdxComponent{Type: "container", BOMRef: cdxImageRef, Name: subject},
		},
		Components: []cdxComponent{},
	}
	root := cdxDependency{Ref: cdxImageRef, DependsOn: []string{}}
	if r.OS.ID != "" {
		c := cdxComponent{Type: "operating-system", BOMRef: "os", Name: r.OS.ID, Version: r.OS.VersionID}
		if r.OS.PrettyName != "" {
			c.Properties = []cdxProperty{{Name: "berth:os:pretty-name", Value: r.OS.PrettyName}}
		}
		bom.Components = append(bom.Components, c)
		root.DependsOn = append(root.DependsOn, c.BOMRef)
	}
	for i, id := range packageIDs(r.Packages) {
		p := r.Packages[i]
		c := cdxComponent{Type: "library", BOMRef: "pkg-" + id, Name: p.Name, Version: p.Version, PURL: p.PURL}
		c.Properties = append(c.Properties, cdxProperty{Name: "berth:package:type", Value: p.Type})
		if p.Ecosystem != "" {
			c.Properties = append(c.Properties, cdxProperty{Name: "berth:package:ecosystem", Value: p.Ecosystem})
		}
		if p.Source != "" {
			c.Properties = append(c.Properties, cdxProperty{Name: "berth:package:source", Value: p.Source})
		}
		for _, l := range p.Locations {
			c.Properties = append(c.Properties, cdxProperty{Name: "berth:location", Value: l})
		}
		bom.Components = append(bom.Components, c)
		root.DependsOn = append(root.DependsOn, c.BOMRef)
	}
	bom.Dependencies = []cdxDependency{root}
	return json.MarshalIndent(bom, "", "  ")
}
