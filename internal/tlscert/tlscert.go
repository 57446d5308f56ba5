package tlscert

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkEvery bounds how often the files are looked at.
const checkEvery = time.Second

// Reloader holds the certificate of certFile and keyFile.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // what the files looked like when cert was loaded
	lastCheck time.Time
	lastErr   string
}

// New loads the pair; an unusable pair is an error here (and only logged
// later, on a rotation).
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	stamp, err := r.stampFiles()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp, r.lastCheck = &cert, stamp, r.now()
	return r, nil
}

// stampFiles describes both files by size, modification time and inode-ish
// identity, so that an in-place rewrite and a rename over both count.
func (r *Reloader) stampFiles() (string, error) {
	s := ""
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("TLS: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d;", f, st.Size(), st.ModTime().UnixNano())
	}
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.lastCheck) >= checkEvery {
		r.lastCheck = now
		r.maybeReload()
	}
	return r.cert, nil
}

func (r *Reloader) maybeReload() {
	stamp, err := r.stampFiles()
	if err == nil && stamp == r.stamp {
		return
	}
	if err == nil {
		var cert tls.Certificate
		if cert, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cert, r.stamp, r.lastErr = &cert, stamp, ""
			r.log.Info("TLS certificate reloaded", "certificate", r.certFile)
			return
		}
	}
	if msg := err.Error(); msg != r.lastErr {
		r.lastErr = msg
		r.log.Error("TLS certificate not reloaded; serving the previous one", "certificate", r.certFile, "err", err)
	}
}

// Config returns a server TLS configuration: TLS 1.2 at least, the
// certificate from the files.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
