package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/transfer"
)

// copyFlags are the flags copy and sync share.
type copyFlags struct {
	platform      string
	srcTLSVerify  bool
	destTLSVerify bool
	srcCreds      string
	destCreds     string
	skipReferrers bool
	progress      string
	jobs          int
}

func (f *copyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "copy only this platform's image out of an index: os/arch[/variant]\n"+
		"(the destination then holds that image, whose digest is not the index's)")
	fl.BoolVar(&f.srcTLSVerify, "src-tls-verify", true, "verify the source's TLS certificate and require HTTPS\n"+
		"(false: skip verification and allow plain HTTP; localhost and 127.0.0.1 may always use HTTP)")
	fl.BoolVar(&f.destTLSVerify, "dest-tls-verify", true, "the same for the destination")
	fl.StringVar(&f.srcCreds, "src-creds", "", "USER:PASSWORD for the source (default: the Docker config file)")
	fl.StringVar(&f.destCreds, "dest-creds", "", "USER:PASSWORD for the destination (default: the Docker config file)")
	fl.BoolVar(&f.skipReferrers, "skip-referrers", false, "leave referrers (signatures, SBOMs) and sha256-<hex> tags behind")
	fl.StringVar(&f.progress, "progress", "auto", "auto (bars on a terminal, log lines elsewhere), bars, lines or none")
	fl.IntVar(&f.jobs, "jobs", 4, "blobs copied at once")
}

// options turns the flags into the engine's options.
func (f *copyFlags) options(cmd string) (transfer.Options, error) {
	opts := transfer.Options{
		Src:           transfer.Endpoint{Keychain: authn.DefaultKeychain, Insecure: !f.srcTLSVerify},
		Dst:           transfer.Endpoint{Keychain: authn.DefaultKeychain, Insecure: !f.destTLSVerify},
		SkipReferrers: f.skipReferrers,
		Jobs:          f.jobs,
		UserAgent:     "berth/" + version,
	}
	if f.jobs < 1 {
		return opts, usageError{fmt.Errorf("%s: --jobs must be at least 1", cmd)}
	}
	for _, side := range []struct {
		flag, creds string
		ep          *transfer.Endpoint
	}{{"--src-creds", f.srcCreds, &opts.Src}, {"--dest-creds", f.destCreds, &opts.Dst}} {
		if side.creds == "" {
			continue
		}
		user, pass, ok := strings.Cut(side.creds, ":")
		if !ok || user == "" {
			return opts, usageError{fmt.Errorf("%s: %s wants USER:PASSWORD", cmd, side.flag)}
		}
		side.ep.Auth = &authn.Basic{Username: user, Password: pass}
	}
	if f.platform != "" {
		p, err := v1.ParsePlatform(f.platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return opts, usageError{fmt.Errorf("%s: --platform %q: want os/arch[/variant], e.g. linux/arm64", cmd, f.platform)}
		}
		opts.Platform = p
	}
	switch f.progress {
	case "auto", "bars", "lines", "none":
	default:
		return opts, usageError{fmt.Errorf("%s: --progress %q: want auto, bars, lines or none", cmd, f.progress)}
	}
	return opts, nil
}

// hasTagOrDigest reports whether an image reference names a tag or digest
// (name.ParseReference would add "latest" to a bare repository).
func hasTagOrDigest(s string) bool {
	return strings.Contains(s, "@") || strings.Contains(s[strings.LastIndex(s, "/")+1:], ":")
}

func (c *cli) copyCmd() *cobra.Command {
	var f copyFlags
	var allTags bool
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image or index between registries, digests and referrers kept",
		Long: "Copy an image or a multi-platform index from one registry to another (berth, registry:2 or\n" +
			"any OCI registry), byte for byte: digests stay the same. Referrers travel with every manifest\n" +
			"copied: those the source lists through the OCI referrers API (or the sha256-<hex> referrers\n" +
			"tag where the API is missing) and cosign-style tags sha256-<hex>.sig, .att and .sbom. Blobs\n" +
			"the destination has are not sent again; within one registry they are mounted.\n\n" +
			"SRC is REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST. DST is REGISTRY/REPO[:TAG|@DIGEST]; without\n" +
			"a tag it takes SRC's (a copy by digest is then written by digest only). With --all-tags both\n" +
			"are repositories and every tag is copied. With --platform only that platform's image is\n" +
			"copied out of an index, and it keeps its own digest (not the index's).\n\n" +
			"Credentials come from the Docker config file (~/.docker/config.json, $DOCKER_CONFIG, credential\n" +
			"helpers; podman's auth.json when there is none), as docker, crane and skopeo read them;\n" +
			"--src-creds and --dest-creds override it. A second copy sends nothing and says \"up to date\".",
		Example: "  berth copy registry.example/team/app:1.4 berth.example/prod/app\n" +
			"  berth copy --all-tags 127.0.0.1:5000/tools/cli berth.example/mirror/cli\n" +
			"  berth copy --platform linux/arm64 registry.example/app:1.4 edge.example/app:1.4-arm64",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options("copy")
			if err != nil {
				return err
			}
			p := c.newProgress(f.progress)
			opts.Progress = p
			rep, err := c.runCopy(cmd, args[0], args[1], allTags, opts)
			p.close()
			if err != nil {
				return fmt.Errorf("copy %s to %s: %w", args[0], args[1], tlsHint(err))
			}
			for _, img := range rep.Images {
				if img.UpToDate {
					fmt.Fprintf(c.stdout, "%s is up to date (%s)\n", img.Dest, img.Digest)
				} else {
					fmt.Fprintf(c.stdout, "Copied %s to %s (%s)\n", img.Source, img.Dest, img.Digest)
				}
			}
			fmt.Fprintln(c.stdout, summary(rep))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&allTags, "all-tags", false, "copy every tag of the SRC repository to the DST repository")
	return cmd
}

