package config

import "time"

// Config is berth's whole configuration. Every field has a `key` tag naming
// its dotted path (the YAML path, and BERTH_ + upper-cased path with dots as
// underscores for the environment) and a `desc` tag describing it (shown by
// Keys and in docs/configuration.md). `env:"-"` keeps a key out of the
// environment; `env:"NAME"` gives it a variable of another name. Loading, environment overrides and the docs are derived from
// these tags by reflection, so a new key needs no code beyond its field, its
// default and any Validate rule.
type Config struct {
	Version     int         `yaml:"version" key:"version" desc:"Configuration format version; must be 1. Required in a config file." env:"-"`
	HTTP        HTTP        `yaml:"http"`
	Storage     Storage     `yaml:"storage"`
	Metadata    Metadata    `yaml:"metadata"`
	Registry    Registry    `yaml:"registry"`
	Auth        Auth        `yaml:"auth"`
	Projects    Projects    `yaml:"projects"`
	Audit       Audit       `yaml:"audit"`
	GC          GC          `yaml:"gc"`
	Retention   Retention   `yaml:"retention"`
	Verify      Verify      `yaml:"verify"`
	Metrics     Metrics     `yaml:"metrics"`
	Secrets     Secrets     `yaml:"secrets"`
	Log         Log         `yaml:"log"`
	Health      Health      `yaml:"health"`
	Proxy       Proxy       `yaml:"proxy"`
	Replication Replication `yaml:"replication"`
	Scan        Scan        `yaml:"scan"`
}

// GC is online garbage collection.
type GC struct {
	Scheduled bool          `yaml:"scheduled" key:"gc.scheduled" desc:"Collect garbage every gc.interval (on one node of a cluster at a time)."`
	Interval  time.Duration `yaml:"interval" key:"gc.interval" desc:"How often the scheduled garbage collection runs."`
	Grace     time.Duration `yaml:"grace" key:"gc.grace" desc:"Age below which nothing is collected: what a push in progress is about to reference stays."`
	// DeleteUntagged makes GC remove manifests that no tag, index or
	// subject keeps; off, only retention rules (untagged-after) remove them.
	DeleteUntagged bool `yaml:"delete_untagged" key:"gc.delete_untagged" desc:"Collect manifests no tag, index or subject keeps (off: they stay, for pulls by digest, until a retention rule removes them)."`
	// DeleteOrphanReferrers makes GC remove referrers whose subject is gone.
	DeleteOrphanReferrers bool `yaml:"delete_orphan_referrers" key:"gc.delete_orphan_referrers" desc:"Collect untagged referrers (signatures, SBOMs, attestations) whose subject is gone (off: they stay until deleted)."`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	Enabled bool `yaml:"enabled" key:"metrics.enabled" desc:"Serve Prometheus metrics at /metrics (to system admins, with their credentials, unless auth.mode is none)."`
	// Addr moves /metrics to a listener of its own, without authentication.
	Addr string `yaml:"addr" key:"metrics.addr" desc:"Listen address of a separate metrics server (empty = /metrics on the main listener): it serves /metrics without authentication, so keep it on a private interface, and the main listener no longer serves it."`
}

// Retention runs the projects' retention rules.
type Retention struct {
	Scheduled bool          `yaml:"scheduled" key:"retention.scheduled" desc:"Apply every project's retention rules every retention.interval (on one node of a cluster at a time)."`
	Interval  time.Duration `yaml:"interval" key:"retention.interval" desc:"How often the scheduled retention run happens."`
}

// Verify is the integrity check of stored blobs (berth verify).
type Verify struct {
	Scheduled bool          `yaml:"scheduled" key:"verify.scheduled" desc:"Re-hash every stored blob every verify.interval (on one node of a cluster); corrupt blobs are quarantined."`
	Interval  time.Duration `yaml:"interval" key:"verify.interval" desc:"How often the scheduled verification runs."`
	Rate      int64         `yaml:"rate" key:"verify.rate" desc:"Bytes a second a verification may read (0 = no limit), so it does not starve clients."`
}

