// Package replicate copies images between this registry and remote ones by
// policy: push (from here to a remote registry) or pull (from a remote
// registry into here), for the repositories a glob names, optionally only
// tags matching a pattern and images carrying a label.
//
// Work goes through a durable queue in the metadata store
// (replication_jobs): a trigger (a manual run, a cron schedule, or pushes
// and deletes read from the outbox) makes a run and queues its jobs; workers
// on any node claim due jobs one at a time under a lease, so two nodes never
// run the same job and a job whose node died goes back to the queue when its
// lease ends. A failed attempt is retried with exponential backoff until
// MaxAttempts. Manual and scheduled runs queue one "expand" job, which lists
// what the policy covers and queues a copy job per tag.
//
// The copying itself is internal/transfer's: digests are kept, an index
// travels with all its platforms, the referrers of each image (signatures,
// SBOMs) travel with it, and blobs the destination has are not sent again.
// The local registry is reached through its own HTTP handler in process
// (Local), so every write goes through the registry service as a client's
// would. A policy's jobs share its connections to both sides (one ping, one
// token) for up to connTTL; a failed job drops them.
//
// The event trigger and the schedule run on one node of a cluster at a
// time (a jobs lease); the event trigger reads the outbox after each push
// policy's cursor and queues the jobs and advances the cursor in one
// transaction, so an event is never lost nor turned into jobs twice.
package replicate
