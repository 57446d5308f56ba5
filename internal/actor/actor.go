// Package actor carries who is making a request, and from where, through
// a context: the HTTP layer puts it there once authentication is done, and
// whoever records an audit event reads it.
package actor

import "context"

// Actor is the caller of a request.
type Actor struct {
	Name string // user or robot name; "" anonymous
	Kind string // "user", "robot"; "" anonymous
	Addr string // client address
}

type key struct{}

// With returns ctx carrying a; a Slot that ctx tracks (see Track) records a.
func With(ctx context.Context, a Actor) context.Context {
	if s, ok := ctx.Value(slotKey{}).(*Slot); ok && s != nil {
		s.a = a
	}
	return context.WithValue(ctx, key{}, a)
}

// Behalf returns ctx carrying a for work done on behalf of a request by
// someone else (the pull-through cache filling itself): unlike With, the
// request's Slot keeps the request's own actor.
func Behalf(ctx context.Context, a Actor) context.Context {
	return context.WithValue(context.WithValue(ctx, slotKey{}, (*Slot)(nil)), key{}, a)
}

// Slot receives the actor that handlers further down find for a request,
// so that a middleware that ran before them (the access log) can read it
// afterwards. It is written and read on the request's goroutine.
type Slot struct{ a Actor }

// Actor is the last actor With put in a context derived from the tracking
// one (the zero Actor when none was).
func (s *Slot) Actor() Actor { return s.a }

type slotKey struct{}

// Track returns ctx carrying s: every With on it, or on a context derived
// from it, also stores its actor in s.
func Track(ctx context.Context, s *Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// From returns the actor of ctx (the zero Actor when none was set).
func From(ctx context.Context) Actor {
	a, _ := ctx.Value(key{}).(Actor)
	return a
}
