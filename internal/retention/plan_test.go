package retention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func dg(s string) digest.Digest { return digest.FromString(s) }

// img is a manifest of 100 bytes with one layer of its own ("<name>-layer",
// 1000 bytes) and a shared config ("config", 10 bytes), pushed at t.
func img(name string, t time.Time) meta.ManifestSummary {
	return meta.ManifestSummary{Digest: dg(name), Size: 100, CreatedAt: t, Blobs: slices.Sorted(slices.Values([]digest.Digest{dg("config"), dg(name + "-layer")}))}
}

func sizesOf(names ...string) map[digest.Digest]int64 {
	m := map[digest.Digest]int64{dg("config"): 10}
	for _, n := range names {
		m[dg(n+"-layer")] = 1000
	}
	return m
}

func tag(name, manifest string, t time.Time) meta.TagDetail {
	return meta.TagDetail{Name: name, Digest: dg(manifest), UpdatedAt: t}
}

// fiveVersions is team/app with v1..v5 pushed a day apart (v5 newest),
// each on its own manifest.
func fiveVersions() Repo {
	r := Repo{Name: "team/app"}
	for i := 1; i <= 5; i++ {
		n := fmt.Sprintf("v%d", i)
		r.Manifests = append(r.Manifests, img(n, ago(time.Duration(10-i)*day)))
		r.Tags = append(r.Tags, tag(n, n, ago(time.Duration(10-i)*day)))
	}
	return r
}

func rule(kind, repos, tags string, count int, age time.Duration) meta.RetentionRule {
	return meta.RetentionRule{ID: 1, Project: "team", Repositories: repos, Tags: tags, Kind: kind, Count: count, Age: age}
}

