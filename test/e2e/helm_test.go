//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const helmChartConfigType = "application/vnd.cncf.helm.config.v1+json"

var helmDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})\s*$`)

// TestHelmOCI packages a chart, pushes it to berth as an OCI artifact,
// pulls it back byte for byte and shows its Chart.yaml from the registry.
func TestHelmOCI(t *testing.T) {
	scenario(t, "helm", "package a chart, helm push oci://, helm pull gives identical bytes, helm show chart")
	home := t.TempDir()
	helm := newArtClient(t, "helm",
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"HELM_REGISTRY_CONFIG="+filepath.Join(home, "config", "registry", "config.json"),
		"HELM_REPOSITORY_CONFIG="+filepath.Join(home, "config", "repositories.yaml"),
		"HELM_REPOSITORY_CACHE="+filepath.Join(home, "cache", "repository"),
	)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	helm.login(t, s.host())

	const chart = "berth-e2e"
	version := fmt.Sprintf("1.%d.%d", rng.IntN(100), rng.IntN(100))
	marker := fmt.Sprintf("%016x", rng.Uint64())
	helm.writeFile(t, chart+"/Chart.yaml", []byte(fmt.Sprintf(
		"apiVersion: v2\nname: %s\ndescription: berth e2e chart %s\ntype: application\nversion: %s\nappVersion: \"%s\"\n",
		chart, marker, version, marker)))
	helm.writeFile(t, chart+"/values.yaml", []byte("greeting: hello\n"))
	helm.writeFile(t, chart+"/templates/configmap.yaml", []byte(
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"))

	helm.must(t, "package", chart, "--destination", "dist")
	tgzPath := filepath.Join(helm.dir, "dist", chart+"-"+version+".tgz")
	tgz, err := os.ReadFile(tgzPath)
	if err != nil {
		t.Fatalf("helm package: %v", err)
	}
	oci := "oci://" + s.host() + "/charts/" + chart
	repo := "charts/" + chart

	var pushed string
	t.Run("push", func(t *testing.T) {
		out, errOut, err := helm.run(t, "push", tgzPath, "oci://"+s.host()+"/charts", "--plain-http")
		if err != nil {
			t.Fatalf("helm push: %v\n%s%s", err, out, errOut)
		}
		m := helmDigestRE.FindStringSubmatch(out + errOut)
		if m == nil {
			t.Fatalf("helm push printed no digest:\n%s%s", out, errOut)
		}
		pushed = m[1]
		if !strings.Contains(out+errOut, "Pushed: "+s.host()+"/"+repo+":"+version) {
			t.Errorf("helm push printed %q, want Pushed: %s/%s:%s", out+errOut, s.host(), repo, version)
		}
		man, dcd := registryManifest(t, s, repo, version)
		if dcd != pushed {
			t.Errorf("berth serves %s:%s as %s, helm pushed %s", repo, version, dcd, pushed)
		}
		if man.Config.MediaType != helmChartConfigType {
			t.Errorf("chart config media type %q, want %q", man.Config.MediaType, helmChartConfigType)
		}
		if len(man.Layers) != 1 || man.Layers[0].Digest != sha256Hash(tgz).String() {
			t.Errorf("chart manifest layers %+v, want the one .tgz %s", man.Layers, sha256Hash(tgz))
		}
	})
	if pushed == "" {
		t.Fatal("push failed; not going on")
	}

	t.Run("pull gives identical bytes", func(t *testing.T) {
		dest := t.TempDir()
		helm.must(t, "pull", oci, "--version", version, "--plain-http", "--destination", dest)
		got, err := os.ReadFile(filepath.Join(dest, chart+"-"+version+".tgz"))
		if err != nil {
			t.Fatalf("helm pull: %v", err)
		}
		if sha256Hash(got) != sha256Hash(tgz) {
			t.Errorf("helm pull: %d bytes, sha256 %s; pushed %d bytes, sha256 %s", len(got), sha256Hash(got), len(tgz), sha256Hash(tgz))
		}
	})

	t.Run("show chart", func(t *testing.T) {
		out := helm.must(t, "show", "chart", oci, "--version", version, "--plain-http")
		for _, want := range []string{"name: " + chart, "version: " + version, marker} {
			if !strings.Contains(out, want) {
				t.Errorf("helm show chart printed %q, want it to contain %q", out, want)
			}
		}
	})

	t.Run("pull of an unknown version fails", func(t *testing.T) {
		dest := t.TempDir()
		out := helm.mustFail(t, "pull", oci, "--version", "9.9.9", "--plain-http", "--destination", dest)
		if !strings.Contains(out, "not found") {
			t.Errorf("helm pull of an unknown version printed %q, want not found", out)
		}
	})
}
