package osv

// Realistic OSV records, trimmed to what matching reads.

const debianRecord = `{
  "schema_version": "1.6.0",
  "id": "DSA-5555-1",
  "aliases": ["CVE-2023-12345"],
  "summary": "libfoo -- security update",
  "details": "A heap overflow in libfoo's parser.",
  "modified": "2023-11-20T10:00:00Z",
  "published": "2023-11-18T00:00:00Z",
  "affected": [{
    "package": {"ecosystem": "Debian:12", "name": "libfoo", "purl": "pkg:deb/debian/libfoo?arch=source"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.3-1+deb12u1"}]}],
    "ecosystem_specific": {"urgency": "medium"}
  }],
  "references": [{"type": "ADVISORY", "url": "https://www.debian.org/security/2023/dsa-5555"}]
}`

const alpineRecord = `{
  "schema_version": "1.6.0",
  "id": "ALPINE-CVE-2024-0727",
  "modified": "2024-02-01T08:00:00.123Z",
  "published": "2024-01-26T09:15:00Z",
  "upstream": ["CVE-2024-0727"],
  "affected": [{
    "package": {"ecosystem": "Alpine:v3.19", "name": "openssl", "purl": "pkg:apk/alpine/openssl?arch=source"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r5"}]}]
  }]
}`

const goRecord = `{
  "schema_version": "1.3.1",
  "id": "GO-2023-2102",
  "modified": "2023-10-12T00:00:00Z",
  "published": "2023-10-11T22:14:46Z",
  "aliases": ["CVE-2023-39325", "GHSA-4374-p667-p6c8"],
  "summary": "HTTP/2 rapid reset can cause excessive work in net/http",
  "affected": [
    {
      "package": {"name": "stdlib", "ecosystem": "Go"},
      "ranges": [{"type": "SEMVER", "events": [
        {"introduced": "0"}, {"fixed": "1.20.10"}, {"introduced": "1.21.0-0"}, {"fixed": "1.21.3"}
      ]}],
      "ecosystem_specific": {"imports": [{"path": "net/http", "symbols": ["ListenAndServe"]}]}
    },
    {
      "package": {"name": "golang.org/x/net", "ecosystem": "Go"},
      "ranges": [
        {"type": "GIT", "repo": "https://go.googlesource.com/net", "events": [{"introduced": "0"}, {"fixed": "b225e7ca6dde1ef5a5ae5ce922861bda011cfabd"}]},
        {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}
      ]
    }
  ],
  "references": [{"type": "REPORT", "url": "https://go.dev/issue/63417"}],
  "database_specific": {"url": "https://pkg.go.dev/vuln/GO-2023-2102"}
}`

const pypiRecord = `{
  "id": "PYSEC-2023-999",
  "modified": "2023-06-01T00:00:00Z",
  "published": "2023-05-30T00:00:00Z",
  "aliases": ["CVE-2023-99999"],
  "affected": [{
    "package": {"ecosystem": "PyPI", "name": "Foo_Bar.baz", "purl": "pkg:pypi/foo-bar-baz"},
    "ranges": [{"type": "GIT", "repo": "https://github.com/example/foo-bar-baz",
      "events": [{"introduced": "0"}, {"fixed": "6c5a5b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a"}]}],
    "versions": ["1.0", "1.1", "2.0rc1", "2.0"]
  }]
}`

const npmGHSARecord = `{
  "schema_version": "1.4.0",
  "id": "GHSA-35jh-r3h4-6jhm",
  "modified": "2024-03-04T21:53:21Z",
  "published": "2021-05-06T16:05:51Z",
  "aliases": ["CVE-2021-23337"],
  "summary": "Command Injection in lodash",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [
    {
      "package": {"ecosystem": "npm", "name": "lodash"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}],
      "database_specific": {"source": "https://github.com/github/advisory-database/blob/main/advisories/github-reviewed/2021/05/GHSA-35jh-r3h4-6jhm/GHSA-35jh-r3h4-6jhm.json"}
    },
    {
      "package": {"ecosystem": "npm", "name": "lodash"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "5.0.0-alpha.1"}, {"last_affected": "5.0.0-alpha.3"}]}]
    },
    {
      "package": {"ecosystem": "npm", "name": "lodash-es"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]
    }
  ],
  "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-23337"}],
  "database_specific": {"cwe_ids": ["CWE-77", "CWE-94"], "severity": "HIGH", "github_reviewed": true}
}`

const withdrawnRecord = `{
  "id": "GHSA-xxxx-yyyy-zzzz",
  "modified": "2023-02-01T00:00:00Z",
  "withdrawn": "2023-02-01T00:00:00Z",
  "summary": "Duplicate advisory",
  "affected": [{
    "package": {"ecosystem": "npm", "name": "lodash"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]
  }],
  "database_specific": {"severity": "MODERATE"}
}`

const unsortedRecord = `{
  "id": "TEST-UNSORTED",
  "affected": [{
    "package": {"ecosystem": "PyPI", "name": "tool"},
    "ranges": [
      {"type": "ECOSYSTEM", "events": [{"fixed": "2.0"}, {"introduced": "1.5"}, {"fixed": "1.0"}, {"introduced": "0"}]},
      {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"last_affected": "3.2"}]},
      {"type": "ECOSYSTEM", "events": [{"introduced": "5.0"}, {"fixed": "5.5"}, {"fixed": "5.2"}, {"limit": "5.1"}]}
    ]
  }]
}`