func (c *cli) runCopy(cmd *cobra.Command, src, dst string, allTags bool, opts transfer.Options) (transfer.Report, error) {
	if allTags {
		if hasTagOrDigest(src) || hasTagOrDigest(dst) {
			return transfer.Report{}, usageError{errors.New("with --all-tags, SRC and DST are repositories (no tag or digest)")}
		}
		sr, err := name.NewRepository(src)
		if err != nil {
			return transfer.Report{}, usageError{err}
		}
		dr, err := name.NewRepository(dst)
		if err != nil {
			return transfer.Report{}, usageError{err}
		}
		return transfer.CopyRepository(cmd.Context(), sr, dr, opts)
	}
	sr, err := name.ParseReference(src)
	if err != nil {
		return transfer.Report{}, usageError{err}
	}
	if !hasTagOrDigest(dst) {
		switch s := sr.(type) {
		case name.Tag:
			dst += ":" + s.TagStr()
		case name.Digest:
			dst += "@" + s.DigestStr()
		}
	}
	dr, err := name.ParseReference(dst)
	if err != nil {
		return transfer.Report{}, usageError{err}
	}
	return transfer.Copy(cmd.Context(), sr, dr, opts)
}

func (c *cli) syncCmd() *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "sync SRC-REPO DST-PREFIX",
		Short: "Copy every tag of a repository below a destination prefix (like skopeo sync)",
		Long: "Copy every tag of SRC-REPO, with referrers, to DST-PREFIX/<name>, where <name> is the last\n" +
			"path component of SRC-REPO: registry.example/team/tools/app synced to berth.example/mirror\n" +
			"lands in berth.example/mirror/app (skopeo sync --src docker --dest docker does the same).\n" +
			"DST-PREFIX is a registry host or a repository path. When SRC-REPO names a tag or digest, only\n" +
			"that image is copied. Safe to run again: tags that already name the source's digest are\n" +
			"reported up to date and nothing is sent for them. Flags as for `berth copy`.",
		Example: "  berth sync registry.example/team/app berth.example/mirror\n" +
			"  berth sync --src-tls-verify=false registry.lan:5000/tools/cli 127.0.0.1:5000/copies",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options("sync")
			if err != nil {
				return err
			}
			src := args[0]
			repoPart := src
			if i := strings.Index(src, "@"); i >= 0 {
				repoPart = src[:i]
			} else if hasTagOrDigest(src) {
				repoPart = src[:strings.LastIndex(src, ":")]
			}
			sr, err := name.NewRepository(repoPart)
			if err != nil {
				return usageError{fmt.Errorf("sync: %w", err)}
			}
			dr, err := transfer.SyncDestination(sr, args[1])
			if err != nil {
				return usageError{fmt.Errorf("sync: %w", err)}
			}
			p := c.newProgress(f.progress)
			opts.Progress = p
			var rep transfer.Report
			if hasTagOrDigest(src) {
				rep, err = c.runCopy(cmd, src, dr.String(), false, opts)
			} else {
				rep, err = transfer.CopyRepository(cmd.Context(), sr, dr, opts)
			}
			p.close()
			if err != nil {
				return fmt.Errorf("sync %s to %s: %w", src, dr, tlsHint(err))
			}
			copied := 0
			for _, img := range rep.Images {
				if !img.UpToDate {
					copied++
					fmt.Fprintf(c.stdout, "Copied %s to %s (%s)\n", img.Source, img.Dest, img.Digest)
				}
			}
			fmt.Fprintf(c.stdout, "Synced %s to %s: %d tags copied, %d tags up to date\n", sr, dr, copied, len(rep.Images)-copied)
			fmt.Fprintln(c.stdout, summary(rep))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// summary is the last line of copy and sync.
