package scan

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/sbom"
)

// scannerActor is who the scanner's writes (its SBOM referrers) are
// audited under.
const scannerActor = "scanner"

// Image config media types: a manifest with another config is an
// artifact, not an image.
var imageConfigTypes = map[string]bool{
	ocispec.MediaTypeImageConfig:                     true,
	"application/vnd.docker.container.image.v1+json": true,
}

// RunOne claims one queued scan for holder and runs it; false when none
// was queued.
func (s *Service) RunOne(ctx context.Context, holder string) (bool, error) {
	var (
		sc meta.Scan
		ok bool
	)
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		var err error
		sc, ok, err = tx.ClaimScan(holder, s.o.Now(), s.o.Lease)
		return err
	})
	if err != nil || !ok {
		return false, err
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.keepLease(jctx, cancel, sc, holder)
	rep, sbomDigest, runErr := s.scan(jctx, sc.Repo, sc.Digest)
	now := s.o.Now()
	out := sc
	switch {
	case runErr == nil:
		out.State, out.FinishedAt, out.Error, out.SBOM = meta.ScanDone, now, "", sbomDigest
		s.setFindings(&out, rep)
	case ctx.Err() != nil:
		return true, nil // stopping: the lease runs out and the scan is queued again
	case sc.Attempts >= s.o.MaxAttempts || errors.Is(runErr, errPermanent):
		out.State, out.FinishedAt, out.Error = meta.ScanFailed, now, runErr.Error()
	default:
		out.State, out.QueuedAt, out.Error = meta.ScanQueued, now.Add(time.Duration(sc.Attempts)*10*time.Second), runErr.Error()
	}
	if runErr != nil {
		s.o.Log.Warn("scan failed", "repository", sc.Repo, "digest", sc.Digest, "attempt", sc.Attempts, "err", runErr)
	} else {
		s.o.Log.Info("scanned", "repository", sc.Repo, "digest", sc.Digest, "packages", out.Packages,
			"critical", out.Critical, "high", out.High, "medium", out.Medium, "low", out.Low)
	}
	err = s.o.Store.Update(context.WithoutCancel(ctx), func(tx meta.Tx) error { return tx.FinishScan(out, holder) })
	if isNotFound(err) {
		return true, nil // the lease was lost, or the repository deleted
	}
	return true, err
}

// keepLease renews the lease of a running scan; a lost lease stops it.
func (s *Service) keepLease(ctx context.Context, stop context.CancelFunc, sc meta.Scan, holder string) {
	t := time.NewTicker(s.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
			return tx.RenewScan(sc.Repo, sc.Digest, holder, s.o.Now().Add(s.o.Lease))
		})
		if isNotFound(err) {
			stop()
			return
		}
	}
}

// errPermanent marks failures another attempt cannot fix.
var errPermanent = errors.New("cannot be scanned")

