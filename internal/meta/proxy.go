package meta

import "time"

// Proxy binds a project to an upstream registry: the project is a
// pull-through cache of it (its repositories are <project>/<upstream path>).
type Proxy struct {
	Project  string
	URL      string // the upstream's base URL, e.g. https://registry-1.docker.io
	Username string
	Password []byte // sealed by the caller (secretbox) when a key is configured
	// Insecure skips TLS certificate verification of the upstream.
	Insecure bool
	// CACert is a PEM bundle the upstream's certificate must chain to ("" =
	// the system's roots).
	CACert string
	// TTL is how long a cached tag is served before it is revalidated
	// (0 = the configuration's proxy.ttl).
	TTL       time.Duration
	CreatedAt time.Time
}

// ProxyReader reads the proxy projects and when their tags were checked.
type ProxyReader interface {
	// Proxy returns the upstream of project, or ErrNotFound when it is not
	// a proxy project.
	Proxy(project string) (Proxy, error)
	// ListProxies returns every proxy project, by name.
	ListProxies() ([]Proxy, error)
	// ProxyTagChecked returns when tag of repo was last found current at
	// the upstream (the zero time when never).
	ProxyTagChecked(repo, tag string) (time.Time, error)
}

// ProxyWriter writes them.
type ProxyWriter interface {
	// PutProxy makes an existing project a proxy project, or changes its
	// upstream (ErrNotFound when the project does not exist).
	PutProxy(p Proxy) error
	// DeleteProxy makes project a plain project again (ErrNotFound when it
	// is not a proxy project). What it cached stays.
	DeleteProxy(project string) error
	// SetProxyTagChecked records that tag of repo was found current at the
	// upstream at time at. The repository must exist.
	SetProxyTagChecked(repo, tag string, at time.Time) error
}
