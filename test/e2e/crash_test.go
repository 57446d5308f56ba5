//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var crashIterations = flag.Int("crash.iterations", envInt("E2E_CRASH_ITERATIONS", 15),
	"kill -9 rounds of TestCrashDuringPushes (env E2E_CRASH_ITERATIONS)")

// The kill lands uniformly in [minKill, maxKill) after the pushes start.
var (
	crashMinKill = time.Duration(envInt("E2E_CRASH_MIN_KILL_MS", 50)) * time.Millisecond
	crashMaxKill = time.Duration(envInt("E2E_CRASH_MAX_KILL_MS", 800)) * time.Millisecond
)

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

const (
	crashPushers  = 8
	crashMinLayer = 256 << 10
	crashMaxLayer = 3 << 20
)

// pushLog collects, for one round, every image a pusher started and every
// one the registry acknowledged.
type pushLog struct {
	mu        sync.Mutex
	attempted []pushedImage
	acked     []pushedImage
	failed    int
	firstErr  error
	lastAck   time.Duration // since the pushes started
}

// TestCrashDuringPushes kills the registry with SIGKILL while several
// clients push, restarts it on the same data directory and checks that every
// acknowledged image, from this round and all earlier ones, is intact, and
// that no blob is ever served with content other than its digest.
func TestCrashDuringPushes(t *testing.T) {
	scenario(t, "go-containerregistry", "concurrent pushes killed with SIGKILL, then every acknowledged image validated")
	rng := newRand(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, serverOpts{DataDir: dataDir})

	var acked []pushedImage
	totalAttempted, totalFailed := 0, 0
	for round := 0; round < *crashIterations; round++ {
		killAfter := crashMinKill + time.Duration(rng.Int64N(int64(crashMaxKill-crashMinKill)))
		log := runPushersUntilKill(t, s, rng, round, killAfter)
		totalAttempted += len(log.attempted)
		totalFailed += log.failed

		s.start() // same address, same data directory
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)

		// Every image acknowledged in this round must be complete.
		for _, p := range log.acked {
			if err := verifyImage(ctx, s.host(), p); err != nil {
				t.Errorf("round %d (killed after %s): acknowledged image damaged: %v", round, killAfter, err)
			}
		}
		// Blobs of pushes that were cut short may or may not exist, but
		// whatever is served must be whole.
		for _, p := range log.attempted {
			for _, b := range p.Blobs {
				if _, err := checkBlobGet(ctx, s, p.Repo, b); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}
		}
		// Earlier rounds' images: cheap checks now, full validation at the end.
		last := round == *crashIterations-1
		for _, p := range acked {
			if last {
				if err := verifyImage(ctx, s.host(), p); err != nil {
					t.Errorf("after round %d: earlier image damaged: %v", round, err)
				}
				continue
			}
			if err := headImage(ctx, s, p); err != nil {
				t.Errorf("after round %d: earlier image damaged: %v", round, err)
			}
		}
		acked = append(acked, log.acked...)

		// The restarted registry takes new pushes.
		fresh := randomImage(t, rng, 2, 16<<10, 64<<10)
		p := describeImage(t, "crash/after", fmt.Sprintf("round%d", round), fresh)
		if err := pushImage(ctx, tagRef(t, s.host(), p.Repo, p.Tag), fresh); err != nil {
			t.Errorf("round %d: push after restart: %v", round, err)
		} else if err := verifyImage(ctx, s.host(), p); err != nil {
			t.Errorf("round %d: image pushed after restart: %v", round, err)
		} else {
			acked = append(acked, p)
		}
		cancel()
		t.Logf("round %d: killed after %s; %d pushes started, %d acknowledged (last at %s), %d failed (first: %v)",
			round, killAfter, len(log.attempted), len(log.acked), log.lastAck.Round(time.Millisecond), log.failed, log.firstErr)
		if t.Failed() {
			t.Fatalf("stopping after round %d", round)
		}
	}
	if len(acked) <= *crashIterations {
		t.Errorf("only %d images acknowledged in %d rounds (beyond the one push after each restart): the kill came before any push could finish; the test checked little",
			len(acked)-*crashIterations, *crashIterations)
	}
	t.Logf("%d rounds: %d pushes started, %d acknowledged (all verified), %d cut short",
		*crashIterations, totalAttempted, len(acked), totalFailed)
}

// runPushersUntilKill runs crashPushers clients, each pushing images until
// one fails, kills the registry after killAfter and waits for the clients.
func runPushersUntilKill(t *testing.T, s *server, rng *rand.Rand, round int, killAfter time.Duration) *pushLog {
	t.Helper()
	log := &pushLog{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Images are made before the clock starts, so the kill lands in pushes.
	type job struct {
		p   pushedImage
		ref name.Tag
		img v1.Image
	}
	// Each client starts small (an ack comes early) and grows towards
	// crashMaxLayer (uploads are in flight when the kill lands).
	const perPusher = 6
	jobs := make([][]job, crashPushers)
	for w := range jobs {
		repo := fmt.Sprintf("crash/repo%d", w%4) // two pushers share each repository
		for n := 0; n < perPusher; n++ {
			hi := min(crashMaxLayer, crashMinLayer<<n)
			img := randomImage(t, rng, 2+rng.IntN(3), hi/4, hi)
			p := describeImage(t, repo, fmt.Sprintf("r%d-w%d-n%d", round, w, n), img)
			jobs[w] = append(jobs[w], job{p: p, ref: tagRef(t, s.host(), p.Repo, p.Tag), img: img})
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for w := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, j := range jobs[w] {
				log.mu.Lock()
				log.attempted = append(log.attempted, j.p)
				log.mu.Unlock()
				err := pushImage(ctx, j.ref, j.img)
				log.mu.Lock()
				if err == nil {
					log.acked = append(log.acked, j.p)
					log.lastAck = time.Since(start)
				} else {
					log.failed++
					if log.firstErr == nil {
						log.firstErr = err
					}
				}
				log.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(killAfter)
	s.kill()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("round %d: pushes still hanging 2 minutes after the kill", round)
	}
	return log
}

// headImage checks an image's tag, manifest and blobs with HEAD requests.
func headImage(ctx context.Context, s *server, p pushedImage) error {
	status, hdr, err := headStatus(ctx, s, "/v2/"+p.Repo+"/manifests/"+p.Tag, manifestAccept)
	if err != nil {
		return fmt.Errorf("%s: HEAD manifest: %w", p, err)
	}
	if status != 200 || hdr.Get("Docker-Content-Digest") != p.Digest.String() {
		return fmt.Errorf("%s: HEAD manifest: status %d, digest %q", p, status, hdr.Get("Docker-Content-Digest"))
	}
	for _, b := range p.Blobs {
		status, _, err := headStatus(ctx, s, "/v2/"+p.Repo+"/blobs/"+b.String(), nil)
		if err != nil {
			return fmt.Errorf("%s: HEAD blob %s: %w", p, b, err)
		}
		if status != 200 {
			return fmt.Errorf("%s: HEAD blob %s: status %d", p, b, status)
		}
	}
	return nil
}
