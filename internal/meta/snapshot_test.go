package meta

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	now := time.Unix(1000, 0)
	loads, fail := 0, false
	var stale []error
	s := &Snapshot[int]{TTL: 5 * time.Second, Now: func() time.Time { return now }, OnStale: func(err error) { stale = append(stale, err) },
		Load: func(context.Context) (int, error) {
			if fail {
				return 0, errors.New("store down")
			}
			loads++
			return loads, nil
		}}
	get := func() int {
		t.Helper()
		v, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, step := range []struct {
		name    string
		advance time.Duration
		fail    bool
		inval   bool
		want    int
	}{
		{"first read", 0, false, false, 1},
		{"within the TTL: cached", 4 * time.Second, false, false, 1},
		{"after the TTL: read again", 2 * time.Second, false, false, 2},
		{"invalidated: read again", 0, false, true, 3},
		{"reading fails: the last value", 10 * time.Second, true, false, 3},
	} {
		t.Run(step.name, func(t *testing.T) {
			now, fail = now.Add(step.advance), step.fail
			if step.inval {
				s.Invalidate()
			}
			if got := get(); got != step.want {
				t.Fatalf("Get = %d, want %d", got, step.want)
			}
		})
	}
	if len(stale) != 1 {
		t.Errorf("OnStale told %d times, want 1", len(stale))
	}
	empty := &Snapshot[int]{TTL: time.Second, Load: func(context.Context) (int, error) { return 0, errors.New("down") }}
	if _, err := empty.Get(context.Background()); err == nil {
		t.Error("a failed first read returned no error")
	}
}
