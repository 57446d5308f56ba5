package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"
)

// berth's replication through its management API (/api/v1, system admins,
// Basic credentials): the bench adds a push policy with the event trigger
// before the replication scenario's pushes, reads back the lag berth
// recorded for each copy job, and removes the policy afterwards.

// replPolicyRequest is the body of POST /api/v1/replication/policies (the
// fields the bench sets).
type replPolicyRequest struct {
	Name         string `json:"name"`
	Direction    string `json:"direction"`
	URL          string `json:"url"`
	Insecure     bool   `json:"insecure"`
	Repositories string `json:"repositories"`
	OnEvent      bool   `json:"on_event"`
}

// replPolicy is the part of berth's answer the bench reads.
type replPolicy struct {
	ID           int64  `json:"id"`
	URL          string `json:"url"`
	Repositories string `json:"repositories"`
	OnEvent      bool   `json:"on_event"`
	Enabled      bool   `json:"enabled"`
}

// replRun is a replication run as GET /api/v1/replication/runs[/{id}]
// answers it.
type replRun struct {
	ID      int64     `json:"id"`
	Trigger string    `json:"trigger"`
	State   string    `json:"state"`
	JobList []replJob `json:"job_list"`
}

type replJob struct {
	Action     string  `json:"action"`
	Repository string  `json:"repository"`
	Reference  string  `json:"reference"`
	State      string  `json:"state"`
	Attempts   int     `json:"attempts"`
	LagSeconds float64 `json:"lag_seconds"`
	Error      string  `json:"error"`
}

// adminJSON sends a management API request (path may carry a query) with
// -user/-password as Basic credentials: in (when not nil) as the JSON body, the answer decoded into
// out (when not nil).
func (b *bench) adminJSON(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader = http.NoBody
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.c.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.o.user != "" {
		req.SetBasicAuth(b.o.user, b.o.password)
	}
	resp, err := b.c.do(req, want)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = drain(resp)
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// addReplicationPolicy adds the push policy the scenario measures: every
// repository under <prefix>/repl to -repl-dest over plain HTTP, on events.
func (b *bench) addReplicationPolicy(ctx context.Context) (replPolicy, error) {
	in := replPolicyRequest{
		Name:         replicationPolicyName(b.o.prefix),
		Direction:    "push",
		URL:          "http://" + b.o.replDest,
		Insecure:     true,
		Repositories: replicationPattern(b.o.prefix),
		OnEvent:      true,
	}
	var p replPolicy
	if err := b.adminJSON(ctx, http.MethodPost, "/api/v1/replication/policies", in, &p, http.StatusCreated); err != nil {
		return p, fmt.Errorf("add the replication policy: %w", err)
	}
	if p.ID == 0 || !p.OnEvent || !p.Enabled {
		return p, fmt.Errorf("add the replication policy: berth answered %+v, want an enabled policy with the event trigger", p)
	}
	return p, nil
}

// jobLags reads the lag berth recorded for each succeeded copy job of the
// policy's runs, waiting (up to 10 s) until want of them have finished:
// the destination may serve an image a moment before its job is marked
// done.
func (b *bench) jobLags(ctx context.Context, policy int64, want int) ([]time.Duration, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		lags, failed, err := b.readJobLags(ctx, policy)
		if err != nil {
			return nil, err
		}
		if failed > 0 {
			b.warn(fmt.Sprintf("replication: berth recorded %d failed copy job(s)", failed))
		}
		if len(lags) >= want || failed > 0 || time.Now().After(deadline) {
			if len(lags) < want {
				b.warn(fmt.Sprintf("replication: berth recorded %d succeeded copy job(s) for %d images", len(lags), want))
			}
			return lags, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readJobLags lists the policy's runs (newest first, paged with before=)
// and reads each one's jobs.
func (b *bench) readJobLags(ctx context.Context, policy int64) ([]time.Duration, int, error) {
	var runs []replRun
	before := int64(0)
	for {
		path := fmt.Sprintf("/api/v1/replication/runs?policy=%d&limit=1000", policy)
		if before > 0 {
			path += fmt.Sprintf("&before=%d", before)
		}
		var page []replRun
		if err := b.adminJSON(ctx, http.MethodGet, path, nil, &page, http.StatusOK); err != nil {
			return nil, 0, err
		}
		runs = append(runs, page...)
		if len(page) < 1000 {
			break
		}
		before = page[len(page)-1].ID
	}
	var jobs []replJob
	for _, r := range runs {
		var full replRun
		if err := b.adminJSON(ctx, http.MethodGet, fmt.Sprintf("/api/v1/replication/runs/%d", r.ID), nil, &full, http.StatusOK); err != nil {
			return nil, 0, err
		}
		jobs = append(jobs, full.JobList...)
	}
	lags, failed := copyJobLags(jobs)
	return lags, failed, nil
}

// copyJobLags returns the recorded lags of the succeeded copy jobs, sorted,
// and how many copy jobs failed.
func copyJobLags(jobs []replJob) ([]time.Duration, int) {
	var lags []time.Duration
	failed := 0
	for _, j := range jobs {
		if j.Action != "copy" {
			continue
		}
		switch j.State {
		case "succeeded":
			if j.LagSeconds > 0 {
				lags = append(lags, time.Duration(j.LagSeconds*float64(time.Second)))
			}
		case "failed":
			failed++
		}
	}
	sort.Slice(lags, func(i, k int) bool { return lags[i] < lags[k] })
	return lags, failed
}
