// Package archtest holds one test: the import rule of ARCHITECTURE.md.
// Packages sit in layers (leaf types → drivers and ports → core → features →
// edges → app) and may import only packages of a lower layer (or their own
// subpackages' suites in tests).
package archtest
