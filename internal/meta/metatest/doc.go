// Package metatest is the conformance suite every meta.Store implementation
// passes: call Run from the implementation's tests with a constructor that
// returns a fresh, empty store. It covers every method of meta.Tx, rollback,
// concurrent Updates and View snapshots; stores whose Reader also implements
// RefsReader get their manifest references checked as well.
package metatest
