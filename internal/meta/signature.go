package meta

import "time"

// SignaturePolicy makes pulls of the manifests in the repositories of
// Project matching Repositories require a valid signature by one of its
// keys or certificates. Of the policies of a project, the one whose
// Repositories is the longest match governs a repository ("" matches every
// repository of the project).
type SignaturePolicy struct {
	ID           int64 // assigned by the store
	Project      string
	Repositories string // pattern (docs/patterns.md) of whole repository names; "" = all
	// DryRun records and logs what would be refused, and refuses nothing.
	DryRun bool
	// Keys are cosign public keys (PEM); Certificates a notation trust
	// store (PEM); Identities notation's trusted identities
	// ("x509.subject: C=…, ST=…, O=…"; none = any identity the trust store
	// vouches for).
	Keys         string
	Certificates string
	Identities   []string
	// Version grows with every change (verdicts are cached per version).
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

type SignaturePolicyReader interface {
	// SignaturePolicies returns the policies of project ("" = of every
	// project) in ID order.
	SignaturePolicies(project string) ([]SignaturePolicy, error)
	// SignaturePolicy returns the policy with the id, or ErrNotFound.
	SignaturePolicy(id int64) (SignaturePolicy, error)
}

type SignaturePolicyWriter interface {
	// AddSignaturePolicy stores p (Version 1) and returns its ID;
	// ErrNotFound when the project does not exist, ErrExists when the
	// project has a policy with the same Repositories.
	AddSignaturePolicy(p SignaturePolicy) (int64, error)
	// UpdateSignaturePolicy replaces the policy p.ID's settings (not its
	// project or creation time) and increments its Version; ErrNotFound, or
	// ErrExists when Repositories collides with another policy's.
	UpdateSignaturePolicy(p SignaturePolicy) error
	// DeleteSignaturePolicy removes the policy; ErrNotFound if none.
	DeleteSignaturePolicy(id int64) error
}
