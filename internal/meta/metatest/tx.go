package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

type customErr struct{ msg string }

func (e *customErr) Error() string { return e.msg }

var txTests = []test{
	{"async update commits and rolls back like update", func(t *testing.T, s meta.Store) {
		if err := s.UpdateAsync(ctx(t), func(tx meta.Tx) error {
			return tx.CreateUpload(meta.Upload{ID: "async", Repo: "r", Algorithm: digest.SHA256})
		}); err != nil {
			t.Fatal(err)
		}
		want := &customErr{"refused"}
		err := s.UpdateAsync(ctx(t), func(tx meta.Tx) error {
			if err := tx.DeleteUpload("async"); err != nil {
				t.Errorf("delete: %v", err)
			}
			return want
		})
		if err != want { //nolint:errorlint // the very same error value is required
			t.Fatalf("UpdateAsync returned %v, want fn's error unchanged", err)
		}
		view(t, s, func(r meta.Reader) error {
			if _, err := r.Upload("async"); err != nil {
				t.Errorf("async commit lost or rollback ignored: %v", err)
			}
			return nil
		})
	}},
	{"rollback when fn fails", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		update(t, s, func(tx meta.Tx) error { return tx.PutManifest("keep", m, meta.Refs{}) })
		want := &customErr{"push refused"}
		err := s.Update(ctx(t), func(tx meta.Tx) error {
			steps := []error{
				tx.EnsureRepository("ghost"),
				tx.LinkBlob("ghost", dg("layer"), 1),
				tx.PutManifest("ghost", m, meta.Refs{Blobs: []digest.Digest{dg("layer")}}),
				tx.CreateUpload(meta.Upload{ID: "u", Repo: "ghost", Algorithm: digest.SHA256}),
				tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "ghost"}),
				tx.DeleteManifest("keep", m.Digest),
			}
			if _, err := tx.PutTag("ghost", "latest", m.Digest); err != nil {
				steps = append(steps, err)
			}
			if err := errors.Join(steps...); err != nil {
				t.Errorf("writes before the failure: %v", err)
			}
			return want
		})
		if err != want { //nolint:errorlint // the very same error value is required
			t.Fatalf("Update returned %v (%T), want fn's error unchanged", err, err)
		}
		view(t, s, func(r meta.Reader) error {
			checks := []struct {
				what string
				err  error
			}{
				{"Repository", second(r.Repository("ghost"))},
				{"BlobLink", second(r.BlobLink("ghost", dg("layer")))},
				{"Manifest", second(r.Manifest("ghost", m.Digest))},
				{"Tag", second(r.Tag("ghost", "latest"))},
				{"Upload", second(r.Upload("u"))},
			}
			for _, c := range checks {
				wantNotFound(t, c.what+" after rollback", c.err)
			}
			if _, err := r.Manifest("keep", m.Digest); err != nil {
				t.Errorf("rolled back delete took effect: %v", err)
			}
			evs, err := r.EventsAfter(0, 0)
			if len(evs) != 0 {
				t.Errorf("events after rollback = %+v, want none", evs)
			}
			return err
		})
	}},
	{"error from a read is returned as is", func(t *testing.T, s meta.Store) {
		err := s.Update(ctx(t), func(tx meta.Tx) error {
			_, err := tx.Repository("nope")
			return fmt.Errorf("handler: %w", err)
		})
		wantNotFound(t, "Update", err)
		err = s.View(ctx(t), func(r meta.Reader) error { return &customErr{"view failed"} })
		var ce *customErr
		if !errors.As(err, &ce) || ce.msg != "view failed" {
			t.Errorf("View returned %v, want fn's error", err)
		}
	}},
	{"panic in fn rolls back", func(t *testing.T, s meta.Store) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("panic did not propagate out of Update")
				}
			}()
			_ = s.Update(ctx(t), func(tx meta.Tx) error {
				if err := tx.EnsureRepository("panicked"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		// The store must still accept writes (no leaked write lock).
		done := make(chan error, 1)
		go func() { done <- s.Update(ctx(t), func(tx meta.Tx) error { return tx.EnsureRepository("after") }) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Update after panic: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Update after a panicking Update hangs")
		}
		view(t, s, func(r meta.Reader) error {
			names, err := r.ListRepositories("", 0)
			if !slices.Equal(names, []string{"after"}) {
				t.Errorf("repositories = %q, want [after]", names)
			}
			return err
		})
	}},
	{"concurrent updates", func(t *testing.T, s meta.Store) {
		const workers, rounds = 16, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*2)
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					m := manifest(fmt.Sprintf("w%d-%d", w, i))
					err := s.Update(ctx(t), func(tx meta.Tx) error {
						own := fmt.Sprintf("conc/%d", w)
						if err := tx.LinkBlob(own, dg("layer"), 1); err != nil {
							return err
						}
						if err := tx.LinkBlob("shared", dg(fmt.Sprintf("layer-%d-%d", w, i)), 1); err != nil {
							return err
						}
						for _, repo := range []string{own, "shared"} {
							if err := tx.PutManifest(repo, m, meta.Refs{}); err != nil {
								return err
							}
						}
						if _, err := tx.PutTag("shared", fmt.Sprintf("t%d-%d", w, i), m.Digest); err != nil {
							return err
						}
						_, err := tx.PutTag("shared", "latest", m.Digest)
						if err != nil {
							return err
						}
						return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "shared", Digest: m.Digest})
					})
					if err != nil {
						errs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
					}
					// Reads interleave with the writes.
					if err := s.View(ctx(t), func(r meta.Reader) error {
						_, err := r.ManifestByTag("shared", "latest")
						return err
					}); err != nil {
						errs <- fmt.Errorf("worker %d view %d: %w", w, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		view(t, s, func(r meta.Reader) error {
			tags, err := r.ListTags("shared", "", 0)
			if err != nil {
				return err
			}
			if len(tags) != workers*rounds+1 {
				t.Errorf("shared has %d tags, want %d", len(tags), workers*rounds+1)
			}
			repos, err := r.ListRepositories("", 0)
			if len(repos) != workers+1 {
				t.Errorf("%d repositories, want %d", len(repos), workers+1)
			}
			evs, err2 := r.EventsAfter(0, 0)
			if len(evs) != workers*rounds {
				t.Errorf("%d events, want %d", len(evs), workers*rounds)
			}
			return errors.Join(err, err2)
		})
	}},
	{"view sees committed data", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		putManifests(t, s, "repo", m)
		update(t, s, func(tx meta.Tx) error { _, err := tx.PutTag("repo", "latest", m.Digest); return err })
		view(t, s, func(r meta.Reader) error {
			got, err := r.Tag("repo", "latest")
			if got != m.Digest {
				t.Errorf("Tag = %q right after commit, want %q", got, m.Digest)
			}
			return err
		})
	}},
	{"view is one snapshot", func(t *testing.T, s meta.Store) {
		m1, m2 := manifest("one"), manifest("two")
		putManifests(t, s, "repo", m1, m2)
		update(t, s, func(tx meta.Tx) error { _, err := tx.PutTag("repo", "latest", m1.Digest); return err })
		viewErr := s.View(ctx(t), func(r meta.Reader) error {
			before, err := r.Tag("repo", "latest")
			if err != nil {
				return err
			}
			// A write commits while the view is open...
			done := make(chan error, 1)
			go func() {
				done <- s.Update(ctx(t), func(tx meta.Tx) error {
					if _, err := tx.PutTag("repo", "latest", m2.Digest); err != nil {
						return err
					}
					return tx.EnsureRepository("new")
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					return fmt.Errorf("concurrent Update: %w", err)
				}
			case <-time.After(20 * time.Second):
				return errors.New("an Update blocks while a View is open")
			}
			// ...and is invisible to it.
			after, err := r.Tag("repo", "latest")
			if err != nil {
				return err
			}
			if after != before {
				t.Errorf("Tag changed inside one View: %.19s -> %.19s", before, after)
			}
			_, err = r.Repository("new")
			wantNotFound(t, "Repository created after the View began", err)
			return nil
		})
		if viewErr != nil {
			t.Fatal(viewErr)
		}
		view(t, s, func(r meta.Reader) error {
			got, err := r.Tag("repo", "latest")
			if got != m2.Digest {
				t.Errorf("Tag in a new View = %.19s, want %.19s", got, m2.Digest)
			}
			return err
		})
	}},
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

var closeTests = []test{
	{"close twice, then every transaction fails with ErrClosed", func(t *testing.T, s meta.Store) {
		if err := s.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		calls := []struct {
			name string
			run  func() error
		}{
			{"View", func() error { return s.View(c, func(meta.Reader) error { return nil }) }},
			{"Update", func() error { return s.Update(c, func(meta.Tx) error { return nil }) }},
			{"UpdateAsync", func() error { return s.UpdateAsync(c, func(meta.Tx) error { return nil }) }},
		}
		for _, call := range calls {
			if err := call.run(); !errors.Is(err, meta.ErrClosed) {
				t.Errorf("%s after Close = %v, want meta.ErrClosed", call.name, err)
			}
		}
	}},
}
