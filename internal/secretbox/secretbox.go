// Package secretbox encrypts the secrets berth must keep in order to use
// them later (token signing keys today; upstream and replication
// credentials, webhook secrets later) with a key from the configuration,
// so a copy of the metadata database alone does not reveal them.
// AES-256-GCM; a sealed value is "sb1:" followed by base64 of nonce and
// ciphertext.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

const prefix = "sb1:"

// ErrNoKey: a sealed value and no key to open it.
var ErrNoKey = errors.New("the value is encrypted and no secrets key is configured (secrets.key)")

// Box seals and opens values with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox: key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Sealed reports whether v is a sealed value.
func Sealed(v []byte) bool { return bytes.HasPrefix(v, []byte(prefix)) }

// Seal encrypts v.
func (b *Box) Seal(v []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := b.aead.Seal(nonce, nonce, v, []byte(prefix))
	return []byte(prefix + base64.StdEncoding.EncodeToString(ct)), nil
}

// Open decrypts a sealed value; a value that is not sealed comes back as
// it is (stored before a key was configured). A nil Box opens only
// unsealed values.
func (b *Box) Open(v []byte) ([]byte, error) {
	if !Sealed(v) {
		return v, nil
	}
	if b == nil {
		return nil, ErrNoKey
	}
	ct, err := base64.StdEncoding.DecodeString(string(v[len(prefix):]))
	if err != nil || len(ct) < b.aead.NonceSize() {
		return nil, errors.New("secretbox: malformed sealed value")
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, ct[:n], ct[n:], []byte(prefix))
	if err != nil {
		return nil, errors.New("secretbox: cannot decrypt: a different secrets key sealed it")
	}
	return out, nil
}
