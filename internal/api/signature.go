package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/sigpolicy"
)

// signatureOperations manage the signature policies enforced at pull.
var signatureOperations = []operation{
	{"GET", "/signature-policies", (*API).listSignaturePolicies, "List the signature policies (?project= for one project's)", "system admins", nil, []signaturePolicyJSON{}, 200},
	{"POST", "/signature-policies", (*API).addSignaturePolicy, "Require a valid signature to pull from a project (optionally only from the repositories matching a pattern): cosign public keys (PEM), notation certificates (PEM) with optional trusted identities; mode enforce (default) or dry-run", "system admins", signaturePolicyRequest{}, signaturePolicyJSON{}, 201},
	{"GET", "/signature-policies/{id}", (*API).getSignaturePolicy, "Read a signature policy", "system admins", nil, signaturePolicyJSON{}, 200},
	{"PATCH", "/signature-policies/{id}", (*API).updateSignaturePolicy, "Change a signature policy (a field left out stays)", "system admins", signaturePolicyPatch{}, signaturePolicyJSON{}, 200},
	{"DELETE", "/signature-policies/{id}", (*API).deleteSignaturePolicy, "Remove a signature policy", "system admins", nil, nil, 204},
	{"GET", "/signature-policies/evaluate", (*API).evaluateSignaturePolicy, "What the signature policy decides for a pull of ?repository=&reference= (tag or digest), and why", "system admins", nil, signatureDecisionJSON{}, 200},
}

// WithSignatures serves the signature policies of svc.
func (x *API) WithSignatures(svc *sigpolicy.Service) *API {
	x.signatures = svc
	return x
}

// signaturePolicies checks that the caller is a system admin and returns
// the service.
func (x *API) signaturePolicies(actor auth.Identity) (*sigpolicy.Service, error) {
	return adminService(x, actor, x.signatures, "signature policies")
}

const (
	modeEnforce = "enforce"
	modeDryRun  = "dry-run"
)

type signaturePolicyRequest struct {
	Project      string   `json:"project"`
	Repositories string   `json:"repositories,omitempty"` // pattern; "" = the whole project
	Mode         string   `json:"mode,omitempty"`         // enforce (default) or dry-run
	Keys         string   `json:"keys,omitempty"`         // cosign public keys, PEM
	Certificates string   `json:"certificates,omitempty"` // notation trust store, PEM
	Identities   []string `json:"identities,omitempty"`   // notation trusted identities ("x509.subject: …")
}

type signaturePolicyPatch struct {
	Repositories *string   `json:"repositories,omitempty"`
	Mode         *string   `json:"mode,omitempty"`
	Keys         *string   `json:"keys,omitempty"`
	Certificates *string   `json:"certificates,omitempty"`
	Identities   *[]string `json:"identities,omitempty"`
}

type signaturePolicyJSON struct {
	ID           int64     `json:"id"`
	Project      string    `json:"project"`
	Repositories string    `json:"repositories,omitempty"`
	Mode         string    `json:"mode"`
	Keys         string    `json:"keys,omitempty"`
	Certificates string    `json:"certificates,omitempty"`
	Identities   []string  `json:"identities,omitempty"`
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type signatureDecisionJSON struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	// Policy is the governing policy's id (0: none governs the repository).
	Policy int64  `json:"policy,omitempty"`
	Mode   string `json:"mode,omitempty"`
	// Allowed: the pull goes ahead (also when a dry-run policy would
	// refuse it: then Verified is false).
	Allowed  bool   `json:"allowed"`
	Exempt   bool   `json:"exempt,omitempty"` // a signature, attestation or SBOM
	Verified bool   `json:"verified"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func signaturePolicyOut(p meta.SignaturePolicy) signaturePolicyJSON {
	mode := modeEnforce
	if p.DryRun {
		mode = modeDryRun
	}
	return signaturePolicyJSON{ID: p.ID, Project: p.Project, Repositories: p.Repositories, Mode: mode, Keys: p.Keys,
		Certificates: p.Certificates, Identities: p.Identities, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// dryRun reads a mode.
func dryRun(mode string) (bool, error) {
	switch mode {
	case "", modeEnforce:
		return false, nil
	case modeDryRun:
		return true, nil
	}
	return false, invalidf("mode %q: want %s or %s", mode, modeEnforce, modeDryRun)
}

// signatureErr maps the service's refusals to the API's.
func signatureErr(err error) error {
	if errors.Is(err, sigpolicy.ErrInvalid) {
		return invalidf("%v", err)
	}
	return err
}

func (x *API) listSignaturePolicies(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	ps, err := svc.List(ctx, r.URL.Query().Get("project"))
	out := make([]signaturePolicyJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, signaturePolicyOut(p))
	}
	return http.StatusOK, out, err
}

func (x *API) addSignaturePolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	var in signaturePolicyRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	dry, err := dryRun(in.Mode)
	if err != nil {
		return 0, nil, err
	}
	p, err := svc.Add(ctx, meta.SignaturePolicy{Project: in.Project, Repositories: in.Repositories, DryRun: dry,
		Keys: in.Keys, Certificates: in.Certificates, Identities: in.Identities})
	return http.StatusCreated, signaturePolicyOut(p), signatureErr(err)
}

func (x *API) getSignaturePolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "signature policy")
	if err != nil {
		return 0, nil, err
	}
	p, err := svc.Get(ctx, id)
	return http.StatusOK, signaturePolicyOut(p), err
}

func (x *API) updateSignaturePolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "signature policy")
	if err != nil {
		return 0, nil, err
	}
	var in signaturePolicyPatch
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	patch := sigpolicy.Patch{Repositories: in.Repositories, Keys: in.Keys, Certificates: in.Certificates, Identities: in.Identities}
	if in.Mode != nil {
		dry, err := dryRun(*in.Mode)
		if err != nil {
			return 0, nil, err
		}
		patch.DryRun = &dry
	}
	p, err := svc.Update(ctx, id, patch)
	return http.StatusOK, signaturePolicyOut(p), signatureErr(err)
}

func (x *API) deleteSignaturePolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "signature policy")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, svc.Delete(ctx, id)
}

func (x *API) evaluateSignaturePolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.signaturePolicies(actor)
	if err != nil {
		return 0, nil, err
	}
	repo, ref := r.URL.Query().Get("repository"), r.URL.Query().Get("reference")
	if repo == "" || ref == "" {
		return 0, nil, invalidf("give ?repository= and ?reference= (a tag or digest)")
	}
	m, d, err := svc.EvaluateRef(ctx, repo, ref)
	if err != nil {
		return 0, nil, err
	}
	out := signatureDecisionJSON{Repository: repo, Digest: m.Digest.String(), Allowed: d.Allowed(), Exempt: d.Exempt,
		Verified: d.Verified, By: d.By, Reason: d.Reason}
	if d.Policy != nil {
		out.Policy, out.Mode = d.Policy.ID, signaturePolicyOut(*d.Policy).Mode
	}
	return http.StatusOK, out, nil
}