// Secrets is the key that encrypts the secrets berth keeps in the metadata
// store (token signing keys; later upstream credentials and webhook
// secrets).
type Secrets struct {
	Key     string `yaml:"key" key:"secrets.key" desc:"32 random bytes in base64 (head -c 32 /dev/urandom | base64) encrypting the secrets kept in the metadata store; every node needs the same key (empty: kept in the clear)."`
	KeyFile string `yaml:"key_file" key:"secrets.key_file" desc:"File holding secrets.key instead (e.g. a mounted Kubernetes Secret)."`
}

// Audit is the audit log: logins, pulls, pushes, deletes and changes to
// accounts, projects, members and robots.
type Audit struct {
	Retention time.Duration `yaml:"retention" key:"audit.retention" desc:"How long audit events are kept before they are purged."`
}

type HTTP struct {
	// Addr is the listen address.
	Addr string `yaml:"addr" key:"http.addr" desc:"Listen address, host:port."`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" key:"http.shutdown_timeout" desc:"How long SIGTERM waits for in-flight requests to finish."`
	// DebugAddr serves Go's pprof profiles when set.
	DebugAddr string `yaml:"debug_addr" key:"http.debug_addr" desc:"Listen address of the pprof debug server (empty = off); keep it on loopback."`
	// ExternalURL is how clients reach berth (behind a proxy).
	ExternalURL string `yaml:"external_url" key:"http.external_url" desc:"URL clients reach berth at, like https://registry.example.com (empty: the scheme and host of each request); used for the token realm and upload locations."`
	// TrustedProxies may set X-Forwarded-Proto and X-Forwarded-Host.
	TrustedProxies []string `yaml:"trusted_proxies" key:"http.trusted_proxies" desc:"Addresses or CIDRs of reverse proxies whose X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For berth believes (empty: none)."`
	// Allow and PushAllow restrict clients by network.
	Allow     []string `yaml:"allow" key:"http.allow" desc:"CIDRs of the clients that may use the registry at all (empty: everyone)."`
	PushAllow []string `yaml:"push_allow" key:"http.push_allow" desc:"CIDRs of the clients that may push, tag or delete (empty: everyone http.allow lets in)."`
	// RateLimit limits each client address's request rate.
	RateLimit int `yaml:"rate_limit" key:"http.rate_limit" desc:"Requests a second each client address may make on average (0 = no limit); over it berth answers 429 with Retry-After. Per node."`
	RateBurst int `yaml:"rate_burst" key:"http.rate_burst" desc:"Requests a client may make at once above http.rate_limit."`
	TLS       TLS `yaml:"tls"`
}

// TLS serves HTTPS with a certificate from files, reloaded when they change.
type TLS struct {
	Certificate string `yaml:"certificate" key:"http.tls.certificate" desc:"PEM certificate (chain) file; with http.tls.key, berth serves HTTPS (TLS 1.2 or newer) and reloads the pair when the files change."`
	Key         string `yaml:"key" key:"http.tls.key" desc:"PEM private key file of http.tls.certificate."`
}

type Storage struct {
	// Driver is the blob store driver: "filesystem" or "s3".
	Driver string `yaml:"driver" key:"storage.driver" desc:"Blob store driver: filesystem or s3."`
	// Path is the data directory (blobs under Path/blobs, SQLite at Path/berth.db).
	Path string `yaml:"path" key:"storage.path" desc:"Data directory; blobs go in its blobs directory, the SQLite database in berth.db."`
	// VerifyOnRead hashes blobs as they are served.
	VerifyOnRead bool `yaml:"verify_on_read" key:"storage.verify_on_read" desc:"Hash every blob as it is served and abort the response on a mismatch (costs the zero-copy path; off by default: berth verify checks stored blobs instead)."`
	// DirectIO lets the filesystem driver bypass the page cache for large
	// blobs.
	DirectIO bool `yaml:"direct_io" key:"storage.direct_io" desc:"Filesystem driver: write what an upload holds beyond its first 8 MiB with O_DIRECT and send blobs of 64 MiB and more that the page cache mostly does not hold with direct reads (a blob sent so twice within 10 minutes is then read into the cache in the background); off: everything through the page cache and sendfile. Ignored where the filesystem refuses O_DIRECT."`
	// MaxBlobSize refuses uploads larger than this many bytes (0 = no limit).
	MaxBlobSize int64 `yaml:"max_blob_size" key:"storage.max_blob_size" desc:"Refuse blob uploads larger than this (0 = no limit)."`
	// UploadMaxAge purges upload sessions idle for longer than this.
	UploadMaxAge time.Duration `yaml:"upload_max_age" key:"storage.upload_max_age" desc:"Purge upload sessions idle for longer than this."`
	// UploadPurgeInterval is how often abandoned uploads are looked for.
	UploadPurgeInterval time.Duration `yaml:"upload_purge_interval" key:"storage.upload_purge_interval" desc:"How often abandoned uploads are looked for."`
	// S3 configures the s3 driver.
	S3 S3 `yaml:"s3"`
}

