package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := newKey(t)
	b, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret")
	sealed, err := b.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !Sealed(sealed) || bytes.Contains(sealed, []byte("secret")) {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := b.Seal(secret)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	other, _ := New(newKey(t))
	ct, _ := base64.StdEncoding.DecodeString(string(sealed[len(prefix):]))
	ct[len(ct)/2] ^= 1 // a flipped ciphertext bit (not a base64 padding bit)
	tampered := []byte(prefix + base64.StdEncoding.EncodeToString(ct))
	tests := []struct {
		name    string
		box     *Box
		in      []byte
		want    []byte
		wantErr error
	}{
		{"round trip", b, sealed, secret, nil},
		{"plain values pass through", b, []byte("plain"), []byte("plain"), nil},
		{"plain values without a key", nil, []byte("plain"), []byte("plain"), nil},
		{"sealed value without a key", nil, sealed, nil, ErrNoKey},
		{"another key", other, sealed, nil, errors.New("any")},
		{"tampered", b, tampered, nil, errors.New("any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.in)
			switch {
			case tt.wantErr == nil && (err != nil || !bytes.Equal(got, tt.want)):
				t.Fatalf("Open = %q, %v", got, err)
			case tt.wantErr == ErrNoKey && !errors.Is(err, ErrNoKey):
				t.Fatalf("Open = %v, want ErrNoKey", err)
			case tt.wantErr != nil && err == nil:
				t.Fatal("Open succeeded")
			}
		})
	}
}
