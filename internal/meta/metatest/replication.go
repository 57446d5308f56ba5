package metatest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var replicationTests = []test{
	{"replication policies: add, read, update, unique names, cursor, delete", func(t *testing.T, s meta.Store) {
		created := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "a/b", Digest: digest.FromString("r"), CreatedAt: created})
		})
		p := meta.ReplicationPolicy{Name: "to-dr", Enabled: true, Direction: meta.ReplicationPush, RemoteURL: "https://dr.example",
			Username: "u", Password: []byte("sb1:sealed"), Insecure: true, Repositories: "prod/**", Tags: "v*", Label: "tier=gold",
			Prefix: "mirror", Schedule: "*/5 * * * *", OnEvent: true, Deletes: true, Bandwidth: 1 << 20, Concurrency: 3, CreatedAt: created}
		var id int64
		update(t, s, func(tx meta.Tx) error {
			var err error
			if id, err = tx.AddReplicationPolicy(p); err != nil {
				return err
			}
			if _, err := tx.AddReplicationPolicy(p); !errors.Is(err, meta.ErrExists) {
				t.Errorf("second policy of the same name: %v, want ErrExists", err)
			}
			return nil
		})
		var got meta.ReplicationPolicy
		view(t, s, func(r meta.Reader) error {
			var err error
			got, err = r.ReplicationPolicy(id)
			return err
		})
		want := p
		want.ID, want.LastScheduled = id, created
		want.Cursor = got.Cursor
		if got.Cursor < 1 || !reflect.DeepEqual(got, want) {
			t.Fatalf("policy = %+v, want %+v (cursor at the newest event)", got, want)
		}
		update(t, s, func(tx meta.Tx) error {
			other := p
			other.Name = "other"
			oid, err := tx.AddReplicationPolicy(other)
			if err != nil {
				return err
			}
			got.Name = "other"
			if err := tx.UpdateReplicationPolicy(got); !errors.Is(err, meta.ErrExists) {
				t.Errorf("rename onto a taken name: %v", err)
			}
			got.Name, got.Enabled, got.Tags, got.Password = "renamed", false, "", []byte{}
			if err := tx.UpdateReplicationPolicy(got); err != nil {
				return err
			}
			if err := tx.AdvanceReplicationCursor(id, got.Cursor+5); err != nil {
				return err
			}
			if err := tx.AdvanceReplicationCursor(id, 1); err != nil { // never back
				return err
			}
			if err := tx.SetReplicationScheduled(id, created.Add(time.Hour)); err != nil {
				return err
			}
			wantNotFound(t, "UpdateReplicationPolicy of a missing id", tx.UpdateReplicationPolicy(meta.ReplicationPolicy{ID: oid + 10, Name: "x"}))
			return tx.DeleteReplicationPolicy(oid)
		})
		view(t, s, func(r meta.Reader) error {
			ps, err := r.ListReplicationPolicies()
			if err != nil {
				return err
			}
			if len(ps) != 1 || ps[0].Name != "renamed" || ps[0].Enabled || ps[0].Tags != "" || ps[0].Cursor != got.Cursor+5 ||
				!ps[0].LastScheduled.Equal(created.Add(time.Hour)) || len(ps[0].Password) != 0 {
				t.Errorf("after the updates: %+v", ps)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "DeleteReplicationPolicy of a missing id", tx.DeleteReplicationPolicy(id+100))
			return tx.DeleteReplicationPolicy(id)
		})
		view(t, s, func(r meta.Reader) error {
			_, err := r.ReplicationPolicy(id)
			wantNotFound(t, "deleted policy", err)
			return nil
		})
	}},
	{"replication queue: runs, claims, retries, leases, history", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		var pid, run int64
		update(t, s, func(tx meta.Tx) error {
			var err error
			if pid, err = tx.AddReplicationPolicy(meta.ReplicationPolicy{Name: "p", Direction: "push", RemoteURL: "r", Repositories: "**", CreatedAt: t0}); err != nil {
				return err
			}
			run, err = tx.AddReplicationRun(meta.ReplicationRun{Policy: pid, Trigger: meta.TriggerEvent, StartedAt: t0}, []meta.ReplicationJob{
				{Action: meta.JobCopy, Repository: "a", Reference: "v1", EventAt: t0.Add(-time.Second), CreatedAt: t0},
				{Action: meta.JobDelete, Repository: "a", Reference: "v0", CreatedAt: t0, NextAttemptAt: t0.Add(time.Minute)},
			})
			return err
		})
		claim := func(holder string, now time.Time) (meta.ReplicationJob, bool) {
			var (
				j  meta.ReplicationJob
				ok bool
			)
			update(t, s, func(tx meta.Tx) error {
				var err error
				j, ok, err = tx.ClaimReplicationJob(holder, now, 10*time.Second)
				return err
			})
			return j, ok
		}
		view(t, s, func(r meta.Reader) error {
			n, err := r.ReplicationJobsDue(t0)
			if n != 1 {
				t.Errorf("due at t0 = %d, want 1", n)
			}
			return err
		})
		j, ok := claim("w1", t0)
		if !ok || j.Reference != "v1" || j.State != meta.JobRunning || j.Attempts != 1 || j.LeaseHolder != "w1" ||
			!j.LeaseUntil.Equal(t0.Add(10*time.Second)) || j.Run != run || j.Policy != pid || !j.EventAt.Equal(t0.Add(-time.Second)) {
			t.Fatalf("claimed %+v, %v", j, ok)
		}
		if _, ok := claim("w2", t0); ok {
			t.Fatal("a second job was due before its time")
		}
		// Another holder cannot finish or renew it.
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "renew by another holder", tx.RenewReplicationJob(j.ID, "w2", t0.Add(time.Minute)))
			wantNotFound(t, "finish by another holder", tx.FinishReplicationJob(meta.ReplicationJob{ID: j.ID, State: meta.JobSucceeded}, "w2"))
			j.State, j.Error, j.NextAttemptAt = meta.JobQueued, "connection refused", t0.Add(2*time.Second)
			return tx.FinishReplicationJob(j, "w1")
		})
		if _, ok := claim("w2", t0.Add(time.Second)); ok {
			t.Fatal("claimed a job during its backoff")
		}
		j, ok = claim("w2", t0.Add(3*time.Second))
		if !ok || j.Attempts != 2 || j.Error != "connection refused" {
			t.Fatalf("retry claimed %+v, %v", j, ok)
		}
		// w2 dies: the lease ends and the job is queued again.
		update(t, s, func(tx meta.Tx) error {
			n, err := tx.RequeueExpiredReplicationJobs(t0.Add(5 * time.Second))
			if n != 0 {
				t.Errorf("requeued %d jobs before the lease ended", n)
			}
			if err != nil {
				return err
			}
			n, err = tx.RequeueExpiredReplicationJobs(t0.Add(time.Minute))
			if n != 1 {
				t.Errorf("requeued %d jobs, want 1", n)
			}
			return err
		})
		view(t, s, func(r meta.Reader) error {
			rn, err := r.ReplicationRun(run)
			if err != nil {
				return err
			}
			if rn.State != meta.JobRunning || rn.Jobs != 2 || rn.Pending != 2 || !rn.FinishedAt.IsZero() {
				t.Errorf("run while pending: %+v", rn)
			}
			return nil
		})
		j, ok = claim("w3", t0.Add(2*time.Minute))
		if !ok || j.Attempts != 3 {
			t.Fatalf("after the requeue %+v, %v", j, ok)
		}
		update(t, s, func(tx meta.Tx) error {
			j.State, j.FinishedAt, j.Images, j.Bytes, j.Result, j.Error = meta.JobSucceeded, t0.Add(3*time.Minute), 1, 4096, "copied", ""
			if err := tx.FinishReplicationJob(j, "w3"); err != nil {
				return err
			}
			return tx.AddReplicationJobs(run, []meta.ReplicationJob{{Action: meta.JobCopy, Repository: "b", Reference: "v2", CreatedAt: t0}})
		})
		for _, ref := range []string{"v2", "v0"} { // by next attempt time
			j, ok := claim("w3", t0.Add(4*time.Minute))
			if !ok || j.Reference != ref {
				t.Fatalf("claimed %+v, %v; want %s", j, ok, ref)
			}
			update(t, s, func(tx meta.Tx) error {
				j.State, j.FinishedAt, j.Error = meta.JobFailed, t0.Add(5*time.Minute), "refused"
				if ref == "v2" {
					j.State, j.Error, j.Images, j.Bytes = meta.JobSucceeded, "", 1, 100
				}
				return tx.FinishReplicationJob(j, "w3")
			})
		}
		view(t, s, func(r meta.Reader) error {
			rn, err := r.ReplicationRun(run)
			if err != nil {
				return err
			}
			want := meta.ReplicationRun{ID: run, Policy: pid, Trigger: meta.TriggerEvent, StartedAt: t0, FinishedAt: t0.Add(5 * time.Minute),
				State: meta.JobFailed, Jobs: 3, Failed: 1, Images: 2, Bytes: 4196}
			if !reflect.DeepEqual(rn, want) {
				t.Errorf("run = %+v, want %+v", rn, want)
			}
			runs, err := r.ReplicationRuns(pid, 0, 10)
			if err != nil || len(runs) != 1 || runs[0] != rn {
				t.Errorf("runs of the policy = %+v, %v", runs, err)
			}
			if all, err := r.ReplicationRuns(0, run, 10); err != nil || len(all) != 0 {
				t.Errorf("runs before the first = %+v, %v", all, err)
			}
			jobs, err := r.ReplicationJobs(run)
			if err != nil || len(jobs) != 3 || jobs[0].Result != "copied" || jobs[0].Bytes != 4096 || jobs[1].Error != "refused" {
				t.Errorf("jobs = %+v, %v", jobs, err)
			}
			_, err = r.ReplicationRun(run + 100)
			wantNotFound(t, "missing run", err)
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			n, err := tx.DeleteReplicationRunsBefore(t0)
			if n != 0 {
				t.Errorf("deleted %d runs started at the limit", n)
			}
			if err != nil {
				return err
			}
			n, err = tx.DeleteReplicationRunsBefore(t0.Add(time.Second))
			if n != 1 {
				t.Errorf("deleted %d runs, want 1", n)
			}
			return err
		})
		view(t, s, func(r meta.Reader) error {
			jobs, err := r.ReplicationJobs(run)
			if len(jobs) != 0 {
				t.Errorf("jobs of a deleted run remain: %+v", jobs)
			}
			return err
		})
	}},
	{"replication queue: concurrent claims never share a job", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		var jobs []meta.ReplicationJob
		for range 20 {
			jobs = append(jobs, meta.ReplicationJob{Action: meta.JobCopy, Repository: "a", Reference: "t", CreatedAt: t0})
		}
		update(t, s, func(tx meta.Tx) error {
			pid, err := tx.AddReplicationPolicy(meta.ReplicationPolicy{Name: "p", Direction: "push", RemoteURL: "r", Repositories: "**", CreatedAt: t0})
			if err != nil {
				return err
			}
			_, err = tx.AddReplicationRun(meta.ReplicationRun{Policy: pid, Trigger: meta.TriggerManual, StartedAt: t0}, jobs)
			return err
		})
		var (
			mu  sync.Mutex
			got = map[int64]string{}
			wg  sync.WaitGroup
		)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := string(rune('a' + w))
				for {
					var (
						j  meta.ReplicationJob
						ok bool
					)
					err := s.Update(ctx(t), func(tx meta.Tx) error {
						var err error
						j, ok, err = tx.ClaimReplicationJob(holder, t0, time.Minute)
						return err
					})
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					if !ok {
						var due int
						_ = s.View(ctx(t), func(r meta.Reader) error { due, err = r.ReplicationJobsDue(t0); return err })
						if due == 0 {
							return
						}
						continue
					}
					mu.Lock()
					if prev, dup := got[j.ID]; dup {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, holder)
					}
					got[j.ID] = holder
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(got) != 20 {
			t.Fatalf("claimed %d jobs, want 20", len(got))
		}
	}},
}
