package meta

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// VulnRecord is one advisory of the vulnerability database, in the OSV
// format (Data is the record's JSON as imported).
type VulnRecord struct {
	ID        string
	Modified  time.Time
	Withdrawn bool
	Data      []byte
	// Packages are the (ecosystem, name) pairs the record names, for
	// lookup; names as the matcher normalises them.
	Packages []VulnPackage
}

// VulnPackage is a package an advisory is about.
type VulnPackage struct {
	Ecosystem string // as OSV names it: "Debian:12", "Alpine:v3.19", "Go", "npm", "PyPI"…
	Name      string
}

// VulnDBState describes the imported database. Generation grows with each
// import; scans remember the generation they matched against.
type VulnDBState struct {
	Generation int64
	ImportedAt time.Time
	Records    int64
	Source     string
}

// Scan states.
const (
	ScanQueued  = "queued"
	ScanRunning = "running"
	ScanDone    = "done"
	ScanFailed  = "failed"
)

// Scan is the vulnerability scan of one manifest of a repository: a queue
// entry while queued or running, then its result.
type Scan struct {
	Repo       string
	Digest     digest.Digest
	State      string
	Reason     string // "push", "manual", …
	Attempts   int
	Holder     string // the worker holding a running scan
	LeaseUntil time.Time
	QueuedAt   time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// DBGeneration is the database generation the findings were matched
	// against.
	DBGeneration int64
	Error        string
	// Counts of findings by severity: critical, high, medium, low, unknown.
	Critical, High, Medium, Low, Unknown int
	Packages                             int
	SBOM                                 digest.Digest // the SBOM referrer pushed for it ("" = none)
	Report                               []byte        // the scanner's JSON report
}

type ScanReader interface {
	// VulnDBState returns the database's state (the zero state before any
	// import).
	VulnDBState() (VulnDBState, error)
	// VulnRecordsFor returns the records naming package name in any of
	// ecosystems, with their data, sorted by ID.
	VulnRecordsFor(ecosystems []string, name string) ([]VulnRecord, error)
	// Scan returns the scan of digest d in repo, or ErrNotFound.
	Scan(repo string, d digest.Digest) (Scan, error)
	// ScansBehind returns up to n finished (done) scans matched against a
	// generation older than gen, after the cursor (repo, digest), sorted
	// by repository then digest; with their reports.
	ScansBehind(gen int64, afterRepo string, afterDigest digest.Digest, n int) ([]Scan, error)
	// ScanCursor is the last outbox event the scanner looked at.
	ScanCursor() (int64, error)
	// ScanPolicy returns project's vulnerability pull policy, or ErrNotFound.
	ScanPolicy(project string) (ScanPolicy, error)
	// ScanPolicies returns every project's policy, by project.
	ScanPolicies() ([]ScanPolicy, error)
}

type ScanWriter interface {
	// PutVulnRecords adds or replaces records (with their packages) and
	// returns how many changed (a record whose Modified time is not newer
	// is left alone).
	PutVulnRecords(rs []VulnRecord) (int, error)
	// SetVulnDBState records an import.
	SetVulnDBState(s VulnDBState) error
	// QueueScan queues a scan of d in repo unless one is queued or running
	// (false then). A finished scan is queued again, keeping its result
	// until the new one finishes. ErrNotFound when repo does not exist.
	QueueScan(repo string, d digest.Digest, reason string, now time.Time) (bool, error)
	// ClaimScan gives the oldest queued scan to holder until now+ttl.
	ClaimScan(holder string, now time.Time, ttl time.Duration) (Scan, bool, error)
	// RenewScan extends holder's lease of a running scan; ErrNotFound when
	// the scan is no longer holder's.
	RenewScan(repo string, d digest.Digest, holder string, until time.Time) error
	// FinishScan stores the outcome of holder's running scan (State done or
	// failed, or queued to retry); ErrNotFound when it is no longer holder's.
	FinishScan(s Scan, holder string) error
	// UpdateScanFindings replaces a finished scan's findings, counts and
	// generation (a rematch against a newer database).
	UpdateScanFindings(s Scan) error
	// RequeueExpiredScans queues again the running scans whose lease
	// expired before now.
	RequeueExpiredScans(now time.Time) (int, error)
	// AdvanceScanCursor moves the scanner's outbox cursor forward to event.
	AdvanceScanCursor(event int64) error
	// PutScanPolicy sets project's policy; ErrNotFound without the project.
	PutScanPolicy(p ScanPolicy) error
	// DeleteScanPolicy removes it; ErrNotFound if none.
	DeleteScanPolicy(project string) error
}

// ScanPolicy is a project's vulnerability pull policy.
type ScanPolicy struct {
	Project string
	// Block refuses pulls of images with a finding of this severity or
	// worse ("" = none): "critical", "high", "medium", "low".
	Block string
	// Allow lists vulnerability IDs (or aliases) that never block.
	Allow []string
	// RequireScan refuses pulls of images without a finished scan.
	RequireScan bool
	// ScanOnPush queues a scan of every manifest pushed to the project
	// (beside scan.on_push, which does so for every project).
	ScanOnPush bool
	// Scanner names the external scanner that scans the project's images
	// ("" = the default one, else berth's own).
	Scanner   string
	UpdatedAt time.Time
}

// Scanner is an external scanner: an adapter speaking Harbor's Pluggable
// Scanner API.
type Scanner struct {
	Name string
	URL  string
	// Auth is how berth authenticates to it: "", "basic", "bearer" or
	// "apikey"; Credential (sealed by the caller) goes with it.
	Auth       string
	Credential []byte
	Insecure   bool // skip TLS verification of the adapter
	// Default scans the images of projects whose policy names no scanner.
	Default   bool
	CreatedAt time.Time
}

type ScannerReader interface {
	// Scanners returns the registered scanners by name.
	Scanners() ([]Scanner, error)
	// ScannerByName returns one, or ErrNotFound.
	ScannerByName(name string) (Scanner, error)
}

type ScannerWriter interface {
	// PutScanner adds or replaces a scanner; with Default set, the others
	// stop being the default.
	PutScanner(s Scanner) error
	// DeleteScanner removes one; ErrNotFound if none.
	DeleteScanner(name string) error
}
