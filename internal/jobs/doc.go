// Package jobs runs scheduled work once across a cluster of berth nodes.
// Every node runs the same Scheduler over the shared metadata store; a job
// runs on whichever node holds its lease, renews the lease while it runs,
// and a node that dies lets its lease expire so another node takes over.
package jobs
