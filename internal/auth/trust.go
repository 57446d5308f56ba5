package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// TrustedIssuer is an external token service whose tokens berth accepts,
// as registry:2's auth.token does: tokens with this issuer, berth's
// audience, and a signature by one of Keys. Their access claims are taken
// as they are; their subject becomes a user of that name (never an admin).
type TrustedIssuer struct {
	Issuer string
	Keys   []crypto.PublicKey
}

// LoadTrustedKeys reads the public keys of PEM certificates (certFile)
// and of a JWKS document (jwksFile); either may be "".
func LoadTrustedKeys(certFile, jwksFile string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	if certFile != "" {
		b, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", certFile, err)
			}
			keys = append(keys, c.PublicKey)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: no PEM certificate", certFile)
		}
	}
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return nil, err
		}
		ks, err := parseJWKS(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", jwksFile, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func parseJWKS(b []byte) ([]crypto.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, err
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no keys in the JWKS document")
	}
	var out []crypto.PublicKey
	for i, k := range set.Keys {
		pk, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		c, ok := curves[k.Crv]
		if !ok {
			return nil, fmt.Errorf("unsupported curve %q", k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad EC coordinates")
		}
		pk := &ecdsa.PublicKey{Curve: c, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if !c.IsOnCurve(pk.X, pk.Y) {
			return nil, errors.New("EC point not on the curve")
		}
		return pk, nil
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA modulus or exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "OKP":
		x, err := b64(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("unsupported OKP key (Ed25519 only)")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}

// externalMethods are the signature algorithms accepted from a trusted
// issuer.
var externalMethods = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// SetTrustedIssuer makes Tokens accept the tokens of t too.
func (t *Tokens) SetTrustedIssuer(ti *TrustedIssuer) { t.trusted = ti }

// parseExternal verifies a token of the trusted issuer.
func (t *Tokens) parseExternal(raw string) (*Claims, error) {
	keys := make([]jwt.VerificationKey, len(t.trusted.Keys))
	for i, k := range t.trusted.Keys {
		keys[i] = k
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return jwt.VerificationKeySet{Keys: keys}, nil },
		jwt.WithValidMethods(externalMethods),
		jwt.WithIssuer(t.trusted.Issuer),
		jwt.WithAudience(t.service),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	// Only the access list and the subject are the issuer's to say.
	c.Kind, c.Admin, c.Groups, c.Use, c.PasswordAt, c.External = "", false, nil, "", 0, true
	if c.Subject != "" {
		c.Kind = KindUser
	}
	return &c, nil
}
