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

// With returns ctx carrying a.
func With(ctx context.Context, a Actor) context.Context { return context.WithValue(ctx, key{}, a) }

// From returns the actor of ctx (the zero Actor when none was set).
func From(ctx context.Context) Actor {
	a, _ := ctx.Value(key{}).(Actor)
	return a
}
