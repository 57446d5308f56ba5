package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/opencontainers/go-digest"
)

// readyTimeout bounds each store check of /readyz.
const readyTimeout = 3 * time.Second

// emptyDigest is a digest every store can be asked about: Stat of it
// answering "not found" proves the store answers.
var emptyDigest = digest.FromBytes(nil)

// healthz answers 200 while the process can serve HTTP at all.
func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	writeHealth(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz checks that the metadata and blob stores answer within
// readyTimeout, and says which one does not.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	checks := map[string]string{"metadata": "ok", "storage": "ok"}
	status := http.StatusOK
	if err := a.meta.View(ctx, func(rd meta.Reader) error {
		_, err := rd.ListRepositories("", 1)
		return err
	}); err != nil {
		checks["metadata"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	if _, err := a.blobs.Stat(ctx, emptyDigest); err != nil && !errors.Is(err, blob.ErrNotFound) {
		checks["storage"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusOK {
		checks["status"] = "ready"
	} else {
		checks["status"] = "unready"
	}
	writeHealth(w, status, checks)
}

func writeHealth(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
