package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/meta"
)

// AdminUser is the system admin account made on first start.
const AdminUser = "admin"

// HashPassword returns the bcrypt hash berth stores for a password.
func HashPassword(password string) ([]byte, error) {
	if len(password) > 72 {
		return nil, errors.New("password longer than 72 bytes")
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}

// NewSecret returns a random secret of n characters from a 62-letter
// alphabet (no characters a shell or a URL treats specially).
func NewSecret(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		var c [1]byte
		for {
			_, _ = rand.Read(c[:])
			if int(c[0]) < 256-256%len(alphabet) { // no modulo bias
				break
			}
		}
		b[i] = alphabet[int(c[0])%len(alphabet)]
	}
	return string(b)
}

// Bootstrap creates the system admin account when the store has no user at
// all: with password when it is not empty, otherwise a generated one, which
// it returns (to be shown once). It reports whether it created the account;
// of several nodes starting at once, one does.
func Bootstrap(ctx context.Context, store meta.Store, password string) (created bool, generated string, err error) {
	var empty bool
	if err := store.View(ctx, func(r meta.Reader) error {
		us, err := r.ListUsers("", 1)
		empty = len(us) == 0
		return err
	}); err != nil {
		return false, "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	if !empty {
		return false, "", nil
	}
	if password == "" {
		generated = NewSecret(24)
		password = generated
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, "", fmt.Errorf("auth: bootstrap: admin password: %w", err)
	}
	now := time.Now()
	err = store.Update(ctx, func(tx meta.Tx) error {
		us, err := tx.ListUsers("", 1)
		if err != nil || len(us) > 0 {
			return err // another node made the first account meanwhile
		}
		if err := tx.CreateUser(meta.User{Name: AdminUser, PasswordHash: hash, Admin: true, CreatedAt: now, PasswordChangedAt: now}); err != nil {
			return err
		}
		created = true
		return nil
	})
	if errors.Is(err, meta.ErrExists) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	if !created {
		generated = ""
	}
	return created, generated, nil
}
