//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of sizeMiB on a fresh directory and unmounts it
// when the test ends (after the servers using it have stopped: cleanups run
// last-registered first).
func mountTmpfs(t *testing.T, sizeMiB int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0755", sizeMiB)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := syscall.Unmount(dir, 0); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestFullDisk fills the data directory's file system with pushes: the
// failing push must get an HTTP error (not a hang or a dropped connection),
// the registry must stay up, earlier images must stay whole, and pushes
// must work again once space is freed.
func TestFullDisk(t *testing.T) {
	rng := newRand(t)
	mnt := mountTmpfs(t, 64)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 24<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverOpts{DataDir: filepath.Join(mnt, "data")})

	var acked []pushedImage
	var failure error
	for i := 0; i < 40 && failure == nil; i++ {
		img := randomImage(t, rng, 2, 1<<20, 3<<20)
		p := describeImage(t, "disk/fill", fmt.Sprintf("n%d", i), img)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := pushImage(ctx, tagRef(t, s.host(), p.Repo, p.Tag), img)
		hung := ctx.Err() != nil
		cancel()
		switch {
		case hung:
			t.Fatalf("push %d on a full disk hung: %v", i, err)
		case err == nil:
			acked = append(acked, p)
		default:
			failure = err
			st := registryStatus(err)
			t.Logf("push %d failed with status %d: %v", i, st, err)
			if st < 400 || st > 599 {
				t.Errorf("push on a full disk: want an HTTP 4xx/5xx answer from the registry, got %v", err)
			}
		}
	}
	if failure == nil {
		t.Fatalf("40 pushes of ~4 MiB all succeeded on a 64 MiB tmpfs")
	}
	if len(acked) == 0 {
		t.Fatalf("the first push already failed; the test checked little: %v", failure)
	}
	s.checkAlive(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, p := range acked {
		if err := verifyImage(ctx, s.host(), p); err != nil {
			t.Errorf("while the disk is full: %v", err)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, rng, 2, 1<<20, 3<<20)
	p := describeImage(t, "disk/after", "freed", img)
	if err := pushImage(ctx, tagRef(t, s.host(), p.Repo, p.Tag), img); err != nil {
		t.Fatalf("push after freeing space: %v", err)
	}
	acked = append(acked, p)

	// A clean restart on the same data keeps everything.
	s.restart()
	for _, p := range acked {
		if err := verifyImage(ctx, s.host(), p); err != nil {
			t.Errorf("after restart: %v", err)
		}
	}
	t.Logf("%d images pushed before the disk filled; all verified", len(acked)-1)
}

// TestMaxBlobSize checks storage.max_blob_size: a larger layer is refused
// with a client error and not stored; a smaller one is accepted.
func TestMaxBlobSize(t *testing.T) {
	requireBerth(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{Env: []string{"BERTH_STORAGE_MAX_BLOB_SIZE=1048576"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	big := randomImage(t, rng, 1, 2<<20, 2<<20)
	pb := describeImage(t, "limits/big", "v1", big)
	began := time.Now()
	err := pushImage(ctx, tagRef(t, s.host(), pb.Repo, pb.Tag), big)
	t.Logf("2 MiB layer refused after %s: %v", time.Since(began).Round(time.Millisecond), err)
	if err == nil {
		t.Fatalf("push of a 2 MiB layer with max_blob_size=1MiB succeeded")
	}
	if st := registryStatus(err); st < 400 || st > 499 {
		t.Errorf("push of a too-big layer: want a 4xx answer, got %v", err)
	}
	if served, err := checkBlobGet(ctx, s, pb.Repo, pb.Blobs[1]); err != nil || served {
		t.Errorf("the refused layer: served=%v err=%v, want not stored", served, err)
	}
	s.checkAlive(t)

	small := randomImage(t, rng, 2, 64<<10, 256<<10)
	ps := describeImage(t, "limits/small", "v1", small)
	if err := pushImage(ctx, tagRef(t, s.host(), ps.Repo, ps.Tag), small); err != nil {
		t.Fatalf("push of small layers: %v", err)
	}
	if err := verifyImage(ctx, s.host(), ps); err != nil {
		t.Error(err)
	}
}
