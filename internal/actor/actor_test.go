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

func TestTrack(t *testing.T) {
	tests := []struct {
		name string
		set  []Actor
		want Actor
	}{
		{"nothing set", nil, Actor{}},
		{"one actor", []Actor{{Name: "alice", Kind: "user"}}, Actor{Name: "alice", Kind: "user"}},
		{"the last one wins", []Actor{{Addr: "192.0.2.1"}, {Name: "ci", Kind: "robot", Addr: "192.0.2.1"}}, Actor{Name: "ci", Kind: "robot", Addr: "192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Slot
			ctx := Track(context.Background(), &s)
			ctx, cancel := context.WithCancel(ctx) // a derived context still reaches the slot
			defer cancel()
			for _, a := range tt.set {
				ctx = With(ctx, a)
			}
			if got := s.Actor(); got != tt.want {
				t.Fatalf("slot holds %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBehalfKeepsTheSlot(t *testing.T) {
	var s Slot
	ctx := With(Track(context.Background(), &s), Actor{Name: "alice", Kind: "user"})
	sys := With(Behalf(ctx, Actor{Name: "proxy", Kind: "system"}), Actor{Name: "proxy2", Kind: "system"})
	if got := From(sys).Name; got != "proxy2" {
		t.Errorf("From(behalf) = %q, want proxy2", got)
	}
	if got := s.Actor().Name; got != "alice" {
		t.Errorf("slot = %q after Behalf, want alice", got)
	}
}