// S3 is the S3-compatible object store of the s3 blob driver.
type S3 struct {
	Endpoint       string `yaml:"endpoint" key:"storage.s3.endpoint" desc:"S3 endpoint, host:port (empty means s3.amazonaws.com)."`
	Region         string `yaml:"region" key:"storage.s3.region" desc:"S3 region."`
	Bucket         string `yaml:"bucket" key:"storage.s3.bucket" desc:"Bucket holding blobs and uploads (must exist)."`
	Prefix         string `yaml:"prefix" key:"storage.s3.prefix" desc:"Key prefix inside the bucket."`
	AccessKey      string `yaml:"access_key" key:"storage.s3.access_key" desc:"Access key (empty: AWS_ACCESS_KEY_ID)."`
	SecretKey      string `yaml:"secret_key" key:"storage.s3.secret_key" desc:"Secret key (empty: AWS_SECRET_ACCESS_KEY)."`
	PathStyle      bool   `yaml:"path_style" key:"storage.s3.path_style" desc:"Address buckets by path (most self-hosted S3 servers) rather than by virtual host."`
	Insecure       bool   `yaml:"insecure" key:"storage.s3.insecure" desc:"Talk plain HTTP to the endpoint."`
	PartSize       int64  `yaml:"part_size" key:"storage.s3.part_size" desc:"Multipart upload part size (at least 5MiB)."`
	MaxConcurrency int    `yaml:"max_concurrency" key:"storage.s3.max_concurrency" desc:"Most S3 requests in flight at once."`
	// Redirect sends blob downloads to presigned S3 URLs.
	Redirect    bool          `yaml:"redirect" key:"storage.s3.redirect" desc:"Answer blob downloads with a redirect to a presigned S3 URL (clients then need to reach the S3 endpoint)."`
	RedirectTTL time.Duration `yaml:"redirect_ttl" key:"storage.s3.redirect_ttl" desc:"How long a presigned download URL stays valid."`
}

type Metadata struct {
	// Driver is the metadata store driver: "sqlite" or "postgres".
	Driver string `yaml:"driver" key:"metadata.driver" desc:"Metadata store driver: sqlite or postgres."`
	// SQLitePath is the SQLite database file ("" = <storage.path>/berth.db).
	SQLitePath string `yaml:"sqlite_path" key:"metadata.sqlite_path" desc:"SQLite database file (empty means berth.db in storage.path)."`
	// Postgres configures the postgres driver.
	Postgres Postgres `yaml:"postgres"`
}

// Postgres is the PostgreSQL database of the postgres metadata driver.
type Postgres struct {
	DSN             string        `yaml:"dsn" key:"metadata.postgres.dsn" desc:"Connection string, e.g. postgres://berth:secret@db:5432/berth."`
	MaxConns        int           `yaml:"max_conns" key:"metadata.postgres.max_conns" desc:"Most open connections per node."`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime" key:"metadata.postgres.conn_max_lifetime" desc:"Close connections older than this."`
}

type Registry struct {
	// ManifestMaxSize refuses manifests larger than this many bytes (413).
	ManifestMaxSize int64 `yaml:"manifest_max_size" key:"registry.manifest_max_size" desc:"Refuse manifests larger than this (413)."`
	// ListMaxEntries clamps the n parameter of tag lists and the catalog.
	ListMaxEntries int `yaml:"list_max_entries" key:"registry.list_max_entries" desc:"Upper bound for the n parameter of tag lists and the catalog."`
	// CacheSize bounds the in-memory manifest cache for pulls.
	CacheSize int64 `yaml:"cache_size" key:"registry.cache_size" desc:"Memory for recently pulled manifests and tags (0 = no cache; always off with metadata.driver postgres, where other nodes write too)."`
}

