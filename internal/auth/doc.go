// Package auth decides who a caller is and what it may do.
//
// Authentication: local users (bcrypt passwords in the metadata store),
// robot accounts ("robot$project+name", "robot$name") and an optional
// htpasswd file, tried in that order; verified credentials are cached by a
// hash of them for a short time so a pull does not pay a bcrypt per request.
//
// Tokens: berth is its own Docker token service. Tokens are ES256 JWTs
// carrying the granted access (the Docker token format); the signing keys
// live in the metadata store so every node of a cluster shares them, and a
// retired key keeps verifying until it is deleted. Refresh tokens (the
// Docker engine's "identity token") are long-lived JWTs that stop working
// when the user's password changes or the user is disabled or deleted.
//
// Authorization: a repository's project is the first component of its name.
// System admins may do everything; anonymous callers may pull from public
// projects; users get what their project role allows; robots what their
// permissions list. The decision for a request is Access; Visible filters
// listings.
package auth
