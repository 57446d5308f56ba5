package sqlite

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
)

const crashEnv = "BERTH_META_CRASH_DB"

// TestCrashWriter is the child of TestKill9KeepsAcknowledgedWrites: it
// pushes and tags manifests until killed, printing each acknowledged commit.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestKill9KeepsAcknowledgedWrites")
	}
	s, err := Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		m := testManifest(strconv.Itoa(i))
		err := s.Update(t.Context(), func(tx meta.Tx) error {
			if err := tx.PutManifest("crash/repo", m, meta.Refs{}); err != nil {
				return err
			}
			_, err := tx.PutTag("crash/repo", fmt.Sprintf("t%07d", i), m.Digest)
			return err
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("ack %d\n", i) // unbuffered: written before the next commit starts
	}
}

func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "meta.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() && last < 300 {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			last, _ = strconv.Atoi(n)
		} else if strings.HasPrefix(line, "error") {
			t.Fatalf("writer: %s", line)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-transaction most likely
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if last < 300 {
		t.Fatalf("writer acknowledged only %d commits before it stopped", last+1)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(r meta.Reader) error {
		tags, err := r.ListTags("crash/repo", "", 0)
		if err != nil {
			return err
		}
		if len(tags) < last+1 {
			t.Errorf("%d tags after the crash, but %d commits were acknowledged", len(tags), last+1)
		}
		for i := range last + 1 {
			if _, err := r.ManifestByTag("crash/repo", fmt.Sprintf("t%07d", i)); err != nil {
				t.Errorf("acknowledged tag t%07d: %v", i, err)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := s.Update(t.Context(), func(tx meta.Tx) error { return rawQuery(tx, "PRAGMA integrity_check", &check) }); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}
