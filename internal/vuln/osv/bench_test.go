package osv

import "testing"

func BenchmarkAffectsGo(b *testing.B) {
	v, err := Parse([]byte(goRecord))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := v.Affects("Go", "stdlib", "v1.21.2"); !ok {
			b.Fatal("not affected")
		}
	}
}

func BenchmarkAffectsDebian(b *testing.B) {
	v, err := Parse([]byte(debianRecord))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := v.Affects("Debian:12", "libfoo", "1.2.3-1"); !ok {
			b.Fatal("not affected")
		}
	}
}
