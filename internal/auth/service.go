package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/secretbox"
)

// Options configure a Service.
type Options struct {
	Issuer             string        // the tokens' iss claim
	Service            string        // the tokens' aud claim, the challenge's service
	TokenTTL           time.Duration // access tokens
	RefreshTTL         time.Duration // refresh (identity) tokens
	CredentialCacheTTL time.Duration // how long verified passwords are remembered
	AutoCreateProjects bool          // any user may create a project by pushing
	External           []PasswordChecker
	Throttle           Throttle // failed-login throttling (Failures 0: off)
	// Secrets seals the secrets kept in the store (signing keys); nil
	// keeps them in the clear.
	Secrets *secretbox.Box
}

// Service is authentication, tokens and authorization together: what the
// HTTP layer asks.
type Service struct {
	store  meta.Store
	Authn  *Authenticator
	Tokens *Tokens
	Authz  *Authorizer
	opts   Options
}

// New builds the Service, loading (or creating) the token signing keys.
func New(ctx context.Context, store meta.Store, o Options) (*Service, error) {
	tokens, err := NewSealedTokens(ctx, store, o.Issuer, o.Service, o.TokenTTL, o.Secrets)
	if err != nil {
		return nil, err
	}
	authn := NewAuthenticator(store, o.CredentialCacheTTL, o.External...)
	authn.SetThrottle(o.Throttle)
	return &Service{
		store:  store,
		Authn:  authn,
		Tokens: tokens,
		Authz:  NewAuthorizer(store, o.AutoCreateProjects),
		opts:   o,
	}, nil
}

// ServiceName is the token audience and the challenge's service.
func (s *Service) ServiceName() string { return s.opts.Service }

// Credentials are what a request carries: Basic credentials, a Bearer
// token, or nothing.
type Credentials struct {
	Basic              bool
	Username, Password string
	Bearer             string
	// Addr is the client's address (for login throttling; "" unknown).
	Addr string
}

// Need is what a request needs. A zero Scope means any authenticated
// caller (GET /v2/).
type Need struct {
	Scope Scope
	// List: the repository's tags are being listed (refused to limited
	// guests).
	List bool
}

// ErrDenied: an authenticated caller lacks the permission.
var ErrDenied = errors.New("requested access to the resource is denied")

// NoProjectError refuses a push into a project that does not exist, which
// the caller may not create.
type NoProjectError struct{ Project string }

func (e *NoProjectError) Error() string {
	return fmt.Sprintf("project %s does not exist: a system admin must create it first (or set projects.auto_create)", e.Project)
}

// Is makes a NoProjectError an ErrDenied.
func (e *NoProjectError) Is(target error) bool { return target == ErrDenied }

// ChallengeError asks the client to authenticate: no credentials, bad
// ones, or an anonymous caller without the permission.
type ChallengeError struct {
	Scope *Scope // the scope to ask a token for, nil for none
	Err   error  // why (nil: no credentials)
	// Insufficient: a valid token was presented but does not grant the
	// scope (the challenge then says error="insufficient_scope", which
	// tells clients not to retry with the same token).
	Insufficient bool
}

func (e *ChallengeError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "authentication required"
}

func (e *ChallengeError) Unwrap() error { return e.Err }

