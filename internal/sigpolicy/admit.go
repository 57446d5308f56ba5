package sigpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// Media and artifact types of signatures.
const (
	cosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignSigAnnotation = "dev.cosignproject.cosign/signature"
	sigstoreBundle      = "application/vnd.dev.sigstore.bundle" // + ".v0.3+json", + "+json;version=0.3"…
	notationSignature   = "application/vnd.cncf.notary.signature"
	jwsEnvelope         = "application/jose+json"
	coseEnvelope        = "application/cose"
)

// Limits on what one decision reads.
const (
	maxSignatureBlob = 4 << 20 // bytes of a signature payload, bundle or envelope
	maxCandidates    = 32      // signature manifests examined per manifest
	maxParents       = 16      // indexes examined for a child manifest
)

// artifactLayerTypes are the layer media types of signatures, attestations
// and SBOMs: a manifest made only of them is not something that runs, and
// stays pullable so that clients can verify.
var artifactLayerPrefixes = []string{
	cosignSimpleSigning, sigstoreBundle, "application/vnd.dsse.envelope", "application/vnd.in-toto",
	jwsEnvelope, coseEnvelope, "text/spdx", "application/spdx", "application/vnd.cyclonedx",
	"application/vnd.syft", "application/vnd.dev.cosign.", "application/vnd.cncf.notary.",
}

// Decision is what a policy decides about a manifest.
type Decision struct {
	Policy   *meta.SignaturePolicy // nil: no policy governs the repository
	Exempt   bool                  // a signature, attestation or SBOM: always pullable
	Verified bool
	By       string // what verified it
	Reason   string // why it is refused (or would be, in dry run)
}

// Allowed reports whether the pull goes ahead (also true when a dry-run
// policy would refuse it).
func (d Decision) Allowed() bool {
	return d.Policy == nil || d.Exempt || d.Verified || d.Policy.DryRun
}

// Evaluate decides a pull of m from repo without recording anything.
func (s *Service) Evaluate(ctx context.Context, repo string, m meta.Manifest) (Decision, error) {
	snap, err := s.policies(ctx)
	if err != nil {
		return Decision{}, err
	}
	c := snap.governing(repo)
	if c == nil {
		return Decision{}, nil
	}
	p := c.p
	d := Decision{Policy: &p}
	if isArtifact(m) {
		d.Exempt = true
		return d, nil
	}
	v, err := s.verify(ctx, c, repo, m, 0)
	if err != nil {
		return Decision{}, err
	}
	d.Verified, d.By, d.Reason = v.ok, v.by, v.reason
	return d, nil
}

// AdmitPull decides a GET of manifest m from repo: nil lets it through. A
// refusal is DENIED naming the policy. exempt is asked only when the pull
// would be refused: true lets it through unrecorded (the caller may push
// to repo: a signer fetches what it signs). Refusals and dry-run would-be
// refusals go to the log and the audit log.
func (s *Service) AdmitPull(ctx context.Context, repo string, m meta.Manifest, exempt func() bool) error {
	d, err := s.Evaluate(ctx, repo, m)
	if err != nil {
		return err
	}
	if d.Policy == nil || d.Exempt || d.Verified {
		return nil
	}
	if exempt != nil && exempt() {
		s.o.Log.Debug("signature policy: unsigned manifest pulled by a pusher of the repository", "repository", repo, "digest", m.Digest)
		return nil
	}
	msg := fmt.Sprintf("%s@%s is not signed by a trusted key for project %s (signature policy %d%s): %s",
		repo, m.Digest, d.Policy.Project, d.Policy.ID, scopeNote(*d.Policy), d.Reason)
	action := "signature.denied"
	if d.Policy.DryRun {
		action = "signature.would_deny"
		s.o.Log.Warn("signature policy (dry run): would refuse this pull", "repository", repo, "digest", m.Digest,
			"policy", d.Policy.ID, "reason", d.Reason)
	} else {
		s.o.Log.Info("signature policy: pull refused", "repository", repo, "digest", m.Digest, "policy", d.Policy.ID, "reason", d.Reason)
	}
	if s.o.Audit != nil {
		a := actor.From(ctx)
		s.o.Audit.Record(meta.AuditEvent{At: s.o.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr, Action: action,
			Repo: repo, Digest: m.Digest.String(), Detail: fmt.Sprintf("policy %d: %s", d.Policy.ID, d.Reason)})
	}
	if d.Policy.DryRun {
		return nil
	}
	return errcode.Denied.Errorf("%s", msg)
}