type Auth struct {
	// Mode is local (accounts, tokens) or none (open, like registry:2).
	Mode string `yaml:"mode" key:"auth.mode" desc:"local: users, robots and tokens, anonymous pulls of public projects only; none: no authentication at all (local experiments only)."`
	// AdminPassword is the first start's admin password.
	AdminPassword string `yaml:"admin_password" key:"auth.admin_password" env:"BERTH_ADMIN_PASSWORD" desc:"Password of the admin account made on first start, when no user exists yet (empty: one is generated and logged once). Read at no other time."`
	// CredentialCacheTTL is how long a verified password is remembered.
	CredentialCacheTTL time.Duration `yaml:"credential_cache_ttl" key:"auth.credential_cache_ttl" desc:"How long verified Basic credentials are remembered, so a pull does not pay a bcrypt per request (a password change or a disabled account takes up to this long to bite)."`
	Htpasswd           Htpasswd      `yaml:"htpasswd"`
	LDAP               LDAP          `yaml:"ldap"`
	Token              Token         `yaml:"token"`
	Throttle           Throttle      `yaml:"throttle"`
}

// Throttle limits failed logins, cluster-wide (the counts are in the
// metadata store).
type Throttle struct {
	Failures int           `yaml:"failures" key:"auth.throttle.failures" desc:"Failed logins of one user within auth.throttle.window before further attempts are refused with 429 for auth.throttle.lockout (five times as many from one address; 0 = no throttling)."`
	Window   time.Duration `yaml:"window" key:"auth.throttle.window" desc:"Time over which failed logins are counted."`
	Lockout  time.Duration `yaml:"lockout" key:"auth.throttle.lockout" desc:"How long a throttled user or address is refused."`
}

// LDAP authenticates users against a directory (search, then bind).
type LDAP struct {
	URL            string        `yaml:"url" key:"auth.ldap.url" desc:"Directory server, ldap://host:389 or ldaps://host:636 (empty: no LDAP)."`
	StartTLS       bool          `yaml:"start_tls" key:"auth.ldap.start_tls" desc:"Upgrade an ldap:// connection with StartTLS."`
	CAFile         string        `yaml:"ca_file" key:"auth.ldap.ca_file" desc:"PEM CA bundle to verify the directory's certificate (empty: the system's)."`
	BindDN         string        `yaml:"bind_dn" key:"auth.ldap.bind_dn" desc:"DN berth binds as to search for users (empty: anonymous search)."`
	BindPassword   string        `yaml:"bind_password" key:"auth.ldap.bind_password" desc:"Password of auth.ldap.bind_dn."`
	UserBase       string        `yaml:"user_base" key:"auth.ldap.user_base" desc:"Where users are searched, like ou=people,dc=example,dc=org."`
	UserFilter     string        `yaml:"user_filter" key:"auth.ldap.user_filter" desc:"Filter finding a user; {username} is replaced by the escaped login name."`
	GroupBase      string        `yaml:"group_base" key:"auth.ldap.group_base" desc:"Where groups are searched (empty: no groups)."`
	GroupFilter    string        `yaml:"group_filter" key:"auth.ldap.group_filter" desc:"Filter finding a user's groups; {dn} is the user's DN, {username} the login name."`
	GroupAttribute string        `yaml:"group_attribute" key:"auth.ldap.group_attribute" desc:"Attribute of a group entry that names it (the name project memberships use)."`
	RequestTimeout time.Duration `yaml:"timeout" key:"auth.ldap.timeout" desc:"Timeout of each directory operation."`
}

// Htpasswd is an htpasswd file of extra users (bcrypt entries only).
type Htpasswd struct {
	Path string `yaml:"path" key:"auth.htpasswd.path" desc:"htpasswd file of extra users, bcrypt entries only (empty = none); reloaded when it changes."`
}

