package policy

import (
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func TestImmutableRule(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(t.Context(), func(tx meta.Tx) error {
		if err := tx.CreateProject(meta.Project{Name: "prod"}); err != nil {
			return err
		}
		for _, r := range []meta.ImmutableRule{
			{Project: "prod", Repositories: "prod/**", Tags: "v*"},
			{Project: "prod", Repositories: "prod/app", Tags: "*"},
			{Project: "prod", Repositories: "prod/signed", Tags: "*.sig"},
		} {
			if _, err := tx.AddImmutableRule(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const sig = "sha256-0123456789012345678901234567890123456789012345678901234567890123.sig"
	tests := []struct {
		repo, tag, want string
	}{
		{"prod/web", "v1.2", "prod/** v*"},
		{"prod/a/b", "v2", "prod/** v*"},
		{"prod/web", "latest", ""},
		{"prod/app", "latest", "prod/app *"},
		{"prod/app", sig, ""},                   // a signature tag is not a version
		{"prod/app", "sha256-" + sig[7:71], ""}, // nor a referrers-schema fallback tag
		{"prod/signed", sig, "prod/signed *.sig"},
		{"other/web", "v1", ""},      // another project's rules do not apply
		{"prod", "v1", "prod/** v*"}, // ** matches zero segments too (docs/patterns.md)
	}
	for _, tt := range tests {
		t.Run(tt.repo+":"+tt.tag, func(t *testing.T) {
			var got string
			err := s.View(t.Context(), func(r meta.Reader) error {
				var err error
				got, err = Immutability{}.ImmutableRule(r, tt.repo, tt.tag)
				return err
			})
			if err != nil || got != tt.want {
				t.Fatalf("ImmutableRule = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
