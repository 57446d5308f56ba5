// Package api is berth's management API under /api/v1: users, projects,
// members and robot accounts, as JSON over HTTP. Callers authenticate with
// Basic credentials or a token from /token; the same permission model as
// the registry guards every call (internal/auth does the deciding; this
// package only speaks HTTP). Errors have the registry's shape:
// {"errors":[{"code":..., "message":...}]}.
package api
