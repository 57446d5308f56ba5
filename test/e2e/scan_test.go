//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestVulnerabilityScan: an image with a Debian package database is
// scanned against the OSV fixture imported with `berth vulndb import`;
// `berth scan` reports its critical finding; under a scan policy the
// Docker engine (a pull-only user) cannot pull it until the finding is
// allowed; `oras discover` finds the SPDX SBOM berth attached.
func TestVulnerabilityScan(t *testing.T) {
	requireBerth(t)
	scenario(t, "docker", "vulnerability scan policy: a pull of an image with a critical finding refused, naming it; allowed once the finding is allow-listed")
	scenario(t, "oras", "discover the SPDX SBOM berth attached to a scanned image")
	requireDocker(t)
	s := startServer(t, serverOpts{Env: []string{"BERTH_SCAN_POLL_INTERVAL=200ms"}})
	h := s.host()
	const (
		project = "vuln"
		repo    = "vuln/app"
	)
	dockerAsPuller(t, s, project, "kubelet", "pull-only-Pw-2")
	layer, err := newTarLayer([]tarFile{
		{Name: "etc/", Dir: true},
		{Name: "etc/os-release", Data: []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")},
		{Name: "var/", Dir: true}, {Name: "var/lib/", Dir: true}, {Name: "var/lib/dpkg/", Dir: true},
		{Name: "var/lib/dpkg/status", Data: []byte("Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\n" +
			"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u3\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	digest := pushTestImage(t, s, repo, "v1", imageFromLayers(t, layer))

	berth := loggedInCLI(t, h)
	out, _ := berth(t, 0, "vulndb", "import", filepath.Join(repoRoot(), "internal", "scan", "testdata", "osv"))
	if !strings.Contains(out, "12 new or changed") {
		t.Errorf("vulndb import printed %q", out)
	}
	t.Run("scan", func(t *testing.T) {
		out, _ := berth(t, 0, "scan", repo+":v1", "--wait", "2m")
		if !strings.Contains(out, "2 packages; 1 critical, 0 high, 0 medium, 0 low, 0 unknown") || !strings.Contains(out, "DEBIAN-CVE-2023-45853") ||
			strings.Contains(out, "DEBIAN-CVE-2023-4911") {
			t.Errorf("berth scan printed %q", out)
		}
	})
	t.Run("policy refuses the docker pull, naming the finding", func(t *testing.T) {
		berth(t, 0, "scan-policy", "set", project, "--block", "critical")
		out, err := dockerCLI(t, "pull", h+"/"+repo+":v1")
		if err == nil || !strings.Contains(out, "DEBIAN-CVE-2023-45853") || !strings.Contains(out, "vulnerability policy of project "+project) {
			t.Fatalf("docker pull under the policy: err %v\n%s", err, out)
		}
	})
	t.Run("allow-listed, it is pulled", func(t *testing.T) {
		berth(t, 0, "scan-policy", "set", project, "--block", "critical", "--allow", "CVE-2023-45853")
		out := mustDocker(t, "pull", h+"/"+repo+":v1")
		if !strings.Contains(out, "Digest: "+digest) {
			t.Errorf("docker pull printed %q", out)
		}
		_, _ = dockerCLI(t, "rmi", h+"/"+repo+":v1")
	})
	t.Run("oras discover finds the SBOM", func(t *testing.T) {
		oras := newArtClient(t, "oras")
		oras.login(t, h)
		out := oras.must(t, "discover", "--plain-http", "--format", "json", h+"/"+repo+"@"+digest)
		var root discoverNode
		if err := json.Unmarshal([]byte(out), &root); err != nil {
			t.Fatalf("oras discover output: %v\n%s", err, out)
		}
		found := false
		for _, r := range root.Referrers {
			found = found || r.ArtifactType == "application/spdx+json"
		}
		if !found {
			t.Errorf("oras discover lists no application/spdx+json referrer: %s", out)
		}
	})
}
