package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/secretbox"
)

// ErrInvalidToken: a token that does not verify (bad signature, unknown
// key, expired, wrong issuer or audience, or a refresh token where an
// access token is expected and the other way round).
var ErrInvalidToken = errors.New("invalid or expired token")

// Claims are the claims of berth's tokens: the registered JWT claims, the
// Docker token format's access list, and berth's own.
type Claims struct {
	jwt.RegisteredClaims
	Access []Scope `json:"access"`
	// Kind is the subject's identity kind ("user", "robot"; "" anonymous).
	Kind string `json:"kind,omitempty"`
	// Admin and Groups are the subject's when the token was issued.
	Admin  bool     `json:"adm,omitempty"`
	Groups []string `json:"grp,omitempty"`
	// Use is "refresh" for a refresh token, "" for an access token.
	Use string `json:"use,omitempty"`
	// PasswordAt is the subject's PasswordChangedAt (Unix nanoseconds) when
	// a refresh token was issued: a later password change revokes it.
	PasswordAt int64 `json:"pwat,omitempty"`
	// External: issued by the trusted external token service, whose
	// access list is its whole word (limited-guest listing rules are
	// berth's own and do not apply).
	External bool `json:"-"`
}

const useRefresh = "refresh"

// Identity returns the identity the token was issued to, as it was then.
func (c *Claims) Identity() Identity {
	if c.Kind == KindAnonymous {
		return Anonymous
	}
	return Identity{Kind: c.Kind, Name: c.Subject, Admin: c.Admin, Groups: c.Groups}
}

// Tokens issues and verifies berth's signed tokens.
type Tokens struct {
	store   meta.Store
	issuer  string
	service string
	ttl     time.Duration

	mu         sync.RWMutex
	keys       map[string]*ecdsa.PrivateKey // every stored key, by id
	signingID  string
	lastReload time.Time

	cacheMu sync.Mutex
	cache   map[[32]byte]*Claims // verified access tokens until they expire

	trusted *TrustedIssuer // an external token service, or nil
	box     *secretbox.Box // seals the private keys in the store, or nil
}

// reloadEvery bounds how often an unknown key id makes Tokens read the
// keys again (another node may have rotated).
const reloadEvery = 5 * time.Second

// tokenCacheMax bounds the verified-token cache; when full it starts again.
const tokenCacheMax = 10000

// leeway tolerates clocks of cluster nodes that differ a little.
const leeway = 30 * time.Second

// NewTokens loads the signing keys from the store, creating the first one
// if there is none (two nodes starting at once may each create one: both
// verify, and the newest signs).
func NewTokens(ctx context.Context, store meta.Store, issuer, service string, ttl time.Duration) (*Tokens, error) {
	return NewSealedTokens(ctx, store, issuer, service, ttl, nil)
}

// NewSealedTokens is NewTokens with the private keys sealed by box in the
// store (keys stored in the clear before are sealed now).
func NewSealedTokens(ctx context.Context, store meta.Store, issuer, service string, ttl time.Duration, box *secretbox.Box) (*Tokens, error) {
	t := &Tokens{store: store, issuer: issuer, service: service, ttl: ttl, cache: map[[32]byte]*Claims{}, box: box}
	if err := t.sealStored(ctx); err != nil {
		return nil, err
	}
	if err := t.reload(ctx); err != nil {
		return nil, err
	}
	if t.signingID == "" {
		if err := t.addKey(ctx, time.Now()); err != nil {
			return nil, err
		}
		if err := t.reload(ctx); err != nil {
			return nil, err
		}
	}
	if t.signingID == "" {
		return nil, errors.New("auth: no token signing key")
	}
	return t, nil
}

// TTL is how long access tokens live.
func (t *Tokens) TTL() time.Duration { return t.ttl }

func newKeyPEM() (string, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return "", nil, err
	}
	return keyID(&k.PublicKey), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// keyID names a key by a hash of its public key.
func keyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	sum := sha256.Sum256(der)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

func parseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 ECDSA key")
	}
	return ec, nil
}

// seal protects a private key for the store.
func (t *Tokens) seal(pemBytes []byte) ([]byte, error) {
	if t.box == nil {
		return pemBytes, nil
	}
	return t.box.Seal(pemBytes)
}

