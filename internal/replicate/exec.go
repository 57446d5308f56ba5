package replicate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/transfer"
)

// outcome is what one attempt at a job did.
type outcome struct {
	images int
	bytes  int64
	result string
	queue  []meta.ReplicationJob // expand: the copy jobs to queue
}

// sides are the two registries of a policy, as the copy engine sees them.
type sides struct {
	local, remote             transfer.Endpoint
	localHost, remoteHost     string
	localOpts, remoteOpts     []name.Option
	localRemote, remoteRemote []remote.Option // for listing and deleting
}

// newSides connects to both registries of a policy: the remote (its
// ping, and a token where it asks for one) and this registry in process.
func (s *Service) newSides(ctx context.Context, p meta.ReplicationPolicy) (sides, error) {
	var sd sides
	host, plain, err := remoteHost(p.RemoteURL)
	if err != nil {
		return sd, err
	}
	password, err := s.o.Secrets.Open(p.Password)
	if err != nil {
		return sd, permanentError{fmt.Errorf("the remote password: %w", err)}
	}
	base := remote.DefaultTransport.(*http.Transport).Clone()
	if p.Insecure {
		if base.TLSClientConfig == nil {
			base.TLSClientConfig = &tls.Config{}
		}
		base.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the policy asks for it
	}
	sd.remote = transfer.Endpoint{Transport: transfer.LimitTransport(base, s.limiter(p)), Insecure: p.Insecure || plain}
	if p.Username != "" || len(password) > 0 {
		sd.remote.Auth = &authn.Basic{Username: p.Username, Password: string(password)}
	}
	sd.local = transfer.Endpoint{Transport: HandlerTransport{H: s.o.Local.Handler}, Insecure: true}
	if s.o.Local.Auth != nil {
		sd.local.Auth = freshAuth(s.o.Local.Auth)
	}
	sd.localHost, sd.remoteHost = s.o.Local.host(), host
	sd.localOpts = []name.Option{name.Insecure}
	if sd.remote.Insecure {
		sd.remoteOpts = []name.Option{name.Insecure}
	}
	localReg, err := name.NewRegistry(sd.localHost, sd.localOpts...)
	if err != nil {
		return sd, permanentError{err}
	}
	remoteReg, err := name.NewRegistry(sd.remoteHost, sd.remoteOpts...)
	if err != nil {
		return sd, permanentError{err}
	}
	if sd.local, err = transfer.Connect(ctx, localReg, sd.local, s.o.UserAgent); err != nil {
		return sd, fmt.Errorf("this registry: %w", err)
	}
	if sd.remote, err = transfer.Connect(ctx, remoteReg, sd.remote, s.o.UserAgent); err != nil {
		return sd, fmt.Errorf("the remote registry %s: %w", sd.remoteHost, err)
	}
	sd.localRemote = endpointOptions(sd.local)
	sd.remoteRemote = endpointOptions(sd.remote)
	return sd, nil
}

func endpointOptions(e transfer.Endpoint) []remote.Option {
	o := []remote.Option{remote.WithTransport(e.Transport)}
	if e.Auth != nil {
		o = append(o, remote.WithAuth(e.Auth))
	}
	return o
}

// destRepo is where a source repository lands.
func destRepo(p meta.ReplicationPolicy, repo string) string {
	if p.Prefix == "" {
		return repo
	}
	return p.Prefix + "/" + repo
}

// refIn names reference (a tag or a digest) of repo on host.
func refIn(host, repo, reference string, opts []name.Option) (name.Reference, error) {
	sep := ":"
	if strings.Contains(reference, ":") {
		sep = "@"
	}
	ref, err := name.ParseReference(host+"/"+repo+sep+reference, opts...)
	if err != nil {
		return nil, permanentError{err}
	}
	return ref, nil
}

