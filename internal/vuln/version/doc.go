// Package version orders package version strings the way each packaging
// ecosystem does, so that OSV vulnerability ranges ("introduced",
// "fixed", "last_affected", "limit") can be evaluated against the
// versions found in an image's SBOM.
//
// Each scheme is implemented from its specification, never by calling
// the native tool:
//
//   - Dpkg: Debian Policy §5.6.12 ([epoch:]upstream[-revision], the
//     "~ sorts before everything, letters before other characters"
//     algorithm of dpkg's verrevcmp).
//   - Apk: apk-tools' version grammar
//     digits{.digits}[letter]{_suffix[digits]}[~hash][-rN].
//   - RPM: rpm's rpmvercmp applied to [epoch:]version[-release], with "~"
//     (sorts before everything) and "^" (sorts after the end of the
//     string but before any further segment).
//   - SemVer: semver.org 2.0, lenient about a leading "v", a missing
//     minor/patch and a fourth numeric component (NuGet), so Go module
//     versions, pseudo-versions and "+incompatible" all compare correctly.
//   - PEP440: Python's version specification, including normalisation.
//   - Generic: a fallback over numeric and alphabetic runs.
//
// Every comparator is a total preorder: it never panics, it is
// antisymmetric and transitive on every pair of strings it accepts, and
// it returns an error rather than guessing for strings it rejects.
package version