// sealStored seals the keys stored in the clear, when there is a box.
func (t *Tokens) sealStored(ctx context.Context) error {
	if t.box == nil {
		return nil
	}
	return t.store.Update(ctx, func(tx meta.Tx) error {
		ks, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		for _, k := range ks {
			if secretbox.Sealed(k.PrivateKey) {
				continue
			}
			if k.PrivateKey, err = t.box.Seal(k.PrivateKey); err != nil {
				return err
			}
			if err := tx.DeleteSigningKey(k.ID); err != nil {
				return err
			}
			if err := tx.AddSigningKey(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *Tokens) addKey(ctx context.Context, now time.Time) error {
	id, pemBytes, err := newKeyPEM()
	if err != nil {
		return fmt.Errorf("auth: generate signing key: %w", err)
	}
	if pemBytes, err = t.seal(pemBytes); err != nil {
		return err
	}
	return t.store.Update(ctx, func(tx meta.Tx) error {
		return tx.AddSigningKey(meta.SigningKey{ID: id, PrivateKey: pemBytes, CreatedAt: now})
	})
}

// reload reads every key; the newest unretired one signs.
func (t *Tokens) reload(ctx context.Context) error {
	var ks []meta.SigningKey
	if err := t.store.View(ctx, func(r meta.Reader) error {
		var err error
		ks, err = r.SigningKeys()
		return err
	}); err != nil {
		return fmt.Errorf("auth: load signing keys: %w", err)
	}
	keys := make(map[string]*ecdsa.PrivateKey, len(ks))
	signing := ""
	for _, k := range ks { // newest first
		plain, err := t.box.Open(k.PrivateKey)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", k.ID, err)
		}
		pk, err := parseKeyPEM(plain)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", k.ID, err)
		}
		keys[k.ID] = pk
		if signing == "" && k.RetiredAt.IsZero() {
			signing = k.ID
		}
	}
	t.mu.Lock()
	t.keys, t.signingID, t.lastReload = keys, signing, time.Now()
	t.mu.Unlock()
	return nil
}

// Rotate makes a new signing key and retires the others: they keep
// verifying the tokens they signed until Prune deletes them.
func (t *Tokens) Rotate(ctx context.Context, now time.Time) error {
	id, pemBytes, err := newKeyPEM()
	if err != nil {
		return err
	}
	if pemBytes, err = t.seal(pemBytes); err != nil {
		return err
	}
	if err := t.store.Update(ctx, func(tx meta.Tx) error {
		ks, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.RetiredAt.IsZero() {
				if err := tx.RetireSigningKey(k.ID, now); err != nil {
					return err
				}
			}
		}
		return tx.AddSigningKey(meta.SigningKey{ID: id, PrivateKey: pemBytes, CreatedAt: now})
	}); err != nil {
		return fmt.Errorf("auth: rotate signing key: %w", err)
	}
	return t.reload(ctx)
}

// Prune deletes keys retired before cutoff: tokens they signed stop
// verifying.
func (t *Tokens) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	if err := t.store.Update(ctx, func(tx meta.Tx) error {
		ks, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		for _, k := range ks {
			if !k.RetiredAt.IsZero() && k.RetiredAt.Before(cutoff) {
				if err := tx.DeleteSigningKey(k.ID); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("auth: prune signing keys: %w", err)
	}
	t.cacheMu.Lock()
	clear(t.cache)
	t.cacheMu.Unlock()
	return n, t.reload(ctx)
}

// Issue signs an access token for id granting access, valid for the TTL.
func (t *Tokens) Issue(id Identity, access []Scope, now time.Time) (string, error) {
	if access == nil {
		access = []Scope{}
	}
	return t.sign(Claims{Access: access, Kind: id.Kind, Admin: id.Admin, Groups: id.Groups}, id.Name, now, t.ttl)
}

// IssueRefresh signs a refresh token for id, valid for ttl, bound to the
// password change time passwordAt (zero for accounts whose password berth
// does not keep).
func (t *Tokens) IssueRefresh(id Identity, passwordAt time.Time, now time.Time, ttl time.Duration) (string, error) {
	c := Claims{Kind: id.Kind, Use: useRefresh}
	if !passwordAt.IsZero() {
		c.PasswordAt = passwordAt.UnixNano()
	}
	return t.sign(c, id.Name, now, ttl)
}

func (t *Tokens) sign(c Claims, subject string, now time.Time, ttl time.Duration) (string, error) {
	t.mu.RLock()
	kid, key := t.signingID, t.keys[t.signingID]
	t.mu.RUnlock()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{t.service},
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        fmt.Sprintf("%x", jti),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// Verify checks an access token and returns its claims. Verified tokens are
// cached until they expire, so a pull pays one map lookup, not a signature
// check, per request.
func (t *Tokens) Verify(ctx context.Context, raw string) (*Claims, error) {
	k := sha256.Sum256([]byte(raw))
	t.cacheMu.Lock()
	c, ok := t.cache[k]
	t.cacheMu.Unlock()
	if ok {
		if time.Now().Before(c.ExpiresAt.Add(leeway)) {
			return c, nil
		}
		t.cacheMu.Lock()
		delete(t.cache, k)
		t.cacheMu.Unlock()
		return nil, ErrInvalidToken
	}
	var err error
	if t.trusted != nil && unverifiedIssuer(raw) == t.trusted.Issuer && t.trusted.Issuer != t.issuer {
		c, err = t.parseExternal(raw)
	} else {
		c, err = t.parse(ctx, raw)
	}
	if err != nil {
		return nil, err
	}
	if c.Use != "" {
		return nil, ErrInvalidToken
	}
	t.cacheMu.Lock()
	if len(t.cache) >= tokenCacheMax {
		clear(t.cache)
	}
	t.cache[k] = c
	t.cacheMu.Unlock()
	return c, nil
}

// VerifyRefresh checks a refresh token (not cached: refreshing is rare).
func (t *Tokens) VerifyRefresh(ctx context.Context, raw string) (*Claims, error) {
	c, err := t.parse(ctx, raw)
	if err != nil {
		return nil, err
	}
	if c.Use != useRefresh {
		return nil, ErrInvalidToken
	}
	return c, nil
}

func (t *Tokens) parse(ctx context.Context, raw string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k := t.key(ctx, kid); k != nil {
			return &k.PublicKey, nil
		}
		return nil, fmt.Errorf("unknown key id %q", kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.service),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return &c, nil
}

// key returns the key with the given id, reading the keys again (at most
// every reloadEvery) when it is unknown: another node may have made it.
func (t *Tokens) key(ctx context.Context, kid string) *ecdsa.PrivateKey {
	t.mu.RLock()
	k, stale := t.keys[kid], time.Since(t.lastReload) > reloadEvery
	t.mu.RUnlock()
	if k != nil || !stale || kid == "" {
		return k
	}
	if err := t.reload(ctx); err != nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.keys[kid]
}

// unverifiedIssuer reads a token's iss claim without checking anything,
// to pick the keys that must then verify it.
func unverifiedIssuer(raw string) string {
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return ""
	}
	return c.Issuer
}