func scopeNote(p meta.SignaturePolicy) string {
	if p.Repositories == "" {
		return ""
	}
	return ", repositories " + p.Repositories
}

// isArtifact reports whether m is a signature, attestation or SBOM: it
// has a subject, or all its layers are of those types.
func isArtifact(m meta.Manifest) bool {
	if m.Subject != "" {
		return true
	}
	var mf ocispec.Manifest
	if json.Unmarshal(m.Content, &mf) != nil || len(mf.Layers) == 0 {
		return false
	}
	for _, l := range mf.Layers {
		if !hasPrefixAny(l.MediaType, artifactLayerPrefixes) {
			return false
		}
	}
	return true
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// verify finds m's signatures and checks them under c, using the cache.
// depth counts the indexes climbed for a child manifest.
func (s *Service) verify(ctx context.Context, c *compiled, repo string, m meta.Manifest, depth int) (verdict, error) {
	if c.err != nil {
		return verdict{reason: fmt.Sprintf("the policy's trust material does not load (%v)", c.err)}, nil
	}
	sigTag := strings.Replace(m.Digest.String(), ":", "-", 1) + ".sig"
	var (
		tagged meta.Manifest
		refs   []meta.Manifest
	)
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		tagged, err = r.ManifestByTag(repo, sigTag)
		if errors.Is(err, meta.ErrNotFound) {
			err = nil
		}
		if err != nil {
			return err
		}
		refs, err = r.Referrers(repo, m.Digest, "")
		return err
	})
	if err != nil {
		return verdict{}, fmt.Errorf("signature policy: signatures of %s: %w", m.Digest, err)
	}
	var cands []meta.Manifest
	if tagged.Digest != "" {
		cands = append(cands, tagged)
	}
	for _, r := range refs {
		if strings.HasPrefix(r.ArtifactType, sigstoreBundle) || r.ArtifactType == notationSignature {
			cands = append(cands, r)
		}
	}
	if len(cands) > maxCandidates {
		cands = cands[:maxCandidates]
	}
	fp := make([]string, 0, len(cands))
	for _, c := range cands {
		fp = append(fp, c.Digest.Encoded()[:16])
	}
	// The cache holds a manifest's own verdict, which only its own
	// signatures decide; the indexes above it are asked each time.
	key := fmt.Sprintf("%d/%d/%s/%s", c.p.ID, c.p.Version, m.Digest, strings.Join(fp, ","))
	v, ok := s.cache.get(key)
	if !ok {
		var err error
		if v, err = s.check(ctx, c, repo, m, cands); err != nil {
			return verdict{}, err
		}
		s.cache.put(key, v)
	}
	if !v.ok && depth == 0 {
		// A child of an index signed as a whole is admitted by it.
		pv, err := s.viaParents(ctx, c, repo, m)
		if err != nil {
			return verdict{}, err
		}
		if pv.ok {
			return pv, nil
		}
	}
	return v, nil
}

// check verifies the candidate signature manifests of m.
func (s *Service) check(ctx context.Context, c *compiled, repo string, m meta.Manifest, cands []meta.Manifest) (verdict, error) {
	if len(cands) == 0 {
		return verdict{reason: "no signature found"}, nil
	}
	var reasons []string
	for _, cand := range cands {
		if len(cand.Content) == 0 {
			full, err := s.manifest(ctx, repo, cand.Digest)
			if err != nil {
				return verdict{}, err
			}
			cand = full
		}
		by, err := s.checkOne(ctx, c, m, cand)
		if err == nil {
			return verdict{ok: true, by: by}, nil
		}
		if ctx.Err() != nil {
			return verdict{}, ctx.Err()
		}
		reasons = append(reasons, err.Error())
	}
	return verdict{reason: fmt.Sprintf("%d signature(s) found, none valid: %s", len(cands), strings.Join(reasons, "; "))}, nil
}

