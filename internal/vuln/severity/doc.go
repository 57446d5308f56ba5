// Package severity grades OSV vulnerabilities: a Level (None, Low,
// Medium, High, Critical) and, when a CVSS v3 vector is available, its
// base score computed with FIRST's CVSS v3.1 formula.
//
// Of takes the first source that yields a grade, in this order: CVSS_V3
// vectors (the record's and its affected packages'; the highest score
// wins), database_specific.severity (GitHub advisories: "LOW",
// "MODERATE", "HIGH", "CRITICAL"), an "Ubuntu" severity entry (a
// priority word), then affected[].ecosystem_specific.severity or
// .urgency (Debian: "unimportant", "low", "medium", "high", "not yet
// assigned"). CVSS_V4 vectors are not graded: their score needs the
// specification's macro-vector tables, which this package does not carry;
// CVSS_V2 vectors are ignored as well.
package severity