// execute runs one attempt at a job.
func (s *Service) execute(ctx context.Context, p meta.ReplicationPolicy, job meta.ReplicationJob) (_ outcome, err error) {
	f, err := NewFilter(p)
	if err != nil {
		return outcome{}, err
	}
	sd, err := s.sides(ctx, p)
	if err != nil {
		return outcome{}, err
	}
	defer func() {
		if err != nil {
			s.dropSides(p.ID) // the next attempt connects afresh
		}
	}()
	switch job.Action {
	case meta.JobExpand:
		return s.expand(ctx, p, f, sd)
	case meta.JobCopy:
		return s.copy(ctx, p, f, sd, job)
	case meta.JobDelete:
		return s.delete(ctx, p, sd, job)
	}
	return outcome{}, permanentError{fmt.Errorf("unknown job action %q", job.Action)}
}

// srcDst names a job's source and destination.
func (sd sides) srcDst(p meta.ReplicationPolicy, repo, reference string) (src, dst name.Reference, err error) {
	srcHost, srcOpts, dstHost, dstOpts := sd.localHost, sd.localOpts, sd.remoteHost, sd.remoteOpts
	if p.Direction == meta.ReplicationPull {
		srcHost, srcOpts, dstHost, dstOpts = dstHost, dstOpts, srcHost, srcOpts
	}
	if src, err = refIn(srcHost, repo, reference, srcOpts); err != nil {
		return nil, nil, err
	}
	dst, err = refIn(dstHost, destRepo(p, repo), reference, dstOpts)
	return src, dst, err
}

func (sd sides) srcDstEndpoints(p meta.ReplicationPolicy) (src, dst transfer.Endpoint, srcOpts []remote.Option) {
	if p.Direction == meta.ReplicationPull {
		return sd.remote, sd.local, sd.remoteRemote
	}
	return sd.local, sd.remote, sd.localRemote
}

func (s *Service) copy(ctx context.Context, p meta.ReplicationPolicy, f Filter, sd sides, job meta.ReplicationJob) (outcome, error) {
	src, dst, err := sd.srcDst(p, job.Repository, job.Reference)
	if err != nil {
		return outcome{}, err
	}
	srcEnd, dstEnd, srcOpts := sd.srcDstEndpoints(p)
	if _, err := remote.Head(src, append(srcOpts, remote.WithContext(ctx))...); err != nil {
		if isNotFound(err) {
			return outcome{result: fmt.Sprintf("skipped: %s is gone from the source", job.Reference)}, nil
		}
		return outcome{}, fmt.Errorf("source %s: %w", job.Reference, err)
	}
	ok, err := f.MatchImage(ctx, src, srcOpts...)
	if err != nil {
		return outcome{}, fmt.Errorf("reading the labels of %s: %w", job.Reference, err)
	}
	if !ok {
		return outcome{result: fmt.Sprintf("skipped: %s does not carry the label %s", job.Reference, p.Label)}, nil
	}
	rep, err := transfer.Copy(ctx, src, dst, transfer.Options{Src: srcEnd, Dst: dstEnd, Jobs: p.Concurrency, UserAgent: s.o.UserAgent})
	out := outcome{images: len(rep.Images), bytes: rep.BytesSent, result: describe(rep, dst)}
	if errors.Is(err, transfer.ErrSchema1) {
		err = permanentError{err}
	}
	return out, err
}

func describe(rep transfer.Report, dst name.Reference) string {
	var b strings.Builder
	for _, im := range rep.Images {
		state := "copied"
		if im.UpToDate {
			state = "up to date"
		}
		fmt.Fprintf(&b, "%s → %s (%s, %s); ", im.Source, im.Dest, im.Digest, state)
	}
	if len(rep.Images) == 0 {
		fmt.Fprintf(&b, "→ %s; ", dst)
	}
	fmt.Fprintf(&b, "%d manifests, %d blobs sent (%s), %d mounted, %d already there",
		rep.Manifests, rep.BlobsSent, transfer.HumanBytes(rep.BytesSent), rep.BlobsMounted, rep.BlobsSkipped)
	return b.String()
}