// checkOne verifies the signatures one signature manifest holds.
func (s *Service) checkOne(ctx context.Context, c *compiled, m, sig meta.Manifest) (string, error) {
	var mf ocispec.Manifest
	if err := json.Unmarshal(sig.Content, &mf); err != nil {
		return "", fmt.Errorf("signature manifest %s: %v", sig.Digest, err)
	}
	var errs []string
	for _, l := range mf.Layers {
		var (
			by  string
			err error
		)
		switch {
		case l.Annotations[cosignSigAnnotation] != "":
			var payload []byte
			if payload, err = s.read(ctx, l); err == nil {
				err = c.v.CosignSimple(payload, l.Annotations[cosignSigAnnotation], m.Digest)
			}
			by = "cosign signature (tag " + strings.Replace(m.Digest.String(), ":", "-", 1) + ".sig)"
		case strings.HasPrefix(l.MediaType, sigstoreBundle):
			var b []byte
			if b, err = s.read(ctx, l); err == nil {
				err = c.v.CosignBundle(b, m.Digest)
			}
			by = "sigstore bundle " + sig.Digest.String()
		case mf.ArtifactType == notationSignature || sig.ArtifactType == notationSignature:
			if l.MediaType != jwsEnvelope && l.MediaType != coseEnvelope {
				continue
			}
			var env []byte
			if env, err = s.read(ctx, l); err == nil {
				err = c.v.Notation(ctx, env, l.MediaType, ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size})
			}
			by = "notation signature " + sig.Digest.String()
		default:
			continue
		}
		if err == nil {
			return by, nil
		}
		errs = append(errs, err.Error())
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("%s holds no signature", sig.Digest)
	}
	return "", errors.New(strings.Join(errs, "; "))
}

// viaParents admits a child manifest when an index of repo listing it
// verifies.
func (s *Service) viaParents(ctx context.Context, c *compiled, repo string, m meta.Manifest) (verdict, error) {
	var parents []digest.Digest
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		parents, err = r.ManifestParentDigests(repo, m.Digest, maxParents)
		return err
	}); err != nil {
		return verdict{}, fmt.Errorf("signature policy: indexes of %s: %w", m.Digest, err)
	}
	for _, pd := range parents {
		pm, err := s.manifest(ctx, repo, pd)
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			return verdict{}, err
		}
		v, err := s.verify(ctx, c, repo, pm, 1)
		if err != nil {
			return verdict{}, err
		}
		if v.ok {
			return verdict{ok: true, by: v.by + " of index " + pd.String()}, nil
		}
	}
	return verdict{}, nil
}

func (s *Service) manifest(ctx context.Context, repo string, d digest.Digest) (meta.Manifest, error) {
	var m meta.Manifest
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		m, err = r.Manifest(repo, d)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("signature policy: manifest %s: %w", d, err)
	}
	return m, nil
}

// read returns a signature layer's bytes, checked against its digest.
func (s *Service) read(ctx context.Context, l ocispec.Descriptor) ([]byte, error) {
	if l.Size > maxSignatureBlob {
		return nil, fmt.Errorf("layer %s: %d bytes is too large for a signature", l.Digest, l.Size)
	}
	if err := l.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("layer digest %q: %v", l.Digest, err)
	}
	r, err := s.o.Blobs.Open(ctx, l.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %v", l.Digest, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxSignatureBlob+1))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %v", l.Digest, err)
	}
	if l.Digest.Algorithm().FromBytes(b) != l.Digest {
		return nil, fmt.Errorf("layer %s: stored bytes do not match the digest", l.Digest)
	}
	return b, nil
}

// EvaluateRef is Evaluate for the manifest a tag or digest names in repo
// (meta.ErrNotFound when there is none).
func (s *Service) EvaluateRef(ctx context.Context, repo, ref string) (meta.Manifest, Decision, error) {
	var m meta.Manifest
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		if d, derr := digest.Parse(ref); derr == nil {
			m, err = r.Manifest(repo, d)
		} else {
			m, err = r.ManifestByTag(repo, ref)
		}
		return err
	})
	if err != nil {
		return m, Decision{}, fmt.Errorf("manifest %s of %s: %w", ref, repo, err)
	}
	d, err := s.Evaluate(ctx, repo, m)
	return m, d, err
}
