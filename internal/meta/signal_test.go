package meta

import (
	"testing"
	"time"
)

func TestSignal(t *testing.T) {
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	}
	var s Signal
	s.Notify() // nobody waiting: no effect, no block
	a, b := s.C(), s.C()
	if closed(a) {
		t.Fatal("channel closed before any Notify after it was taken")
	}
	s.Notify()
	if !closed(a) || !closed(b) {
		t.Fatal("Notify did not wake every waiter")
	}
	if c := s.C(); closed(c) {
		t.Fatal("a channel taken after the Notify is already closed")
	}
}