// Check authenticates the request's credentials and decides whether they
// allow need. It returns the caller's identity, a *ChallengeError (401),
// ErrDenied (403), ErrAccountDisabled, or a store error.
func (s *Service) Check(ctx context.Context, cr Credentials, need Need) (Identity, error) {
	var scope *Scope
	if need.Scope.Type != "" {
		scope = &need.Scope
	}
	var (
		id       Identity
		granted  []Scope
		external bool
	)
	switch {
	case cr.Bearer != "":
		c, err := s.Tokens.Verify(ctx, cr.Bearer)
		if err != nil {
			return Identity{}, &ChallengeError{Scope: scope, Err: err}
		}
		id, granted, external = c.Identity(), c.Access, c.External
	case cr.Basic:
		var err error
		if id, err = s.Authn.PasswordFrom(ctx, cr.Username, cr.Password, cr.Addr); err != nil {
			if errors.Is(err, ErrBadCredentials) {
				return Identity{}, &ChallengeError{Scope: scope, Err: err}
			}
			return Identity{}, err
		}
	}
	if scope == nil || scope.Type == ScopeRegistry {
		if id.IsAnonymous() {
			return Identity{}, &ChallengeError{Scope: scope}
		}
		return id, nil
	}
	if scope.Type != ScopeRepository {
		return Identity{}, ErrDenied
	}
	if (!need.List || external) && covers(granted, *scope) {
		return id, nil // the token's own word: no lookup
	}
	g, err := s.Authz.Grant(ctx, id, scope.Name)
	if err != nil {
		return Identity{}, err
	}
	if !g.Allows(scope.Actions...) || (need.List && !g.List) {
		if id.IsAnonymous() {
			return Identity{}, &ChallengeError{Scope: scope, Insufficient: cr.Bearer != ""}
		}
		if g.ProjectMissing && slices.Contains(scope.Actions, ActionPush) {
			return Identity{}, &NoProjectError{Project: meta.ProjectOf(scope.Name)}
		}
		return Identity{}, ErrDenied
	}
	if g.ProjectMissing && slices.Contains(scope.Actions, ActionPush) {
		if _, err := s.Authz.EnsureProject(ctx, id, meta.ProjectOf(scope.Name)); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

// TokenRequest is a request to the token endpoint: credentials (Basic or
// none) or a refresh token, the scopes asked for, and whether a refresh
// token is wanted back (OAuth2 access_type=offline).
type TokenRequest struct {
	Credentials  Credentials
	RefreshToken string
	Scopes       []Scope
	Offline      bool
}

// TokenResponse is the token endpoint's answer, in both the Docker token
// and the OAuth2 shapes.
type TokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// IssueToken authenticates the request and returns a token granting each
// asked scope's actions that the caller has (possibly none: the registry
// then answers the request itself with 401 or 403).
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	now := time.Now()
	id, passwordAt, err := s.tokenIdentity(ctx, req)
	if err != nil {
		return TokenResponse{}, err
	}
	var access []Scope
	for _, sc := range req.Scopes {
		got, err := s.grantScope(ctx, id, sc)
		if err != nil {
			return TokenResponse{}, err
		}
		if len(got.Actions) > 0 {
			access = append(access, got)
		}
	}
	tok, err := s.Tokens.Issue(id, access, now)
	if err != nil {
		return TokenResponse{}, err
	}
	resp := TokenResponse{
		Token:       tok,
		AccessToken: tok,
		ExpiresIn:   int(s.Tokens.TTL() / time.Second),
		IssuedAt:    now.UTC().Format(time.RFC3339),
	}
	var granted []string
	for _, a := range access {
		granted = append(granted, a.String())
	}
	resp.Scope = strings.Join(granted, " ")
	switch {
	case req.RefreshToken != "":
		resp.RefreshToken = req.RefreshToken
	case req.Offline && !id.IsAnonymous():
		if resp.RefreshToken, err = s.Tokens.IssueRefresh(id, passwordAt, now, s.opts.RefreshTTL); err != nil {
			return TokenResponse{}, err
		}
	}
	return resp, nil
}

// tokenIdentity authenticates a token request; passwordAt is the local
// user's PasswordChangedAt (zero for others).
func (s *Service) tokenIdentity(ctx context.Context, req TokenRequest) (Identity, time.Time, error) {
	if req.RefreshToken != "" {
		c, err := s.Tokens.VerifyRefresh(ctx, req.RefreshToken)
		if err != nil {
			return Identity{}, time.Time{}, err
		}
		id, at, err := s.current(ctx, c.Identity())
		if err != nil {
			return Identity{}, time.Time{}, err
		}
		if c.PasswordAt != 0 && (at.IsZero() || at.UnixNano() != c.PasswordAt) {
			return Identity{}, time.Time{}, ErrInvalidToken // the password changed since
		}
		return id, at, nil
	}
	if !req.Credentials.Basic {
		return Anonymous, time.Time{}, nil
	}
	id, err := s.Authn.PasswordFrom(ctx, req.Credentials.Username, req.Credentials.Password, req.Credentials.Addr)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	if id.Kind != KindUser {
		return id, time.Time{}, nil
	}
	_, at, err := s.current(ctx, id)
	return id, at, err
}

// current looks the identity up again: a refresh token outlives changes to
// its account. A local user comes back with its Admin flag and password
// change time; a user berth does not keep (htpasswd, LDAP) as it was.
func (s *Service) current(ctx context.Context, id Identity) (Identity, time.Time, error) {
	var (
		out = id
		at  time.Time
	)
	err := s.store.View(ctx, func(r meta.Reader) error {
		switch id.Kind {
		case KindUser:
			u, err := r.User(id.Name)
			if errors.Is(err, meta.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if u.Disabled {
				return ErrAccountDisabled
			}
			out.Admin, at = u.Admin, u.PasswordChangedAt
		case KindRobot:
			rb, err := r.Robot(id.Name)
			if errors.Is(err, meta.ErrNotFound) {
				return ErrInvalidToken
			}
			if err != nil {
				return err
			}
			if !robotActive(rb, time.Now()) {
				return ErrAccountDisabled
			}
		}
		return nil
	})
	return out, at, err
}

// grantScope returns the part of sc that id may have.
func (s *Service) grantScope(ctx context.Context, id Identity, sc Scope) (Scope, error) {
	out := Scope{Type: sc.Type, Name: sc.Name}
	switch sc.Type {
	case ScopeRegistry:
		if sc.Name == CatalogName && !id.IsAnonymous() {
			out.Actions = []string{"*"}
		}
		return out, nil
	case ScopeRepository:
	default:
		return out, nil
	}
	g, err := s.Authz.Grant(ctx, id, sc.Name)
	if err != nil {
		return out, err
	}
	for _, a := range sc.Actions {
		if a == "*" {
			out.Actions = append(out.Actions, g.Actions...)
		} else if g.Allows(a) && !slices.Contains(out.Actions, a) {
			out.Actions = append(out.Actions, a)
		}
	}
	if g.ProjectMissing && slices.Contains(out.Actions, ActionPush) {
		if _, err := s.Authz.EnsureProject(ctx, id, meta.ProjectOf(sc.Name)); err != nil {
			return out, fmt.Errorf("auth: %w", err)
		}
	}
	return out, nil
}

// Visible returns the catalog filter for id.
func (s *Service) Visible(ctx context.Context, id Identity) func(repo string) (bool, error) {
	return s.Authz.Visible(ctx, id)
}

// MayPull reports whether the credentials allow pulling from repo (a
// cross-repository mount's source).
func (s *Service) MayPull(ctx context.Context, cr Credentials, repo string) bool {
	_, err := s.Check(ctx, cr, Need{Scope: Scope{Type: ScopeRepository, Name: repo, Actions: []string{ActionPull}}})
	return err == nil
}

// Authenticate identifies the caller of a management request: Basic
// credentials or a token of berth's; anonymous without either.
func (s *Service) Authenticate(ctx context.Context, cr Credentials) (Identity, error) {
	switch {
	case cr.Bearer != "":
		c, err := s.Tokens.Verify(ctx, cr.Bearer)
		if err != nil {
			return Identity{}, err
		}
		id, _, err := s.current(ctx, c.Identity())
		return id, err
	case cr.Basic:
		return s.Authn.PasswordFrom(ctx, cr.Username, cr.Password, cr.Addr)
	}
	return Anonymous, nil
}