func summary(r transfer.Report) string {
	return fmt.Sprintf("%d manifests written (%d already there), %d blobs sent (%s), %d mounted, %d already there",
		r.Manifests, r.ManifestsSkipped, r.BlobsSent, transfer.HumanBytes(r.BytesSent), r.BlobsMounted, r.BlobsSkipped)
}

// tlsHint adds what to do to a TLS failure.
func tlsHint(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "HTTP response to HTTPS client") {
		return fmt.Errorf("%w\n(for a registry with a certificate this machine does not trust, or plain HTTP on a host\nother than localhost, pass --src-tls-verify=false or --dest-tls-verify=false)", err)
	}
	return err
}

// progressSink shows a copy's events; close flushes it.
type progressSink interface {
	transfer.Progress
	close()
}

// newProgress picks the display: bars on a terminal, one log line per
// manifest or blob elsewhere.
func (c *cli) newProgress(mode string) progressSink {
	if mode == "auto" {
		mode = "lines"
		if isTerminal(c.stderr) && c.getenv("TERM") != "dumb" {
			mode = "bars"
		}
	}
	switch mode {
	case "bars":
		return newBars(c.stderr, 100*time.Millisecond)
	case "none":
		return nopProgress{}
	}
	return &lines{w: c.stderr}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type nopProgress struct{}

func (nopProgress) Update(transfer.Event) {}
func (nopProgress) close()                {}

// lines writes one line per blob and manifest copied or skipped.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) Update(e transfer.Event) {
	if e.Kind == transfer.BlobBytes || e.Kind == transfer.BlobStart {
		return
	}
	l.mu.Lock()
	fmt.Fprintln(l.w, e.String())
	l.mu.Unlock()
}

func (l *lines) close() {}

// bars draws a progress bar per blob being uploaded and one for the whole
// copy, redrawn in place with ANSI escapes; finished steps scroll above.
type bars struct {
	w    io.Writer
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	active  map[string]*barState
	order   []string // keys of active, oldest first
	pending []string // finished steps not yet printed
	drawn   int      // bar lines on screen
	total   int64    // bytes of the blobs started
	sent    int64    // bytes of the blobs finished
	nSent   int
	nSkip   int
}

type barState struct {
	label      string
	size, done int64
}

func newBars(w io.Writer, every time.Duration) *bars {
	b := &bars{w: w, stop: make(chan struct{}), done: make(chan struct{}), active: map[string]*barState{}}
	go func() {
		defer close(b.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw()
			case <-b.stop:
				b.draw()
				return
			}
		}
	}()
	return b
}

func (b *bars) Update(e transfer.Event) {
	key := e.Repo + "@" + e.Digest.String()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e.Kind {
	case transfer.BlobStart:
		if _, ok := b.active[key]; !ok {
			b.order = append(b.order, key)
		}
		b.active[key] = &barState{label: shortDigest(e.Digest), size: e.Size}
		b.total += e.Size
	case transfer.BlobBytes:
		if s := b.active[key]; s != nil {
			s.done = e.Done
		}
	case transfer.BlobSent, transfer.BlobMounted:
		if s := b.active[key]; s != nil {
			b.sent += s.size
			delete(b.active, key)
			b.order = removeKey(b.order, key)
		}
		b.nSent++
		b.pending = append(b.pending, e.String())
	case transfer.BlobSkipped:
		b.nSkip++
		b.pending = append(b.pending, e.String())
	default:
		b.pending = append(b.pending, e.String())
	}
}

func removeKey(keys []string, key string) []string {
	for i, k := range keys {
		if k == key {
			return append(keys[:i], keys[i+1:]...)
		}
	}
	return keys
}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

// draw replaces the bars on screen: finished steps first, then a bar per
// active blob (at most 8) and the overall one.
func (b *bars) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dF\x1b[J", b.drawn) // up to the first bar line, clear below
	}
	for _, p := range b.pending {
		sb.WriteString(p + "\n")
	}
	b.pending = b.pending[:0]
	keys := append([]string(nil), b.order...)
	if len(keys) > 8 {
		keys = keys[:8]
	}
	done := b.sent
	for _, k := range keys {
		s := b.active[k]
		sb.WriteString(barLine(s.label, s.done, s.size) + "\n")
		done += s.done
	}
	sb.WriteString(barLine(fmt.Sprintf("total (%d sent, %d skipped)", b.nSent, b.nSkip), done, b.total) + "\n")
	b.drawn = len(keys) + 1
	io.WriteString(b.w, sb.String())
}

// barLine is "label  [=====>     ]  1.2 MiB / 4.0 MiB".
func barLine(label string, done, size int64) string {
	const width = 30
	filled := width
	if size > 0 {
		filled = int(min(done, size) * width / size)
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("%-32s [%s] %10s / %-10s", label, bar, transfer.HumanBytes(done), transfer.HumanBytes(size))
}

func (b *bars) close() {
	close(b.stop)
	<-b.done
}
