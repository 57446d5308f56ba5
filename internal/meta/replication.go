package meta

import "time"

// Replication directions.
const (
	ReplicationPush = "push" // from here to the remote registry
	ReplicationPull = "pull" // from the remote registry into here
)

// What starts a replication run.
const (
	TriggerManual = "manual"
	TriggerCron   = "cron"
	TriggerEvent  = "event"
)

// Replication job actions.
const (
	// JobExpand lists what a whole policy covers and queues a copy job
	// for each image it finds (manual and scheduled runs).
	JobExpand = "expand"
	JobCopy   = "copy"   // copy one tag or digest
	JobDelete = "delete" // delete one tag or digest at the destination
)

// Replication job states (and run states: a run is running while one of
// its jobs is queued or running, then failed if any failed).
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// ReplicationPolicy copies images between this registry and a remote one.
type ReplicationPolicy struct {
	ID        int64 // assigned by the store
	Name      string
	Enabled   bool
	Direction string // ReplicationPush or ReplicationPull
	// The remote registry: its URL (https://host[:port], http://… or a
	// bare host), credentials and whether its TLS certificate is checked.
	RemoteURL string
	Username  string
	Password  []byte // sealed by the caller (secretbox) when a key is configured
	Insecure  bool
	// Repositories is a glob of source repository names ("production/**");
	// Tags a glob of tags ("" = every tag); Label "key=value" an image
	// config label or manifest annotation the image must carry ("" = none).
	Repositories string
	Tags         string
	Label        string
	// Prefix is put before the repository name at the destination
	// ("" = the same name).
	Prefix string
	// Schedule is a cron expression ("" = not scheduled); OnEvent queues
	// jobs on pushes and deletes here (push policies only).
	Schedule string
	OnEvent  bool
	// Deletes propagates deletions (with OnEvent).
	Deletes bool
	// Bandwidth bounds the bytes per second to or from the remote (0 =
	// none); Concurrency the blobs copied at once (0 = the default).
	Bandwidth   int64
	Concurrency int
	CreatedAt   time.Time
	// Cursor is the last outbox event looked at; a new policy starts at
	// the newest. LastScheduled is when the schedule last fired (its
	// creation time before that).
	Cursor        int64
	LastScheduled time.Time
}

// ReplicationRun groups the jobs one trigger made. The counts and sums
// come from its jobs.
type ReplicationRun struct {
	ID        int64 // assigned by the store
	Policy    int64
	Trigger   string
	StartedAt time.Time
	// FinishedAt is when its last job ended (zero while any is pending).
	FinishedAt            time.Time
	State                 string // JobRunning, JobSucceeded or JobFailed
	Jobs, Pending, Failed int
	Images                int
	Bytes                 int64
}

// ReplicationJob is one unit of work in the durable queue.
type ReplicationJob struct {
	ID         int64 // assigned by the store
	Run        int64
	Policy     int64
	Action     string // JobExpand, JobCopy or JobDelete
	Repository string // the source repository ("" for JobExpand)
	Reference  string // a tag or a digest ("" for JobExpand)
	State      string
	Attempts   int
	// NextAttemptAt is when a queued job may run next.
	NextAttemptAt time.Time
	LeaseHolder   string
	LeaseUntil    time.Time
	// EventAt is when the change that queued it happened (event
	// trigger; zero otherwise): the replication lag is FinishedAt - EventAt.
	EventAt    time.Time
	CreatedAt  time.Time
	StartedAt  time.Time // the last attempt's start
	FinishedAt time.Time
	Images     int
	Bytes      int64
	Result     string // what was copied or deleted
	Error      string // the last attempt's error
}

// ReplicationReader reads replication policies, jobs and runs.
type ReplicationReader interface {
	// ReplicationPolicy returns the policy with the id, or ErrNotFound.
	ReplicationPolicy(id int64) (ReplicationPolicy, error)
	// ListReplicationPolicies returns every policy in ID order.
	ListReplicationPolicies() ([]ReplicationPolicy, error)
	// ReplicationRun returns the run with the id, or ErrNotFound.
	ReplicationRun(id int64) (ReplicationRun, error)
	// ReplicationRuns returns up to n runs of the policy (0 = of every
	// policy), newest first, with ID < before (0 = from the newest).
	ReplicationRuns(policy, before int64, n int) ([]ReplicationRun, error)
	// ReplicationJobs returns the jobs of a run in ID order.
	ReplicationJobs(run int64) ([]ReplicationJob, error)
	// ReplicationJobsDue counts the queued jobs that may run at now.
	ReplicationJobsDue(now time.Time) (int, error)
}

// ReplicationWriter writes replication policies, jobs and runs.
type ReplicationWriter interface {
	// AddReplicationPolicy stores p with its cursor at the newest outbox
	// event and returns its ID; ErrExists when the name is taken.
	AddReplicationPolicy(p ReplicationPolicy) (int64, error)
	// UpdateReplicationPolicy replaces the policy's settings (not its ID,
	// creation time, cursor or LastScheduled); ErrNotFound, or ErrExists
	// when the new name is taken.
	UpdateReplicationPolicy(p ReplicationPolicy) error
	// DeleteReplicationPolicy removes a policy with its runs and jobs;
	// ErrNotFound if there is none.
	DeleteReplicationPolicy(id int64) error
	// AdvanceReplicationCursor moves the policy's outbox cursor forward
	// (never back); ErrNotFound if there is no policy.
	AdvanceReplicationCursor(id, event int64) error
	// SetReplicationScheduled records when the policy's schedule fired.
	SetReplicationScheduled(id int64, at time.Time) error
	// AddReplicationRun stores a run of r.Policy with its jobs (queued)
	// and returns the run's ID.
	AddReplicationRun(r ReplicationRun, jobs []ReplicationJob) (int64, error)
	// AddReplicationJobs queues more jobs in an existing run.
	AddReplicationJobs(run int64, jobs []ReplicationJob) error
	// ClaimReplicationJob takes the oldest due queued job for holder until
	// now+ttl, counting an attempt; ok is false when there is none. Two
	// callers never get the same job.
	ClaimReplicationJob(holder string, now time.Time, ttl time.Duration) (job ReplicationJob, ok bool, err error)
	// RenewReplicationJob extends holder's lease on a running job;
	// ErrNotFound when holder no longer has it.
	RenewReplicationJob(id int64, holder string, until time.Time) error
	// FinishReplicationJob records the outcome of holder's attempt at
	// j.ID: j.State is JobSucceeded or JobFailed (with FinishedAt, Images,
	// Bytes, Result, Error), or JobQueued to retry at j.NextAttemptAt
	// (with Error). ErrNotFound when holder no longer has the job.
	FinishReplicationJob(j ReplicationJob, holder string) error
	// RequeueExpiredReplicationJobs puts back in the queue the running
	// jobs whose lease ended before now (their node died).
	RequeueExpiredReplicationJobs(now time.Time) (int, error)
	// DeleteReplicationRunsBefore removes the runs started before t whose
	// jobs have all ended, with their jobs.
	DeleteReplicationRunsBefore(t time.Time) (int, error)
}
