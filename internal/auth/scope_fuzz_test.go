package auth

import (
	"slices"
	"testing"
)

// FuzzParseScope: no input makes ParseScope panic, and a parsed scope
// formats back to a string that parses to the same scope.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:team/app:pull,push", "registry:catalog:*", "repository(plugin):a:pull", "a:b:c", "::", "x:y:,,", "repository:host:5000/a:pull"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := ParseScope(s)
		if !ok {
			return
		}
		if sc.Type == "" || sc.Name == "" || len(sc.Actions) == 0 {
			t.Fatalf("ParseScope(%q) accepted an empty part: %+v", s, sc)
		}
		again, ok := ParseScope(sc.String())
		if !ok || again.Type != sc.Type || again.Name != sc.Name || !slices.Equal(again.Actions, sc.Actions) {
			t.Fatalf("ParseScope(%q) = %+v, but its String %q parses to %+v, %v", s, sc, sc.String(), again, ok)
		}
	})
}