// Token configures berth's token service.
type Token struct {
	Issuer     string        `yaml:"issuer" key:"auth.token.issuer" desc:"The iss claim of the tokens berth issues."`
	Service    string        `yaml:"service" key:"auth.token.service" desc:"The service name of the Bearer challenge and the tokens' audience."`
	TTL        time.Duration `yaml:"ttl" key:"auth.token.ttl" desc:"Lifetime of access tokens."`
	RefreshTTL time.Duration `yaml:"refresh_ttl" key:"auth.token.refresh_ttl" desc:"Lifetime of refresh tokens (the identity token docker login keeps); a password change revokes them earlier."`
	// An external token service, as registry:2's auth.token.
	Realm               string `yaml:"realm" key:"auth.token.realm" desc:"Token service URL sent in the Bearer challenge (empty: berth's own /token); set it to an external token service berth trusts."`
	TrustedIssuer       string `yaml:"trusted_issuer" key:"auth.token.trusted_issuer" desc:"iss of an external token service whose tokens (audience auth.token.service) berth accepts, with their access claims (empty: none)."`
	TrustedCertificates string `yaml:"trusted_certificates" key:"auth.token.trusted_certificates" desc:"PEM certificates whose keys sign the trusted issuer's tokens (registry:2's rootcertbundle)."`
	TrustedJWKS         string `yaml:"trusted_jwks" key:"auth.token.trusted_jwks" desc:"JWKS file with the trusted issuer's public keys."`
}

type Projects struct {
	// AutoCreate lets any user create a project by pushing into it.
	AutoCreate bool `yaml:"auto_create" key:"projects.auto_create" desc:"A push into a missing project creates it (private, the pusher as project admin) for any authenticated user; when false only system admins create projects that way."`
}

type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level" key:"log.level" desc:"Log level: debug, info, warn or error."`
	// Format is text or json.
	Format string `yaml:"format" key:"log.format" desc:"Log format: text or json."`
	// Access writes one line per request (buffered, off the request path).
	Access bool `yaml:"access" key:"log.access" desc:"Log one line per request (user, method, path, repository, status, bytes, duration, request ID, client), written off the request path; lines are dropped, and counted, rather than slow a request."`
}

// Health is the readiness check behind /readyz: the blob and metadata
// stores are probed in the background, not per request.
type Health struct {
	Interval  time.Duration `yaml:"interval" key:"health.interval" desc:"How often the blob store (a write probe) and the metadata store are checked for /readyz."`
	Threshold int           `yaml:"threshold" key:"health.threshold" desc:"Consecutive failed checks of a store before /readyz answers 503 (one success makes it ready again)."`
	Timeout   time.Duration `yaml:"timeout" key:"health.timeout" desc:"Time each store check may take before it counts as failed."`
}

// Proxy is the pull-through cache: projects bound to an upstream
// registry (kept in the metadata store, see berth proxy) and the mirror
// listener the Docker engine's registry-mirrors setting points at.
type Proxy struct {
	TTL     time.Duration `yaml:"ttl" key:"proxy.ttl" desc:"How long a cached tag is served before it is revalidated against the upstream (a HEAD); a proxy project may set its own. Digests are never revalidated."`
	Timeout time.Duration `yaml:"timeout" key:"proxy.timeout" desc:"Time an upstream may take to answer a manifest request or start sending a blob; past it a cached copy is served (stale) if there is one."`
	Mirror  Mirror        `yaml:"mirror"`
}

// Mirror is the listener where every repository maps to one proxy project.
type Mirror struct {
	Addr    string `yaml:"addr" key:"proxy.mirror.addr" desc:"Listen address of the registry mirror (empty = none): there library/nginx is served as <proxy.mirror.project>/library/nginx, for the Docker engine's registry-mirrors setting. Same TLS, authentication and access rules as the main listener."`
	Project string `yaml:"project" key:"proxy.mirror.project" desc:"The proxy project the mirror listener serves (required with proxy.mirror.addr)."`
}

// Replication copies images to and from other registries by policy (the
// policies are kept in the metadata store, see berth replication).
type Replication struct {
	Enabled      bool          `yaml:"enabled" key:"replication.enabled" desc:"Run replication jobs on this node (the scheduler runs on one node of a cluster at a time). Off: policies can be managed, but nothing is copied here."`
	Workers      int           `yaml:"workers" key:"replication.workers" desc:"How many replication jobs this node runs at once."`
	PollInterval time.Duration `yaml:"poll_interval" key:"replication.poll_interval" desc:"How often idle workers look for due jobs, and the scheduler reads new pushes and deletes and checks the schedules."`
	RetryMin     time.Duration `yaml:"retry_min" key:"replication.retry_min" desc:"Wait before retrying a failed job; it doubles after each failed attempt up to replication.retry_max."`
	RetryMax     time.Duration `yaml:"retry_max" key:"replication.retry_max" desc:"Longest wait between two attempts at a job."`
	MaxAttempts  int           `yaml:"max_attempts" key:"replication.max_attempts" desc:"Attempts at a job before it fails for good."`
	History      time.Duration `yaml:"history" key:"replication.history" desc:"How long finished replication runs and their jobs are kept."`
}

