//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"gopkg.in/yaml.v3"

	"github.com/berth-registry/berth/internal/config"
)

// The deployment files under deploy/ and the Dockerfile, checked the way
// they are used: the Helm chart rendered and its berth configuration run
// through `berth config check` with the environment a pod would get, the
// Compose file's berth configuration likewise, and the image built, run and
// pushed to.

// imageDataDir is where the image keeps berth's data (Dockerfile: VOLUME and
// BERTH_STORAGE_PATH).
const imageDataDir = "/var/lib/berth"

// berthEnvRE finds the names of BERTH_* variables in any text.
var berthEnvRE = regexp.MustCompile(`\bBERTH_[A-Z0-9_]+\b`)

// unknownBerthEnv returns the BERTH_* names in text that are not the
// environment variable of a configuration key.
func unknownBerthEnv(text string) []string {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		if k.Env != "" {
			known[k.Env] = true
		}
	}
	var bad []string
	for _, name := range berthEnvRE.FindAllString(text, -1) {
		if !known[name] && !slices.Contains(bad, name) {
			bad = append(bad, name)
		}
	}
	return bad
}

func TestUnknownBerthEnv(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"BERTH_HTTP_ADDR: x\nBERTH_STORAGE_S3_BUCKET=y", nil},
		{"BERTH_STORAGE_BUCKET: x", []string{"BERTH_STORAGE_BUCKET"}},
		{"- name: BERTH_NOT_A_KEY\n- name: BERTH_NOT_A_KEY", []string{"BERTH_NOT_A_KEY"}},
		{"XBERTH_NOPE and BERTH_LOG_LEVEL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := unknownBerthEnv(tt.text); !slices.Equal(got, tt.want) {
				t.Fatalf("unknownBerthEnv(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// berthConfigCheck runs `berth config check FILE` with exactly env as the
// process environment and returns its output; err is set on a non-zero exit.
func berthConfigCheck(t testing.TB, file string, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, targetBinary(t), "config", "check", file)
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustConfigCheck fails unless berth accepts the file with env, and returns
// the configuration berth reads from them.
func mustConfigCheck(t testing.TB, file string, env []string) config.Config {
	t.Helper()
	out, err := berthConfigCheck(t, file, env)
	if err != nil || !strings.Contains(out, file+": ok") {
		data, _ := os.ReadFile(file)
		t.Fatalf("berth config check: %v\n%s\nfile:\n%s\nenvironment: %q", err, out, data, env)
	}
	cfg, err := config.Load(file, env)
	if err != nil {
		t.Fatalf("config.Load after a passing check: %v", err)
	}
	return cfg
}

// ---------------------------------------------------------------------------
// Helm

// k8sObject is the part of a rendered Kubernetes object the tests read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sEnvVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name     string `yaml:"name"`
			Key      string `yaml:"key"`
			Optional bool   `yaml:"optional"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type k8sContainer struct {
	Name           string      `yaml:"name"`
	Image          string      `yaml:"image"`
	Args           []string    `yaml:"args"`
	Env            []k8sEnvVar `yaml:"env"`
	StartupProbe   *k8sProbe   `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe   `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe   `yaml:"readinessProbe"`
	Ports          []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sDeploymentSpec struct {
	Replicas *int `yaml:"replicas"`
	Strategy struct {
		Type string `yaml:"type"`
	} `yaml:"strategy"`
	Template struct {
		Spec struct {
			SecurityContext struct {
				RunAsNonRoot bool `yaml:"runAsNonRoot"`
				RunAsUser    int  `yaml:"runAsUser"`
			} `yaml:"securityContext"`
			Containers []k8sContainer `yaml:"containers"`
			Volumes    []struct {
				Name                  string `yaml:"name"`
				PersistentVolumeClaim *struct {
					ClaimName string `yaml:"claimName"`
				} `yaml:"persistentVolumeClaim"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				EmptyDir any `yaml:"emptyDir"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

// helmRun runs helm with args and returns its combined output.
func helmRun(t testing.TB, helm string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, helm, args...).CombinedOutput()
	return string(out), err
}

// parseManifests decodes a multi-document YAML stream.
func parseManifests(t testing.TB, out string) []k8sObject {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(out))
	var objs []k8sObject
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered manifests are not YAML: %v\n%s", err, out)
		}
		if o.Kind != "" {
			objs = append(objs, o)
		}
	}
}

// objectsOf returns the objects of one kind.
func objectsOf(objs []k8sObject, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// onlyObject fails unless there is exactly one object of kind.
func onlyObject(t testing.TB, objs []k8sObject, kind string) k8sObject {
	t.Helper()
	got := objectsOf(objs, kind)
	if len(got) != 1 {
		t.Fatalf("rendered %d %s objects, want 1", len(got), kind)
	}
	return got[0]
}

// podEnv resolves the container's environment as the kubelet would, secrets
// from the rendered Secrets or from external (secret name → key → value),
// and adds what the image itself sets.
func podEnv(t testing.TB, c k8sContainer, objs []k8sObject, external map[string]map[string]string) []string {
	t.Helper()
	secrets := map[string]map[string]string{}
	for name, kv := range external {
		secrets[name] = kv
	}
	for _, s := range objectsOf(objs, "Secret") {
		kv := map[string]string{}
		for k, v := range s.Data {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("Secret %s key %s: %v", s.Metadata.Name, k, err)
			}
			kv[k] = string(b)
		}
		for k, v := range s.StringData {
			kv[k] = v
		}
		secrets[s.Metadata.Name] = kv
	}
	env := []string{"BERTH_STORAGE_PATH=" + imageDataDir}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name][ref.Key]
			if !ok {
				if !ref.Optional {
					t.Errorf("env %s: Secret %s has no key %s and the reference is not optional", e.Name, ref.Name, ref.Key)
				}
				continue
			}
			env = append(env, e.Name+"="+v)
		default:
			t.Errorf("env %s: a valueFrom this test cannot resolve", e.Name)
		}
	}
	return env
}

func probePath(p *k8sProbe) string {
	if p == nil || p.HTTPGet == nil {
		return "(no httpGet probe)"
	}
	return p.HTTPGet.Path
}

// TestDeployHelm lints and renders the chart for one pod on the embedded
// default and for several pods on PostgreSQL + S3, checks what it renders
// and runs the berth configuration it writes through `berth config check`;
// values that cannot work must fail to render with a clear message.
func TestDeployHelm(t *testing.T) {
	requireBerth(t)
	helm := requireTool(t, "helm")
	chart := filepath.Join(repoRoot(), "deploy", "helm", "berth")

	const (
		dsn       = "postgres://berth:pg-secret@db.internal:5432/berth?sslmode=require"
		accessKey = "AKIAE2ETEST"
		secretKey = "s3-e2e-secret"
	)
	tests := []struct {
		name     string
		values   string
		external map[string]map[string]string
		replicas int
		shared   bool
		check    func(t *testing.T, cfg config.Config, objs []k8sObject)
	}{
		{
			name:     "embedded default",
			replicas: 1,
			check: func(t *testing.T, cfg config.Config, objs []k8sObject) {
				if cfg.Storage.Driver != "filesystem" || cfg.Metadata.Driver != "sqlite" {
					t.Errorf("drivers %s/%s, want filesystem/sqlite", cfg.Storage.Driver, cfg.Metadata.Driver)
				}
				if n := len(objectsOf(objs, "PersistentVolumeClaim")); n != 1 {
					t.Errorf("%d PersistentVolumeClaims, want 1 for the data", n)
				}
			},
		},
		{
			name: "scaled out",
			values: `
replicaCount: 3
storage:
  driver: s3
  s3:
    endpoint: s3.internal:9000
    bucket: berth-blobs
    insecure: true
    accessKey: ` + accessKey + `
    secretKey: ` + secretKey + `
metadata:
  driver: postgres
  postgres:
    dsn: "` + dsn + `"
    maxConns: 7
config:
  storage:
    max_blob_size: 10GiB
  log:
    level: debug
ingress:
  enabled: true
  className: nginx
  hosts:
    - host: registry.e2e.test
      paths:
        - path: /
          pathType: Prefix
`,
			replicas: 3,
			shared:   true,
			check: func(t *testing.T, cfg config.Config, objs []k8sObject) {
				if cfg.Metadata.Postgres.DSN != dsn {
					t.Errorf("the pod's DSN is %q, want %q (from the chart's Secret)", cfg.Metadata.Postgres.DSN, dsn)
				}
				if cfg.Storage.S3.AccessKey != accessKey || cfg.Storage.S3.SecretKey != secretKey {
					t.Errorf("the pod's S3 keys are %q/%q, want %q/%q", cfg.Storage.S3.AccessKey, cfg.Storage.S3.SecretKey, accessKey, secretKey)
				}
				if cfg.Storage.S3.Endpoint != "s3.internal:9000" || cfg.Storage.S3.Bucket != "berth-blobs" || !cfg.Storage.S3.Insecure {
					t.Errorf("S3 settings %+v, want the values' endpoint, bucket and insecure", cfg.Storage.S3)
				}
				if cfg.Metadata.Postgres.MaxConns != 7 {
					t.Errorf("max_conns %d, want 7", cfg.Metadata.Postgres.MaxConns)
				}
				if cfg.Storage.MaxBlobSize != 10<<30 || cfg.Log.Level != "debug" {
					t.Errorf("max_blob_size %d, log.level %q: the config values were not merged", cfg.Storage.MaxBlobSize, cfg.Log.Level)
				}
				ing := onlyObject(t, objs, "Ingress")
				for k, want := range map[string]string{
					"nginx.ingress.kubernetes.io/proxy-body-size":         "0",
					"nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
				} {
					if got := ing.Metadata.Annotations[k]; got != want {
						t.Errorf("Ingress annotation %s = %q, want %q", k, got, want)
					}
				}
			},
		},
		{
			name: "existing secret",
			values: `
replicaCount: 2
storage:
  driver: s3
  s3:
    bucket: berth-blobs
metadata:
  driver: postgres
existingSecret: berth-stores
`,
			external: map[string]map[string]string{"berth-stores": {"postgres-dsn": dsn}},
			replicas: 2,
			shared:   true,
			check: func(t *testing.T, cfg config.Config, objs []k8sObject) {
				if n := len(objectsOf(objs, "Secret")); n != 0 {
					t.Errorf("rendered %d Secrets next to existingSecret, want 0", n)
				}
				if cfg.Metadata.Postgres.DSN != dsn {
					t.Errorf("the pod's DSN is %q, want %q (from existingSecret)", cfg.Metadata.Postgres.DSN, dsn)
				}
				if cfg.Storage.S3.Endpoint != "" {
					t.Errorf("endpoint %q, want empty (AWS)", cfg.Storage.S3.Endpoint)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var valueArgs []string
			if tt.values != "" {
				vf := filepath.Join(dir, "values.yaml")
				if err := os.WriteFile(vf, []byte(tt.values), 0o644); err != nil {
					t.Fatal(err)
				}
				valueArgs = []string{"-f", vf}
			}
			if out, err := helmRun(t, helm, append([]string{"lint", "--strict", chart}, valueArgs...)...); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
			out, err := helmRun(t, helm, append([]string{"template", "e2e", chart}, valueArgs...)...)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, out)
			}
			objs := parseManifests(t, out)
			if bad := unknownBerthEnv(out); len(bad) > 0 {
				t.Errorf("the chart sets %v, which name no configuration key", bad)
			}

			dep := onlyObject(t, objs, "Deployment")
			var spec k8sDeploymentSpec
			if err := dep.Spec.Decode(&spec); err != nil {
				t.Fatalf("Deployment spec: %v", err)
			}
			if spec.Replicas == nil || *spec.Replicas != tt.replicas {
				t.Errorf("Deployment replicas %v, want %d", spec.Replicas, tt.replicas)
			}
			wantStrategy := "Recreate"
			if tt.shared {
				wantStrategy = "RollingUpdate"
			}
			if spec.Strategy.Type != wantStrategy {
				t.Errorf("strategy %q, want %q", spec.Strategy.Type, wantStrategy)
			}
			pod := spec.Template.Spec
			if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
				t.Errorf("pod securityContext %+v, want non-root", pod.SecurityContext)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			for _, p := range []struct {
				name  string
				probe *k8sProbe
				want  string
			}{
				{"startupProbe", c.StartupProbe, "/healthz"},
				{"livenessProbe", c.LivenessProbe, "/healthz"},
				{"readinessProbe", c.ReadinessProbe, "/readyz"},
			} {
				if got := probePath(p.probe); got != p.want {
					t.Errorf("%s path %q, want %q", p.name, got, p.want)
				}
			}
			if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 5000 {
				t.Errorf("container ports %+v, want 5000", c.Ports)
			}
			if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("container securityContext %+v, want a read-only root and no privilege escalation", c.SecurityContext)
			}

			// The config file the pod reads is the ConfigMap's config.yaml.
			if len(c.Args) != 3 || c.Args[0] != "serve" || c.Args[1] != "--config" {
				t.Fatalf("container args %q, want serve --config FILE", c.Args)
			}
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			cm := onlyObject(t, objs, "ConfigMap")
			configVolume, dataVolume := false, false
			for _, v := range pod.Volumes {
				switch {
				case v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name:
					configVolume = path.Join(mounts[v.Name], "config.yaml") == c.Args[2]
				case mounts[v.Name] == imageDataDir:
					dataVolume = true
					if tt.shared != (v.PersistentVolumeClaim == nil) {
						t.Errorf("data volume %+v: want a PersistentVolumeClaim only on the embedded default", v)
					}
				}
			}
			if !configVolume {
				t.Errorf("no volume mounts ConfigMap %s so that %s is its config.yaml", cm.Metadata.Name, c.Args[2])
			}
			if !dataVolume {
				t.Errorf("nothing is mounted at %s", imageDataDir)
			}
			if pdbs := len(objectsOf(objs, "PodDisruptionBudget")); (pdbs == 1) != (tt.replicas > 1) {
				t.Errorf("%d PodDisruptionBudgets for %d replicas", pdbs, tt.replicas)
			}

			cfgFile := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfgFile, []byte(cm.Data["config.yaml"]), 0o644); err != nil {
				t.Fatal(err)
			}
			if !tt.shared {
				mustConfigCheck(t, cfgFile, nil) // the file alone
			}
			cfg := mustConfigCheck(t, cfgFile, podEnv(t, c, objs, tt.external))
			if cfg.Storage.Path != imageDataDir {
				t.Errorf("storage.path %q, want %q", cfg.Storage.Path, imageDataDir)
			}
			tt.check(t, cfg, objs)
		})
	}

	refusals := []struct {
		name string
		set  []string
		want []string
	}{
		{"replicas on the embedded default", []string{"replicaCount=2"},
			[]string{"replicaCount is 2", "cannot share", "storage.driver=s3 and metadata.driver=postgres"}},
		{"replicas on S3 with SQLite", []string{"replicaCount=3", "storage.driver=s3", "storage.s3.bucket=b"},
			[]string{"replicaCount is 3", "metadata.driver=sqlite", "cannot share"}},
		{"replicas on PostgreSQL with the filesystem", []string{"replicaCount=2", "metadata.driver=postgres", "metadata.postgres.dsn=postgres://x@y/z"},
			[]string{"replicaCount is 2", "storage.driver=filesystem", "cannot share"}},
		{"s3 without a bucket", []string{"storage.driver=s3"}, []string{"storage.s3.bucket is empty"}},
		{"postgres without a DSN", []string{"metadata.driver=postgres"}, []string{"metadata.postgres.dsn", "existingSecret"}},
		{"unknown driver", []string{"storage.driver=nfs"}, []string{"storage"}},
	}
	for _, r := range refusals {
		t.Run("refuses "+r.name, func(t *testing.T) {
			var args []string
			for _, s := range r.set {
				args = append(args, "--set", s)
			}
			// helm template (and so helm install) fails; helm lint only
			// reports a template's fail as INFO, but must show the message.
			out, err := helmRun(t, helm, append([]string{"template", "e2e", chart}, args...)...)
			if err == nil {
				t.Fatalf("helm template %v succeeded, want a refusal:\n%s", r.set, out)
			}
			lint, _ := helmRun(t, helm, append([]string{"lint", chart}, args...)...)
			for _, w := range r.want {
				if !strings.Contains(out, w) {
					t.Errorf("helm template %v: output lacks %q:\n%s", r.set, w, out)
				}
				if !strings.Contains(lint, w) {
					t.Errorf("helm lint %v: output lacks %q:\n%s", r.set, w, lint)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Docker Compose

type composeService struct {
	Image       string    `yaml:"image"`
	Command     yaml.Node `yaml:"command"`
	Environment yaml.Node `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports   []string `yaml:"ports"`
	Volumes []string `yaml:"volumes"`
}

// strings returns a command given as a string or a list as words.
func nodeStrings(t testing.TB, n yaml.Node) []string {
	t.Helper()
	switch n.Kind {
	case 0:
		return nil
	case yaml.ScalarNode:
		return strings.Fields(n.Value)
	}
	var out []string
	if err := n.Decode(&out); err != nil {
		t.Fatalf("line %d: %v", n.Line, err)
	}
	return out
}

// nodeEnv decodes an environment given as a mapping or as KEY=VALUE items.
func nodeEnv(t testing.TB, n yaml.Node) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		if err := n.Decode(&env); err != nil {
			t.Fatalf("environment on line %d: %v", n.Line, err)
		}
	default:
		var items []string
		if err := n.Decode(&items); err != nil {
			t.Fatalf("environment on line %d: %v", n.Line, err)
		}
		for _, it := range items {
			k, v, _ := strings.Cut(it, "=")
			env[k] = v
		}
	}
	return env
}

var composeVarRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// composeSubst replaces Compose variables with their defaults, as when no
// variable is set; a variable without a default is an error.
func composeSubst(s string) (string, error) {
	var errs []error
	out := composeVarRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[4]
		if strings.HasSuffix(sub[2], "-") {
			return sub[3]
		}
		errs = append(errs, fmt.Errorf("${%s} has no default", name))
		return ""
	})
	return out, errors.Join(errs...)
}

func TestComposeSubst(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"postgres://berth:${PW:-secret}@db/berth", "postgres://berth:secret@db/berth", true},
		{"${A-x}${B:-}", "x", true},
		{"$$HOME", "$HOME", true},
		{"${NOPE}", "", false},
		{"$NOPE", "", false},
		{"${REQ:?set it}", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := composeSubst(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
				t.Fatalf("composeSubst(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

// composeVars lists the variable names a Compose file uses.
func composeVars(s string) []string {
	var names []string
	for _, m := range composeVarRE.FindAllStringSubmatch(s, -1) {
		if n := m[1] + m[4]; n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// TestDeployCompose checks deploy/compose: two berth nodes with one
// configuration that berth accepts and that really is the scaled-out one,
// start order by health, every BERTH_* name a real key, and an nginx.conf
// that balances over exactly those nodes with what a registry needs.
func TestDeployCompose(t *testing.T) {
	requireBerth(t)
	dir := filepath.Join(repoRoot(), "deploy", "compose")
	file := filepath.Join(dir, "docker-compose.yml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if bad := unknownBerthEnv(string(raw)); len(bad) > 0 {
		t.Errorf("%s uses %v, which name no configuration key", file, bad)
	}

	t.Run(".env.example lists every variable", func(t *testing.T) {
		ex, err := os.ReadFile(filepath.Join(dir, ".env.example"))
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, line := range strings.Split(string(ex), "\n") {
			if k, _, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
				listed = append(listed, k)
			}
		}
		sort.Strings(listed)
		used := composeVars(strings.ReplaceAll(string(raw), "$$", ""))
		if !slices.Equal(listed, used) {
			t.Errorf(".env.example sets %q; docker-compose.yml uses %q", listed, used)
		}
		if bad := unknownBerthEnv(string(ex)); len(bad) > 0 {
			t.Errorf(".env.example uses %v, which name no configuration key", bad)
		}
	})

	// The berth nodes: services that run `serve` (the image's default command).
	var nodes []string
	var migrate string
	for name, s := range doc.Services {
		cmd := nodeStrings(t, s.Command)
		switch {
		case !strings.Contains(s.Image, "berth"):
		case len(cmd) == 0 || cmd[0] == "serve":
			nodes = append(nodes, name)
		case slices.Equal(cmd, []string{"db", "migrate"}):
			migrate = name
		}
	}
	sort.Strings(nodes)
	if len(nodes) != 2 {
		t.Fatalf("berth nodes %q, want 2", nodes)
	}
	if migrate == "" {
		t.Errorf("no service runs berth db migrate")
	}
	envOf := func(name string) []string {
		var env []string
		for k, v := range nodeEnv(t, doc.Services[name].Environment) {
			v, err := composeSubst(v)
			if err != nil {
				t.Errorf("service %s, %s: %v", name, k, err)
			}
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
		return env
	}
	first := envOf(nodes[0])
	for _, n := range nodes[1:] {
		if got := envOf(n); !slices.Equal(got, first) {
			t.Errorf("service %s has environment %q, %s has %q; the nodes must share one configuration", n, got, nodes[0], first)
		}
	}
	if migrate != "" && !slices.Equal(envOf(migrate), first) {
		t.Errorf("service %s migrates with another configuration than the nodes", migrate)
	}

	t.Run("berth accepts the nodes' configuration", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(f, []byte("version: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		env := append([]string{"BERTH_STORAGE_PATH=" + imageDataDir}, first...)
		cfg := mustConfigCheck(t, f, env)
		if cfg.Storage.Driver != "s3" || cfg.Metadata.Driver != "postgres" {
			t.Errorf("drivers %s/%s, want s3/postgres: two nodes cannot share the embedded default", cfg.Storage.Driver, cfg.Metadata.Driver)
		}
		host, _, _ := strings.Cut(cfg.Storage.S3.Endpoint, ":")
		if _, ok := doc.Services[host]; !ok {
			t.Errorf("S3 endpoint %q is no service of the file", cfg.Storage.S3.Endpoint)
		}
		if !strings.Contains(cfg.Metadata.Postgres.DSN, "@postgres:") {
			t.Errorf("DSN %q does not point at the postgres service", cfg.Metadata.Postgres.DSN)
		}
		if _, ok := doc.Services["postgres"]; !ok {
			t.Errorf("no postgres service")
		}
		if !strings.HasSuffix(cfg.HTTP.Addr, ":5000") {
			t.Errorf("nodes listen on %q; nginx.conf expects port 5000", cfg.HTTP.Addr)
		}
	})

	t.Run("start order", func(t *testing.T) {
		for name, s := range doc.Services {
			for dep, d := range s.DependsOn {
				target, ok := doc.Services[dep]
				switch {
				case !ok:
					t.Errorf("%s depends on unknown service %s", name, dep)
				case d.Condition == "service_healthy" && target.Healthcheck == nil:
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				case d.Condition == "":
					t.Errorf("%s depends on %s without a condition", name, dep)
				}
			}
		}
		for _, n := range nodes {
			deps := doc.Services[n].DependsOn
			if deps[migrate].Condition != "service_completed_successfully" {
				t.Errorf("%s does not wait for %s to complete: %+v", n, migrate, deps)
			}
			var s3 bool
			for dep, d := range deps {
				s3 = s3 || (dep != migrate && d.Condition == "service_healthy")
			}
			if !s3 {
				t.Errorf("%s waits for no healthy store: %+v", n, deps)
			}
		}
		if migrate != "" && doc.Services[migrate].DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres", migrate)
		}
	})

	t.Run("nginx", func(t *testing.T) {
		var lb string
		for name, s := range doc.Services {
			for _, v := range s.Volumes {
				if strings.HasPrefix(v, "./nginx.conf:") {
					lb = name
				}
			}
		}
		if lb == "" {
			t.Fatal("no service mounts ./nginx.conf")
		}
		if len(doc.Services[lb].Ports) == 0 {
			t.Errorf("the load balancer %s publishes no port", lb)
		}
		for _, n := range nodes {
			if _, ok := doc.Services[lb].DependsOn[n]; !ok {
				t.Errorf("%s does not depend on %s", lb, n)
			}
			if len(doc.Services[n].Ports) != 0 {
				t.Errorf("berth node %s publishes %q; only the load balancer should", n, doc.Services[n].Ports)
			}
		}
		conf, err := os.ReadFile(filepath.Join(dir, "nginx.conf"))
		if err != nil {
			t.Fatal(err)
		}
		text := regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(conf), "")
		for _, re := range []string{
			`client_max_body_size\s+0;`,
			`proxy_request_buffering\s+off;`,
			`proxy_buffering\s+off;`,
			`proxy_read_timeout\s+\d+s;`,
			`proxy_send_timeout\s+\d+s;`,
			`proxy_set_header\s+Host\s+\$http_host;`,
			`proxy_set_header\s+X-Forwarded-For\s`,
			`proxy_set_header\s+X-Forwarded-Proto\s`,
			`proxy_pass\s+http://berth;`,
		} {
			if !regexp.MustCompile(re).MatchString(text) {
				t.Errorf("nginx.conf lacks %s", re)
			}
		}
		up := regexp.MustCompile(`(?s)upstream\s+berth\s*\{(.*?)\}`).FindStringSubmatch(text)
		if up == nil {
			t.Fatal("nginx.conf has no upstream berth block")
		}
		var servers []string
		for _, m := range regexp.MustCompile(`server\s+([A-Za-z0-9_.-]+):5000\b`).FindAllStringSubmatch(up[1], -1) {
			servers = append(servers, m[1])
		}
		sort.Strings(servers)
		if !slices.Equal(servers, nodes) {
			t.Errorf("nginx balances over %q, the berth services are %q", servers, nodes)
		}
	})

	t.Run("docker-compose config", func(t *testing.T) {
		var cmd []string
		if p, err := exec.LookPath("docker-compose"); err == nil {
			cmd = []string{p}
		} else if out, err := dockerCLI(t, "compose", "version"); err == nil && strings.Contains(out, "version") {
			cmd = []string{"docker", "compose"}
		} else {
			t.Skip("neither docker-compose nor docker compose is installed")
		}
		c := exec.Command(cmd[0], append(cmd[1:], "-f", file, "config", "-q")...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s config -q: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	})
}

// ---------------------------------------------------------------------------
// The image

// staticBerth returns a statically linked berth binary: the target binary
// if it is one, otherwise one built with CGO_ENABLED=0 (the image has no C
// library).
func staticBerth(t *testing.T) string {
	t.Helper()
	bin := targetBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		return bin
	}
	t.Logf("%s is dynamically linked; building a static berth for the image", bin)
	out := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-o", out, "github.com/berth-registry/berth/cmd/berth")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/berth: %v\n%s", err, b)
	}
	return out
}

// classicBuild runs `docker build` with the classic builder.
func classicBuild(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("E2E_DOCKER")
	if bin == "" {
		bin = "docker"
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(t testing.TB, src, dst string, mode fs.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// imageContextDir lays out a build context like the repository's, with the
// files the Dockerfile reads (and .dockerignore), but no sources.
func imageContextDir(t *testing.T) string {
	t.Helper()
	root, ctx := repoRoot(), t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(ctx, f), 0o644)
	}
	src := filepath.Join(root, "deploy", "docker")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(ctx, rel), 0o644)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// imagePathEntries lists the tar entries of PATH in image (docker cp from a
// created, never started, container).
func imagePathEntries(t testing.TB, image, p string) []*tar.Header {
	t.Helper()
	cid := strings.TrimSpace(mustDocker(t, "create", image))
	defer dockerCLI(t, "rm", "-f", "-v", cid)
	bin := os.Getenv("E2E_DOCKER")
	if bin == "" {
		bin = "docker"
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "cp", cid+":"+p, "-")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker cp %s:%s: %v\n%s", image, p, err, stderr.String())
	}
	var hs []*tar.Header
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatalf("docker cp %s: %v", p, err)
		}
		hs = append(hs, h)
	}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestDeployDockerImage builds the image from the Dockerfile's prebuilt
// stage with the classic builder (offline: the golang stage must not be
// touched), checks its configuration and data directory, runs it with a
// read-only root filesystem and pushes and pulls an image through it.
func TestDeployDockerImage(t *testing.T) {
	requireBerth(t)
	requireDocker(t)

	dockerfile, err := os.ReadFile(filepath.Join(repoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?mi)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(string(dockerfile), -1)
	prebuiltAt, goAt := -1, -1
	for i, s := range stages {
		if strings.EqualFold(s[2], "prebuilt") {
			prebuiltAt = i
		}
		if goAt < 0 && (strings.Contains(s[1], "golang") || strings.Contains(s[1], "GO_IMAGE")) {
			goAt = i
		}
	}
	if prebuiltAt < 0 || goAt < 0 || prebuiltAt > goAt {
		t.Fatalf("Dockerfile stages %q: want a prebuilt stage before the golang one (the classic builder builds every stage up to the target)", stages)
	}

	ctxDir := imageContextDir(t)
	suffix := randomSuffix()

	t.Run("prebuilt stage without bin/berth", func(t *testing.T) {
		// What the classic builder does on a fresh clone for the default
		// target: the prebuilt stage must still build.
		tag := "berth-e2e-deploy-empty:" + suffix
		if out, err := classicBuild(t, "--target", "prebuilt", "-t", tag, ctxDir); err != nil {
			t.Fatalf("docker build --target prebuilt without bin/berth: %v\n%s", err, out)
		}
		defer dockerCLI(t, "rmi", "-f", tag)
		for _, h := range imagePathEntries(t, tag, "/usr/local/bin") {
			if path.Base(h.Name) == "berth" {
				t.Errorf("/usr/local/bin/berth exists though the context had none")
			}
		}
	})

	copyFile(t, staticBerth(t), filepath.Join(ctxDir, "bin", "berth"), 0o755)
	tag := "berth-e2e-deploy:" + suffix
	if out, err := classicBuild(t, "--target", "prebuilt", "-t", tag, ctxDir); err != nil {
		t.Fatalf("DOCKER_BUILDKIT=0 docker build --target prebuilt: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", tag) })

	t.Run("image config", func(t *testing.T) {
		var cfg struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			ExposedPorts map[string]any
			Volumes      map[string]any
		}
		out := mustDocker(t, "image", "inspect", "--format", "{{json .Config}}", tag)
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatalf("image config %q: %v", out, err)
		}
		if cfg.User != "65532:65532" {
			t.Errorf("User %q, want 65532:65532", cfg.User)
		}
		if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/berth"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
			t.Errorf("Entrypoint %q Cmd %q, want [/usr/local/bin/berth] [serve]", cfg.Entrypoint, cfg.Cmd)
		}
		if _, ok := cfg.ExposedPorts["5000/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
			t.Errorf("ExposedPorts %v, want 5000/tcp", cfg.ExposedPorts)
		}
		if _, ok := cfg.Volumes[imageDataDir]; !ok || len(cfg.Volumes) != 1 {
			t.Errorf("Volumes %v, want %s", cfg.Volumes, imageDataDir)
		}
		if !slices.Contains(cfg.Env, "BERTH_STORAGE_PATH="+imageDataDir) {
			t.Errorf("Env %q lacks BERTH_STORAGE_PATH=%s", cfg.Env, imageDataDir)
		}
		if bad := unknownBerthEnv(strings.Join(cfg.Env, "\n")); len(bad) > 0 {
			t.Errorf("the image sets %v, which name no configuration key", bad)
		}
	})

	t.Run("data directory", func(t *testing.T) {
		hs := imagePathEntries(t, tag, imageDataDir)
		if len(hs) != 1 {
			names := make([]string, len(hs))
			for i, h := range hs {
				names[i] = h.Name
			}
			t.Fatalf("%s holds %q, want an empty directory", imageDataDir, names)
		}
		if h := hs[0]; h.Typeflag != tar.TypeDir || h.Uid != 65532 || h.Gid != 65532 {
			t.Errorf("%s: type %c owner %d:%d, want a directory owned by 65532:65532", imageDataDir, h.Typeflag, h.Uid, h.Gid)
		}
	})

	t.Run("serve, push and pull", func(t *testing.T) {
		addr := freeAddr(t)
		args := []string{"run", "-d", "--network", "host", "--read-only", "--tmpfs", "/tmp", "-e", "BERTH_HTTP_SHUTDOWN_TIMEOUT=10s"}
		// The first start makes the admin with this password; the client
		// answers the Bearer challenge with it.
		pw := "e2e-" + randomSuffix()
		args = append(args, "-e", "BERTH_ADMIN_PASSWORD="+pw)
		opts := []crane.Option{crane.Insecure, crane.WithAuth(&authn.Basic{Username: "admin", Password: pw})}
		cid := strings.TrimSpace(mustDocker(t, append(args, tag, "serve", "--addr", addr)...))
		t.Cleanup(func() {
			if t.Failed() {
				out, _ := dockerCLI(t, "logs", "--tail", "60", cid)
				t.Logf("container log:\n%s", out)
			}
			_, _ = dockerCLI(t, "rm", "-f", "-v", cid)
		})
		waitContainerReady(t, cid, "http://"+addr+"/readyz")

		img, err := random.Image(1<<20, 3)
		if err != nil {
			t.Fatal(err)
		}
		want, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref := addr + "/e2e/deploy:v1"
		if err := crane.Push(img, ref, opts...); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		got, err := crane.Digest(ref, opts...)
		if err != nil || got != want.String() {
			t.Fatalf("digest of %s: %q, %v; pushed %s", ref, got, err, want)
		}
		pulled, err := crane.Pull(addr+"/e2e/deploy@"+want.String(), opts...)
		if err != nil {
			t.Fatalf("pull by digest: %v", err)
		}
		if err := validate.Image(pulled); err != nil {
			t.Fatalf("pulled image: %v", err)
		}
		if d, err := pulled.Digest(); err != nil || d != want {
			t.Fatalf("pulled digest %s, %v; want %s", d, err, want)
		}

		mustDocker(t, "stop", "--time", "30", cid)
		if code := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", cid)); code != "0" {
			t.Errorf("berth exited with %s after docker stop (SIGTERM), want 0", code)
		}
	})
}

// waitContainerReady polls url until it answers 200; fatal if the container
// stops or readiness does not come within a minute.
func waitContainerReady(t testing.TB, cid, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	last := "no answer"
	for time.Now().Before(deadline) {
		if running := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Running}}", cid)); running != "true" {
			t.Fatalf("container stopped before %s answered 200", url)
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within a minute (last: %s)", url, last)
}