// summary writes a plan's removals as "repo@name[tags]+m" lines (+m: the
// manifest goes), naming digests by the test's names.
func summary(p Plan, names map[digest.Digest]string) []string {
	var out []string
	for _, r := range p.Removals {
		s := fmt.Sprintf("%s@%s[%s]", r.Repository, names[r.Digest], strings.Join(r.Tags, ","))
		if r.Manifest {
			s += "+m"
		}
		out = append(out, s)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	names := map[digest.Digest]string{}
	for _, n := range []string{"v1", "v2", "v3", "v4", "v5", "idx", "child", "sig", "loose", "old", "pulled", "young", "other"} {
		names[dg(n)] = n
	}
	withIndex := func() Repo {
		r := Repo{Name: "team/multi"}
		idx := meta.ManifestSummary{Digest: dg("idx"), Size: 300, CreatedAt: ago(30 * day), Children: []digest.Digest{dg("child")}}
		r.Manifests = []meta.ManifestSummary{img("child", ago(30*day)), idx}
		r.Tags = []meta.TagDetail{tag("v1", "idx", ago(30*day)), tag("c1", "child", ago(30*day)), tag("v2", "v2", ago(day))}
		r.Manifests = append(r.Manifests, img("v2", ago(day)))
		return r
	}
	cases := []struct {
		name    string
		rules   []meta.RetentionRule
		repos   []Repo
		want    []string
		skips   []string
		wantErr bool
		ordered bool // compare in order (else as sets)
	}{
		{
			name:  "keep-last 2 of 5 removes the 3 oldest tags and their manifests",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/**", "**", 2, 0)},
			repos: []Repo{fiveVersions()},
			want:  []string{"team/app@v1[v1]+m", "team/app@v2[v2]+m", "team/app@v3[v3]+m"},
		},
		{
			name:  "keep-last counts the push time of the tag, not of the manifest",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/app", "*", 1, 0)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				r.Tags[0].UpdatedAt = ago(time.Minute) // v1 moved (re-pushed) just now
				return r
			}()},
			want: []string{"team/app@v2[v2]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m", "team/app@v5[v5]+m"},
		},
		{
			name: "a tag any rule keeps stays (keep-last 1 plus keep-tags v1*)",
			rules: []meta.RetentionRule{
				rule(meta.RetainLast, "team/**", "**", 1, 0),
				rule(meta.RetainTags, "team/**", "v1*", 0, 0),
			},
			repos: []Repo{fiveVersions()},
			want:  []string{"team/app@v2[v2]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m"},
		},
		{
			name:  "keep-tags keeps only what matches",
			rules: []meta.RetentionRule{rule(meta.RetainTags, "team/**", "v?", 0, 0)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				r.Tags = append(r.Tags, tag("v10", "v5", now), tag("dev-1", "v4", now))
				return r
			}()},
			want: []string{"team/app@v4[dev-1]", "team/app@v5[v10]"},
		},
		{
			name:    "a rule with a refused pattern fails the plan",
			rules:   []meta.RetentionRule{rule(meta.RetainTags, "team/**", "v[12]", 0, 0)},
			repos:   []Repo{fiveVersions()},
			wantErr: true,
		},
		{
			name:  "keep-last only counts tags matching its pattern; the others are kept by no rule",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/**", "v?", 1, 0)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				r.Tags = append(r.Tags, tag("latest", "v5", now))
				return r
			}()},
			// latest is no v? tag: no rule keeps it; v5 keeps its manifest.
			want: []string{"team/app@v1[v1]+m", "team/app@v2[v2]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m", "team/app@v5[latest]"},
		},
		{
			name:  "a manifest keeps the tags it has left",
			rules: []meta.RetentionRule{rule(meta.RetainTags, "team/**", "stable", 0, 0)},
			repos: []Repo{{Name: "team/app", Manifests: []meta.ManifestSummary{img("v1", ago(day))},
				Tags: []meta.TagDetail{tag("stable", "v1", ago(day)), tag("v1", "v1", ago(day))}}},
			want: []string{"team/app@v1[v1]"},
		},
		{
			name:  "keep-pulled-within keeps a tag whose manifest was pulled, by any tag or digest, within the age",
			rules: []meta.RetentionRule{rule(meta.RetainPulledWithin, "team/**", "**", 0, 7*day)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				r.Pulls = []meta.PullCount{
					{Digest: dg("v2"), Tag: "", Pulls: 1, Last: ago(6 * day)},   // by digest, within
					{Digest: dg("v3"), Tag: "v3", Pulls: 9, Last: ago(8 * day)}, // too long ago
					{Digest: dg("v4"), Tag: "v4", Pulls: 1, Last: ago(30 * day)},
					{Digest: dg("v4"), Tag: "x", Pulls: 1, Last: ago(time.Hour)}, // the latest pull counts
				}
				return r
			}()},
			want: []string{"team/app@v1[v1]+m", "team/app@v3[v3]+m", "team/app@v5[v5]+m"},
		},
		{
			name:  "referrer tags are no versions: never counted, never removed",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/**", "**", 1, 0)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				sigTag := "sha256-" + dg("v1").Encoded() + ".sig"
				r.Manifests = append(r.Manifests, meta.ManifestSummary{Digest: dg("sig"), Size: 50, Subject: dg("v1"), CreatedAt: now})
				r.Tags = append(r.Tags, tag(sigTag, "sig", now), tag("sbom.att", "sig", now), tag("sha256-"+dg("v2").Encoded(), "sig", now))
				return r
			}()},
			want: []string{"team/app@v1[v1]+m", "team/app@v2[v2]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m"},
		},
		{
			name:  "an immutable tag is skipped and keeps its manifest",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/**", "**", 1, 0)},
			repos: []Repo{func() Repo {
				r := fiveVersions()
				r.Immutable = map[string]string{"v2": "team/** v2"}
				return r
			}()},
			want:  []string{"team/app@v1[v1]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m"},
			skips: []string{"team/app:v2 immutable (rule team/** v2)"},
		},
		{
			name:  "an index child loses its tag but stays; the index goes with its last tag",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/**", "**", 1, 0)},
			repos: []Repo{withIndex()},
			want:  []string{"team/multi@child[c1]", "team/multi@idx[v1]+m"},
		},
		{
			name:  "repositories no rule matches, and other projects' names, are untouched",
			rules: []meta.RetentionRule{rule(meta.RetainLast, "team/app", "**", 1, 0)},
			repos: []Repo{fiveVersions(), func() Repo { r := fiveVersions(); r.Name = "team/app2"; return r }()},
			want:  []string{"team/app@v1[v1]+m", "team/app@v2[v2]+m", "team/app@v3[v3]+m", "team/app@v4[v4]+m"},
		},
		{
			name:  "untagged-after removes old untagged manifests not pulled within the age",
			rules: []meta.RetentionRule{rule(meta.RemoveUntaggedAfter, "team/**", "**", 0, 7*day)},
			repos: []Repo{{
				Name: "team/app",
				Manifests: []meta.ManifestSummary{
					img("old", ago(8*day)), img("pulled", ago(8*day)), img("young", ago(6*day)),
					img("v1", ago(30*day)), // tagged
					{Digest: dg("idx"), CreatedAt: ago(30 * day), Children: []digest.Digest{dg("child")}},
					img("child", ago(30*day)), // child of an index: goes with it
					{Digest: dg("sig"), CreatedAt: ago(30 * day), Subject: dg("v1")},     // referrer of a manifest here
					{Digest: dg("loose"), CreatedAt: ago(30 * day), Subject: dg("gone")}, // subject not here
				},
				Tags:  []meta.TagDetail{tag("v1", "v1", ago(30*day))},
				Pulls: []meta.PullCount{{Digest: dg("pulled"), Pulls: 1, Last: ago(day)}},
			}},
			want: []string{"team/app@idx[]+m", "team/app@loose[]+m", "team/app@old[]+m"},
		},
		{
			name:  "a repository matched only by untagged-after keeps its tags",
			rules: []meta.RetentionRule{rule(meta.RemoveUntaggedAfter, "team/**", "**", 0, day)},
			repos: []Repo{fiveVersions()},
			want:  nil,
		},
		{
			name:  "a sorted digest order (not map order) for the removals",
			rules: []meta.RetentionRule{rule(meta.RetainTags, "team/**", "none", 0, 0)},
			repos: []Repo{{Name: "team/app", Manifests: []meta.ManifestSummary{img("v1", now), img("v2", now)},
				Tags: []meta.TagDetail{tag("a", "v1", now), tag("b", "v2", now), tag("c", "v1", now)}}},
			ordered: true,
			want: func() []string {
				a, b := "team/app@v1[a,c]+m", "team/app@v2[b]+m"
				if dg("v2") < dg("v1") {
					return []string{b, a}
				}
				return []string{a, b}
			}(),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Evaluate(Input{Project: "team", Now: now, Rules: c.rules, Repos: c.repos, BlobSizes: sizesOf("v1", "v2", "v3", "v4", "v5")})
			if c.wantErr {
				if err == nil {
					t.Fatalf("a rule with a refused pattern planned %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := summary(p, names)
			if !c.ordered {
				slices.Sort(got)
				slices.Sort(c.want)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("removals:\n got %q\nwant %q", got, c.want)
			}
			var skips []string
			for _, s := range p.Skipped {
				skips = append(skips, fmt.Sprintf("%s:%s %s", s.Repository, s.Tag, s.Reason))
			}
			if !slices.Equal(skips, c.skips) {
				t.Errorf("skipped = %q, want %q", skips, c.skips)
			}
		})
	}
}

func TestEvaluateSizes(t *testing.T) {
	// team/app keeps v5 (keep-last 1); v1..v4 go. v4's layer is also used
	// by team/other:kept, which no rule matches, so it stays in the
	// project; the shared config stays because v5 uses it.
	app := fiveVersions()
	other := Repo{Name: "team/other", Manifests: []meta.ManifestSummary{{Digest: dg("other"), Size: 70, Blobs: []digest.Digest{dg("v4-layer")}}},
		Tags: []meta.TagDetail{tag("kept", "other", now)}}
	in := Input{Project: "team", Now: now, Rules: []meta.RetentionRule{rule(meta.RetainLast, "team/app", "**", 1, 0)},
		Repos: []Repo{app, other}, BlobSizes: sizesOf("v1", "v2", "v3", "v4", "v5")}
	p, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Removals) != 4 {
		t.Fatalf("removals = %+v", p.Removals)
	}
	for _, r := range p.Removals {
		if r.Size != 100+10+1000 {
			t.Errorf("size of %s = %d, want the manifest, config and layer: 1110", r.Digest, r.Size)
		}
	}
	// 4 manifests of 100 bytes, the layers of v1..v3; not v4's layer (team/other
	// uses it) nor the config (v5 uses it).
	if want := int64(4*100 + 3*1000); p.BytesFreed != want {
		t.Errorf("bytes freed = %d, want %d", p.BytesFreed, want)
	}
	// Removing tags only frees nothing.
	if n := BytesFreed(in, []Removal{{Repository: "team/app", Digest: dg("v1"), Tags: []string{"v1"}}}); n != 0 {
		t.Errorf("bytes freed by untagging only = %d", n)
	}
}

func TestParseAge(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true},
		{"2w", 2 * week, true},
		{"720h", 720 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{" 1d ", day, true},
		{"", 0, false},
		{"0d", 0, false},
		{"-1d", 0, false},
		{"-5h", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"30", 0, false},
		{"99999999999999w", 0, false},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseAge(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Fatalf("ParseAge(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
			}
			if c.ok {
				if back, err := ParseAge(FormatAge(got)); err != nil || back != got {
					t.Fatalf("FormatAge(%v) = %q does not read back: %v, %v", got, FormatAge(got), back, err)
				}
			}
		})
	}
	for d, want := range map[time.Duration]string{30 * day: "30d", 14 * day: "2w", 36 * time.Hour: "36h0m0s"} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
	}
}
