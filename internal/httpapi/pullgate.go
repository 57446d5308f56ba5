package httpapi

import (
	"context"
	"net/http"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// PullGate admits manifest pulls (the signature policy): a non-nil error
// refuses the GET. exempt, asked only before a refusal, tells whether the
// caller may push to the repository (a signer needs the manifest it signs;
// whoever may push could replace it anyway) or is the credential berth
// handed an external scanner.
type PullGate interface {
	AdmitPull(ctx context.Context, repo string, m meta.Manifest, exempt func() bool) error
}

// WithPullGate puts manifest GETs under g (HEADs carry no content and
// are not asked).
func (a *API) WithPullGate(g PullGate) *API {
	a.pulls = g
	return a
}

// admitPull asks the gate about a GET of m.
func (a *API) admitPull(r *http.Request, repo string, m meta.Manifest) error {
	if a.pulls == nil || r.Method != http.MethodGet {
		return nil
	}
	return a.pulls.AdmitPull(r.Context(), repo, m, func() bool {
		if a.guard == nil {
			return false // no identities: nobody can show they may push
		}
		if auth.IsScannerRobot(IdentityFrom(r.Context())) {
			return true // an external scanner reads what it scans
		}
		id, err := a.guard.Check(r.Context(), credentialsFrom(r.Context()),
			auth.Need{Scope: auth.Scope{Type: auth.ScopeRepository, Name: repo, Actions: []string{auth.ActionPush}}})
		return err == nil && !id.IsAnonymous()
	})
}
