//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The README's compatibility table lists, for every client, the version the
// tests run and each scenario exercised with it. scenario() records every
// scenario that runs; after the whole package ran, TestMain compares the
// records with the table and fails when they differ, so the table cannot
// drift from what is actually tested.

const (
	beginCompat = "<!-- BEGIN COMPAT TABLE -->"
	endCompat   = "<!-- END COMPAT TABLE -->"
)

type compatRow struct {
	Client, Scenario string
	Passed           bool
}

var (
	compatMu   sync.Mutex
	compatRows []compatRow
)

// scenario marks t as the compatibility scenario what of client (a name in
// scripts/clients.versions); its pass or failure goes into the table check.
func scenario(t *testing.T, client, what string) {
	t.Helper()
	if _, ok := clientVersions()[client]; !ok {
		t.Fatalf("client %q is not pinned in scripts/clients.versions", client)
	}
	t.Cleanup(func() {
		compatMu.Lock()
		defer compatMu.Unlock()
		compatRows = append(compatRows, compatRow{Client: client, Scenario: what, Passed: !t.Failed() && !t.Skipped()})
	})
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	versionsOnce sync.Once
	versions     map[string]string
)

// clientVersions reads scripts/clients.versions.
func clientVersions() map[string]string {
	versionsOnce.Do(func() {
		versions = map[string]string{}
		f, err := os.Open(filepath.Join(repoRoot(), "scripts", "clients.versions"))
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if name, ver, ok := strings.Cut(line, " "); ok {
				versions[name] = strings.TrimSpace(ver)
			}
		}
	})
	return versions
}

// clientVersion returns the pinned version of client.
func clientVersion(t testing.TB, client string) string {
	v, ok := clientVersions()[client]
	if !ok {
		t.Fatalf("client %q is not pinned in scripts/clients.versions", client)
	}
	return v
}

// compatTable renders the recorded scenarios as the README table: one row a
// client, its scenarios joined in name order.
func compatTable(rows []compatRow) string {
	type agg struct {
		scenarios []string
		failed    bool
	}
	by := map[string]*agg{}
	for _, r := range rows {
		a := by[r.Client]
		if a == nil {
			a = &agg{}
			by[r.Client] = a
		}
		a.scenarios = append(a.scenarios, r.Scenario)
		a.failed = a.failed || !r.Passed
	}
	clients := make([]string, 0, len(by))
	for c := range by {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	var b strings.Builder
	b.WriteString("| client | version tested | what is exercised | result |\n|---|---|---|---|\n")
	for _, c := range clients {
		a := by[c]
		sort.Strings(a.scenarios)
		a.scenarios = compactStrings(a.scenarios)
		result := "passes"
		if a.failed {
			result = "FAILS"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c, clientVersions()[c], strings.Join(a.scenarios, "; "), result)
	}
	return b.String()
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

var filtered = regexp.MustCompile(`^-test\.(run|skip)=.+`)

// checkCompatTable compares the README table with what ran. It only judges
// full runs: with -run or -skip, some scenarios were left out on purpose.
// E2E_UPDATE_COMPAT=1 rewrites the table instead.
func checkCompatTable() error {
	if k := os.Getenv("E2E_TARGET"); k != "" && k != targetBerth {
		return nil // the table describes berth
	}
	for _, a := range os.Args[1:] {
		if filtered.MatchString(a) {
			return nil
		}
	}
	compatMu.Lock()
	want := compatTable(compatRows)
	compatMu.Unlock()
	path := filepath.Join(repoRoot(), "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(raw)
	i, j := strings.Index(doc, beginCompat), strings.Index(doc, endCompat)
	if i < 0 || j < i {
		return fmt.Errorf("README.md: markers %s / %s not found", beginCompat, endCompat)
	}
	got := doc[i+len(beginCompat)+1 : j]
	if got == want {
		return nil
	}
	if os.Getenv("E2E_UPDATE_COMPAT") == "1" {
		return os.WriteFile(path, []byte(doc[:i+len(beginCompat)+1]+want+doc[j:]), 0o644)
	}
	return fmt.Errorf("README.md compatibility table differs from the scenarios that ran (E2E_UPDATE_COMPAT=1 rewrites it).\nREADME:\n%s\nran:\n%s", got, want)
}

func TestMain(m *testing.M) {
	code := m.Run()
	removeDockerConfig()
	if err := checkCompatTable(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: compatibility table:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func TestCompatTableRendering(t *testing.T) {
	rows := []compatRow{
		{Client: "skopeo", Scenario: "copy", Passed: true},
		{Client: "crane", Scenario: "push", Passed: true},
		{Client: "skopeo", Scenario: "inspect", Passed: false},
		{Client: "skopeo", Scenario: "copy", Passed: true},
	}
	got := compatTable(rows)
	want := "| client | version tested | what is exercised | result |\n|---|---|---|---|\n" +
		"| crane | " + clientVersions()["crane"] + " | push | passes |\n" +
		"| skopeo | " + clientVersions()["skopeo"] + " | copy; inspect | FAILS |\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
