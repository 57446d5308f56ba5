package mem_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/blob/mem"
)

func TestProbe(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		wantErr bool
	}{
		{"live context", context.Background(), false},
		{"cancelled context", cancelled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := mem.New().Probe(tt.ctx); (err != nil) != tt.wantErr {
				t.Fatalf("Probe = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
