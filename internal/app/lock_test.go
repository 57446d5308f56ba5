package app

import (
	"errors"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

func TestLockData(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	release, err := LockData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockData(cfg); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock = %v, want ErrLocked", err)
	}
	release()
	again, err := LockData(cfg)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
	pg := cfg
	pg.Metadata.Driver = "postgres"
	r1, err1 := LockData(pg)
	r2, err2 := LockData(pg)
	if err1 != nil || err2 != nil {
		t.Fatalf("postgres needs no lock: %v, %v", err1, err2)
	}
	r1()
	r2()
}
