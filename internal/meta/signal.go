package meta

import "sync"

// Signal wakes every waiter at once: C returns a channel that the next
// Notify closes. Take the channel before looking for work, then wait on
// it, and nothing notified in between is missed. The zero value is ready.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns the channel the next Notify closes.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes everyone waiting on a channel C returned.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
