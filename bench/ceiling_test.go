package main

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"testing"
)

func TestCeilingDigest(t *testing.T) {
	for _, tt := range []struct {
		chunk string
		size  int64
		want  string
	}{
		{"abc", 3, "abc"},
		{"abc", 7, "abcabca"},
		{"abc", 1, "a"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			want := sha256.Sum256([]byte(tt.want))
			if got := ceilingDigest([]byte(tt.chunk), tt.size); !bytes.Equal(got, want[:]) {
				t.Errorf("ceilingDigest(%q, %d) = %x, want %x", tt.chunk, tt.size, got, want)
			}
		})
	}
}

func TestPullCeiling(t *testing.T) {
	got, err := pullCeiling(t.Context(), http.DefaultTransport.(*http.Transport).Clone(), 5<<20, seedFor(1, kindCeiling))
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0 {
		t.Errorf("ceiling %v MiB/s, want a rate", got)
	}
}

func TestCeilingLine(t *testing.T) {
	rep := func(label string, kv ...any) *Report {
		r := &Report{Label: label}
		for i := 0; i < len(kv); i += 2 {
			r.Metrics = append(r.Metrics, Metric{Key: kv[i].(string), Value: kv[i+1].(float64)})
		}
		return r
	}
	for _, tt := range []struct {
		name      string
		ref, cand *Report
		want, not []string // want nil: no line
	}{
		{"no pull", rep("reference"), rep("berth", "pull.ceiling_mibps", 1600.0), nil, nil},
		{"no ceiling", rep("reference", "pull.mibps", 1000.0), rep("berth", "pull.mibps", 900.0), nil, nil},
		{"out of reach", rep("reference", "pull.mibps", 1400.0), rep("berth", "pull.ceiling_mibps", 1610.0),
			[]string{"1610 MiB/s", "berth's slot", "more than 1.15×", "≥1.3× target is out of reach"}, nil},
		{"within reach", rep("reference", "pull.mibps", 1000.0), rep("berth", "pull.ceiling_mibps", 1600.0),
			[]string{"more than 1.60×"}, []string{"out of reach"}},
		{"reference's slot", rep("reference", "pull.mibps", 1000.0, "pull.ceiling_mibps", 1500.0), rep("berth"),
			[]string{"reference's slot", "1.50×"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkLine(t, "ceilingLine", ceilingLine(tt.ref, tt.cand), tt.want, tt.not)
		})
	}
}