// Scan is the built-in vulnerability scanner (the advisories are imported
// with berth vulndb import; see berth scan).
type Scan struct {
	Enabled      bool          `yaml:"enabled" key:"scan.enabled" desc:"Run scans on this node. Off: scans can still be queued and read and pulls are still decided under the projects' scan policies, but nothing is scanned here."`
	Workers      int           `yaml:"workers" key:"scan.workers" desc:"How many images this node scans at once."`
	OnPush       bool          `yaml:"on_push" key:"scan.on_push" desc:"Scan every image pushed (a project's scan policy can also ask for it)."`
	SBOMFormat   string        `yaml:"sbom_format" key:"scan.sbom_format" desc:"Attach each scanned image's SBOM to it as an OCI referrer in this format: spdx, cyclonedx, or none."`
	PollInterval time.Duration `yaml:"poll_interval" key:"scan.poll_interval" desc:"How often idle scan workers look for queued scans, and the outbox is read for pushes (a push or request on this node wakes them at once)."`
	RegistryURL  string        `yaml:"registry_url" key:"scan.registry_url" desc:"Where external scanners reach this registry to pull what they scan (empty = http.external_url, else http://127.0.0.1:<port of http.addr>)."`
}

// Default returns the configuration berth runs with when nothing is set.
func Default() Config {
	return Config{
		Version: 1,
		HTTP:    HTTP{Addr: "0.0.0.0:5000", ShutdownTimeout: 30 * time.Second, RateBurst: 100},
		Storage: Storage{
			Driver:              "filesystem",
			Path:                "./berth-data",
			DirectIO:            true,
			UploadMaxAge:        24 * time.Hour,
			UploadPurgeInterval: time.Hour,
			S3:                  S3{Region: "us-east-1", PathStyle: true, PartSize: 16 << 20, MaxConcurrency: 32, RedirectTTL: 15 * time.Minute},
		},
		Metadata: Metadata{Driver: "sqlite", Postgres: Postgres{MaxConns: 20, ConnMaxLifetime: 30 * time.Minute}},
		Registry: Registry{ManifestMaxSize: 4 << 20, ListMaxEntries: 10000, CacheSize: 16 << 20},
		Auth: Auth{
			Mode:               "local",
			CredentialCacheTTL: time.Minute,
			Token:              Token{Issuer: "berth", Service: "berth", TTL: 5 * time.Minute, RefreshTTL: 30 * 24 * time.Hour},
			Throttle:           Throttle{Failures: 10, Window: 5 * time.Minute, Lockout: time.Minute},
			LDAP: LDAP{
				UserFilter: "(&(objectClass=person)(uid={username}))", GroupFilter: "(&(objectClass=groupOfNames)(member={dn}))",
				GroupAttribute: "cn", RequestTimeout: 10 * time.Second,
			},
		},
		Audit:     Audit{Retention: 90 * 24 * time.Hour},
		GC:        GC{Scheduled: true, Interval: 24 * time.Hour, Grace: time.Hour, DeleteUntagged: true, DeleteOrphanReferrers: true},
		Retention: Retention{Scheduled: true, Interval: 24 * time.Hour},
		Metrics:   Metrics{Enabled: true},
		Verify:    Verify{Scheduled: true, Interval: 7 * 24 * time.Hour, Rate: 50 << 20},
		Log:       Log{Level: "info", Format: "text", Access: true},
		Health:    Health{Interval: 10 * time.Second, Threshold: 2, Timeout: 5 * time.Second},
		Proxy:     Proxy{TTL: 10 * time.Minute, Timeout: 30 * time.Second},
		Replication: Replication{Enabled: true, Workers: 2, PollInterval: time.Second, RetryMin: 2 * time.Second,
			RetryMax: 5 * time.Minute, MaxAttempts: 10, History: 30 * 24 * time.Hour},
		Scan: Scan{Enabled: true, Workers: 1, SBOMFormat: "spdx", PollInterval: 2 * time.Second},
	}
}
