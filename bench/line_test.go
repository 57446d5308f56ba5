package main

import (
	"strings"
	"testing"
)

// checkLine checks a note printed under the comparison table: with want
// nil, that there is none; otherwise that it holds every string of want
// and none of not.
func checkLine(t *testing.T, name, got string, want, not []string) {
	t.Helper()
	if want == nil {
		if got != "" {
			t.Errorf("%s = %q, want none", name, got)
		}
		return
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, missing %q", name, got, w)
		}
	}
	for _, w := range not {
		if strings.Contains(got, w) {
			t.Errorf("%s = %q, should not say %q", name, got, w)
		}
	}
}
