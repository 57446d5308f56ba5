package sigverify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// ParsePublicKeys parses one or more PEM "PUBLIC KEY" blocks (the cosign.pub
// format). Every block must hold a supported key (see Trust.Keys); any other
// block type, an unparsable key or non-PEM data after the last block is an
// error naming the block.
func ParsePublicKeys(pemData []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	err := eachBlock(pemData, func(n int, b *pem.Block) error {
		if b.Type != string(cryptoutils.PublicKeyPEMType) {
			return fmt.Errorf("PEM block %d is %q, want %q", n, b.Type, cryptoutils.PublicKeyPEMType)
		}
		k, err := cryptoutils.UnmarshalPEMToPublicKey(pem.EncodeToMemory(b))
		if err != nil {
			return fmt.Errorf("PEM block %d: parsing public key: %w", n, err)
		}
		if err := cryptoutils.ValidatePubKey(k); err != nil {
			return fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sigverify: public keys: %w", err)
	}
	return keys, nil
}

// ParseCertificates parses one or more PEM "CERTIFICATE" blocks. Any other
// block type, an unparsable certificate or non-PEM data after the last block
// is an error naming the block.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	err := eachBlock(pemData, func(n int, b *pem.Block) error {
		if b.Type != string(cryptoutils.CertificatePEMType) {
			return fmt.Errorf("PEM block %d is %q, want %q", n, b.Type, cryptoutils.CertificatePEMType)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("PEM block %d: parsing certificate: %w", n, err)
		}
		certs = append(certs, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sigverify: certificates: %w", err)
	}
	return certs, nil
}

// eachBlock calls fn for every PEM block in data, numbering blocks from 1.
// It fails on data holding no block and on non-blank data after the last one.
func eachBlock(data []byte, fn func(n int, b *pem.Block) error) error {
	rest := data
	n := 0
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if len(b.Headers) > 0 {
			return fmt.Errorf("PEM block %d (%q) has headers (encrypted?)", n, b.Type)
		}
		if err := fn(n, b); err != nil {
			return err
		}
		rest = r
	}
	if n == 0 {
		return errors.New("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("data after PEM block %d is not a PEM block", n)
	}
	return nil
}