// delete removes a tag or a manifest at the destination (push policies).
func (s *Service) delete(ctx context.Context, p meta.ReplicationPolicy, sd sides, job meta.ReplicationJob) (outcome, error) {
	_, dst, err := sd.srcDst(p, job.Repository, job.Reference)
	if err != nil {
		return outcome{}, err
	}
	opts := sd.remoteRemote
	if p.Direction == meta.ReplicationPull {
		opts = sd.localRemote
	}
	err = remote.Delete(dst, append(opts, remote.WithContext(ctx))...)
	switch {
	case err == nil:
		return outcome{result: "deleted " + dst.String()}, nil
	case isNotFound(err):
		return outcome{result: dst.String() + " was already gone"}, nil
	case statusIs(err, http.StatusMethodNotAllowed, http.StatusBadRequest):
		return outcome{}, permanentError{fmt.Errorf("the destination refuses to delete %s: %w", dst, err)}
	}
	return outcome{}, err
}

// expand lists what a whole policy covers and returns a copy job per tag.
func (s *Service) expand(ctx context.Context, p meta.ReplicationPolicy, f Filter, sd sides) (outcome, error) {
	type image struct{ repo, tag string }
	var found []image
	if p.Direction == meta.ReplicationPush {
		err := s.o.Store.View(ctx, func(r meta.Reader) error {
			repos, err := r.ListRepositories("", 0)
			if err != nil {
				return err
			}
			for _, repo := range repos {
				if !f.MatchRepo(repo) {
					continue
				}
				tags, err := r.ListTags(repo, "", 0)
				if err != nil {
					return err
				}
				for _, t := range tags {
					if _, sig := subjectOfTag(t); !sig && f.MatchTag(t) {
						found = append(found, image{repo, t})
					}
				}
			}
			return nil
		})
		if err != nil {
			return outcome{}, err
		}
	} else {
		repos, err := s.remoteRepos(ctx, p, f, sd)
		if err != nil {
			return outcome{}, err
		}
		for _, repo := range repos {
			r, err := name.NewRepository(sd.remoteHost+"/"+repo, sd.remoteOpts...)
			if err != nil {
				return outcome{}, permanentError{err}
			}
			tags, err := remote.List(r, append(sd.remoteRemote, remote.WithContext(ctx))...)
			if err != nil {
				if isNotFound(err) {
					continue
				}
				return outcome{}, fmt.Errorf("listing the tags of %s: %w", r, err)
			}
			for _, t := range tags {
				if _, sig := subjectOfTag(t); !sig && f.MatchTag(t) {
					found = append(found, image{repo, t})
				}
			}
		}
	}
	now := s.o.Now().UTC()
	out := outcome{result: fmt.Sprintf("%d tags to copy", len(found))}
	for _, im := range found {
		out.queue = append(out.queue, meta.ReplicationJob{Action: meta.JobCopy, Repository: im.repo, Reference: im.tag, CreatedAt: now})
	}
	return out, nil
}

// remoteRepos lists the remote repositories a pull policy covers: the
// glob itself when it has no wildcard, else the remote's catalog.
func (s *Service) remoteRepos(ctx context.Context, p meta.ReplicationPolicy, f Filter, sd sides) ([]string, error) {
	if !strings.ContainsAny(p.Repositories, "*?") {
		return []string{p.Repositories}, nil
	}
	reg, err := name.NewRegistry(sd.remoteHost, sd.remoteOpts...)
	if err != nil {
		return nil, permanentError{err}
	}
	all, err := remote.Catalog(ctx, reg, sd.remoteRemote...)
	if err != nil {
		return nil, fmt.Errorf("the catalog of %s (name the repository without wildcards where there is none): %w", reg, err)
	}
	var out []string
	for _, r := range all {
		if f.MatchRepo(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func statusIs(err error, codes ...int) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, c := range codes {
		if te.StatusCode == c {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	if errors.Is(err, meta.ErrNotFound) {
		return true
	}
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return true
			}
		}
	}
	return false
}
