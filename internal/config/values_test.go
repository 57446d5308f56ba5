package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "512MiB", want: 512 << 20},
		{in: "4MB", want: 4_000_000},
		{in: "1GiB", want: 1 << 30},
		{in: "1gib", want: 1 << 30},
		{in: "2 KiB", want: 2048},
		{in: "3kB", want: 3000},
		{in: "10B", want: 10},
		{in: " 7TiB ", want: 7 << 40},
		{in: "-1", want: -1},
		{in: "", wantErr: "invalid size"},
		{in: "MiB", wantErr: "invalid size"},
		{in: "1.5GiB", wantErr: "invalid size"},
		{in: "12XB", wantErr: "invalid size"},
		{in: "10 M", wantErr: "invalid size"},
		{in: "-", wantErr: "invalid size"},
		{in: "99999999999999999999", wantErr: "invalid size"},
		{in: "9000000TiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{1500, "1500"},
		{4 << 20, "4MiB"},
		{3 << 10, "3KiB"},
		{5 << 30, "5GiB"},
		{2 << 40, "2TiB"},
		{math.MaxInt64, "9223372036854775807"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := FormatSize(tt.n)
			if got != tt.want {
				t.Fatalf("FormatSize(%d) = %q, want %q", tt.n, got, tt.want)
			}
			back, err := ParseSize(got)
			if err != nil || back != tt.n {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", got, back, err, tt.n)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "30s"},
		{time.Minute, "1m"},
		{time.Hour, "1h"},
		{24 * time.Hour, "24h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{500 * time.Millisecond, "500ms"},
		{0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := formatDuration(tt.d)
			if got != tt.want {
				t.Fatalf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
			}
			if back, err := parseDuration(got); err != nil || back != tt.d {
				t.Fatalf("parseDuration(%q) = %v, %v", got, back, err)
			}
		})
	}
}
