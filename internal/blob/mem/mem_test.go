package mem_test

import (
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/mem"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(*testing.T) blob.Store { return mem.New() })
}