// scan catalogues and matches one manifest, and attaches its SBOM.
func (s *Service) scan(ctx context.Context, repo string, d digest.Digest) (Report, digest.Digest, error) {
	var (
		m   meta.Manifest
		gen meta.VulnDBState
	)
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		if m, err = r.Manifest(repo, d); err != nil {
			return err
		}
		gen, err = r.VulnDBState()
		return err
	})
	if err != nil {
		if isNotFound(err) {
			return Report{}, "", fmt.Errorf("%w: manifest %s is gone from %s", errPermanent, d, repo)
		}
		return Report{}, "", err
	}
	rep := Report{Scanner: ScannerName, Created: s.o.Now().UTC(), DBGeneration: gen.Generation}
	var mf struct {
		ocispec.Manifest
		Manifests []json.RawMessage `json:"manifests"` // an index's
	}
	if err := json.Unmarshal(m.Content, &mf); err != nil {
		return Report{}, "", fmt.Errorf("%w: manifest: %v", errPermanent, err)
	}
	switch {
	case len(mf.Manifests) > 0 || strings.Contains(m.MediaType, "index") || strings.Contains(m.MediaType, "list"):
		rep.Artifact = "index"
		return rep, "", nil
	case m.Subject != "" || !imageConfigTypes[mf.Config.MediaType]:
		rep.Artifact = "artifact"
		return rep, "", nil
	}
	rep.Artifact = "image"
	var ext *meta.Scanner
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ext, err = scannerFor(r, repo)
		return err
	}); err != nil {
		return Report{}, "", err
	}
	if ext != nil {
		rep, err := s.scanExternal(ctx, *ext, repo, m, rep)
		return rep, "", err
	}
	layers := make([]func() (io.ReadCloser, error), 0, len(mf.Layers))
	for _, l := range mf.Layers {
		layers = append(layers, func() (io.ReadCloser, error) { return s.openLayer(ctx, l) })
	}
	res, err := sbom.Build(ctx, layers, sbom.Options{})
	if err != nil {
		return Report{}, "", err
	}
	rep.OS = OS{ID: res.OS.ID, VersionID: res.OS.VersionID, PrettyName: res.OS.PrettyName}
	rep.Warnings = res.Warnings
	for _, p := range res.Packages {
		rep.Packages = append(rep.Packages, Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem,
			Type: p.Type, Source: p.Source, PURL: p.PURL, Locations: p.Locations})
	}
	if rep.Findings, err = s.match(ctx, rep.Packages); err != nil {
		return Report{}, "", err
	}
	var sbomDigest digest.Digest
	if s.o.Pusher != nil && s.o.SBOMFormat != "" {
		sbomDigest, err = s.attachSBOM(actor.With(ctx, actor.Actor{Name: scannerActor}), repo, m, res)
		if err != nil {
			// The findings stand without their SBOM referrer (a full quota, say).
			rep.Warnings = append(rep.Warnings, "SBOM referrer not stored: "+err.Error())
			sbomDigest = ""
		}
	}
	return rep, sbomDigest, nil
}

// openLayer returns a layer's uncompressed tar stream.
func (s *Service) openLayer(ctx context.Context, l ocispec.Descriptor) (io.ReadCloser, error) {
	r, err := s.o.Blobs.Open(ctx, l.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	mt := l.MediaType
	switch {
	case strings.HasSuffix(mt, "+zstd") || strings.HasSuffix(mt, ".zstd"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		return readCloser{zr.IOReadCloser(), r}, nil
	case strings.HasSuffix(mt, "+gzip") || strings.HasSuffix(mt, ".gzip") || strings.HasSuffix(mt, "tar.gzip"):
		return gunzip(r, l.Digest)
	case strings.HasSuffix(mt, ".tar") || mt == "application/vnd.docker.image.rootfs.diff.tar":
		return r, nil
	}
	// Unknown or foreign type: sniff gzip, else take it as a tar.
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return gunzip(readCloser{io.NopCloser(br), r}, l.Digest)
	}
	return readCloser{io.NopCloser(br), r}, nil
}

func gunzip(r io.ReadCloser, d digest.Digest) (io.ReadCloser, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("layer %s: %w", d, err)
	}
	return readCloser{zr, r}, nil
}

// readCloser reads from the decompressor and closes both.
type readCloser struct {
	io.ReadCloser
	under io.Closer
}

func (r readCloser) Close() error {
	err := r.ReadCloser.Close()
	if cerr := r.under.Close(); err == nil {
		err = cerr
	}
	return err
}

// setFindings stores rep in out with its counts.
func (s *Service) setFindings(out *meta.Scan, rep Report) {
	sum := summarize(rep)
	out.Critical, out.High, out.Medium, out.Low, out.Unknown, out.Packages = sum.Critical, sum.High, sum.Medium, sum.Low, sum.Unknown, sum.Packages
	out.DBGeneration = rep.DBGeneration
	out.Report, _ = json.Marshal(rep)
}

func summarize(rep Report) Summary {
	sum := Summary{Packages: len(rep.Packages)}
	for _, f := range rep.Findings {
		switch f.Severity {
		case "CRITICAL":
			sum.Critical++
		case "HIGH":
			sum.High++
		case "MEDIUM":
			sum.Medium++
		case "LOW":
			sum.Low++
		default:
			sum.Unknown++
		}
	}
	return sum
}
