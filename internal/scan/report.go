package scan

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// ScannerName names berth's built-in scanner in reports.
const ScannerName = "berth"

// Report is what a scan found (stored as JSON with the scan).
type Report struct {
	// Scanner is "berth", or the name of the external scanner that made
	// the report, Engine what it said it is ("Trivy 0.50.1").
	Scanner string    `json:"scanner"`
	Engine  string    `json:"engine,omitempty"`
	Created time.Time `json:"created"`
	// Artifact is "image", or why nothing was catalogued ("index": its
	// platform manifests are scanned on their own; "artifact": not an
	// image — a signature, SBOM, chart…).
	Artifact string    `json:"artifact"`
	OS       OS        `json:"os"`
	Packages []Package `json:"packages"`
	Findings []Finding `json:"findings"`
	Warnings []string  `json:"warnings,omitempty"`
	// DBGeneration is the database generation the findings come from.
	DBGeneration int64 `json:"db_generation"`
}

// OS is the image's distribution, from os-release.
type OS struct {
	ID         string `json:"id,omitempty"`
	VersionID  string `json:"version_id,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
}

// Package is one installed package.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Ecosystem string   `json:"ecosystem"` // as OSV names it
	Type      string   `json:"type"`      // deb, apk, rpm, go-module, npm, python
	Source    string   `json:"source,omitempty"`
	PURL      string   `json:"purl,omitempty"`
	Locations []string `json:"locations,omitempty"`
}

// Finding is a vulnerability of an installed package.
type Finding struct {
	ID           string   `json:"id"`
	Aliases      []string `json:"aliases,omitempty"`
	Summary      string   `json:"summary,omitempty"`
	Severity     string   `json:"severity"` // CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN
	Score        float64  `json:"score,omitempty"`
	Package      string   `json:"package"`
	Version      string   `json:"version"`
	Ecosystem    string   `json:"ecosystem"`
	Type         string   `json:"type"`
	FixedVersion string   `json:"fixed_version,omitempty"`
}

// Status is a scan as the API shows it.
type Status struct {
	Repository   string        `json:"repository"`
	Digest       digest.Digest `json:"digest"`
	State        string        `json:"state"` // queued, running, done, failed
	Reason       string        `json:"reason,omitempty"`
	QueuedAt     time.Time     `json:"queued_at"`
	StartedAt    *time.Time    `json:"started_at,omitempty"`
	FinishedAt   *time.Time    `json:"finished_at,omitempty"`
	Error        string        `json:"error,omitempty"`
	DBGeneration int64         `json:"db_generation"`
	Summary      Summary       `json:"summary"`
	SBOM         digest.Digest `json:"sbom,omitempty"` // the SBOM referrer's digest
	// Report is the last finished scan's report (nil before one finished).
	Report *Report `json:"report,omitempty"`
}

// Summary counts findings by severity.
type Summary struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Unknown  int `json:"unknown"`
	Packages int `json:"packages"`
}
