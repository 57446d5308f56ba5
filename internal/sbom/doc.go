// Package sbom builds a software bill of materials for a container image
// without extracting it.
//
// Build streams each layer (an uncompressed tar) once, in order, and keeps
// in memory only the files a cataloguer may want, chosen by path (package
// databases, os-release, package.json, Python metadata) or, for Go
// binaries, parsed on the fly into their module list so that large
// executables are never held. OCI whiteouts (.wh.<name> and the opaque
// marker .wh..wh..opq) and entries that replace a lower path are applied to
// that candidate set at the end of each layer, so a file deleted by a later
// layer is never reported. After the last layer the cataloguers run on the
// surviving candidates:
//
//	dpkg    var/lib/dpkg/status, var/lib/dpkg/status.d/* (distroless)
//	apk     lib/apk/db/installed
//	rpm     var/lib/rpm/rpmdb.sqlite, usr/lib/sysimage/rpm/rpmdb.sqlite
//	        (BerkeleyDB and NDB databases are reported as unsupported)
//	go      any executable ELF file with Go build information
//	npm     package-lock.json, node_modules/.package-lock.json,
//	        node_modules/**/package.json
//	python  *.dist-info/METADATA, *.egg-info/PKG-INFO, site-packages/*.egg-info
//
// Every read is bounded (Options) and malformed input turns into a warning
// in Result.Warnings, never an error or a panic: a registry scans whatever
// was pushed. SPDX and CycloneDX render a Result as SPDX 2.3 or CycloneDX
// 1.5 JSON.
package sbom
