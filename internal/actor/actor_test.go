package actor

import (
	"context"
	"testing"
)

func TestWithFrom(t *testing.T) {
	if got := From(context.Background()); got != (Actor{}) {
		t.Fatalf("From(empty) = %+v", got)
	}
	a := Actor{Name: "alice", Kind: "user", Addr: "192.0.2.1"}
	if got := From(With(context.Background(), a)); got != a {
		t.Fatalf("From(With(a)) = %+v", got)
	}
}
