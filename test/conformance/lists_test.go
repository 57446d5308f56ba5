package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type catalog struct {
	Repositories []string `json:"repositories"`
}

// lexicalOrder reports whether s is sorted the way the spec allows: either
// "ASCIIbetical" (sort.Strings) or case-insensitive.
func lexicalOrder(s []string) bool {
	if slices.IsSorted(s) {
		return true
	}
	return slices.IsSortedFunc(s, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}

func getTags(t *testing.T, reg *registry, u string) (tagList, *result) {
	t.Helper()
	res := reg.do(t, http.MethodGet, u, nil)
	if !expectStatus(t, res, http.StatusOK) {
		t.FailNow()
	}
	expectMediaType(t, res, "application/json")
	var tl tagList
	if err := json.Unmarshal(res.Body, &tl); err != nil {
		t.Fatalf("tag list body: %v: %s", err, res)
	}
	return tl, res
}

// walk follows Link headers from u and concatenates the pages (via get).
func walk(t *testing.T, u string, get func(string) ([]string, *result)) []string {
	t.Helper()
	var all []string
	for page := 0; u != ""; page++ {
		if page > 1000 {
			t.Fatal("pagination does not end")
		}
		items, res := get(u)
		if len(items) == 0 && nextLink(t, res) != "" {
			t.Errorf("empty page with a Link header: %s", res)
		}
		all = append(all, items...)
		u = nextLink(t, res)
	}
	return all
}

func TestTagsList(t *testing.T) {
	reg := newRegistry(t, func(c *config.Config) { c.Registry.ListMaxEntries = 4 })
	repo := reg.repo(t, "tags")
	img := reg.pushImage(t, repo, "")
	tags := []string{"v2", "latest", "v10", "Alpha", "beta", "_under", "0.1", "v1.0", "v1.0-rc1", "Zeta"}
	for _, tag := range tags {
		reg.putManifest(t, repo, tag, mtOCIManifest, img.body)
	}
	base := "/v2/" + repo + "/tags/list"
	var full []string

	t.Run("full list, lexical order", func(t *testing.T) {
		full = walk(t, base, func(u string) ([]string, *result) {
			tl, res := getTags(t, reg, u)
			if tl.Name != repo {
				t.Errorf("name %q, want %q", tl.Name, repo)
			}
			return tl.Tags, res
		})
		if !lexicalOrder(full) {
			t.Errorf("tags not in lexical order: %q", full)
		}
		got, want := slices.Clone(full), slices.Clone(tags)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("tags %q, want %q", got, want)
		}
	})
	if len(full) != len(tags) {
		t.Fatalf("cannot go on without the full tag list")
	}
	pages := func(t *testing.T, u string) []string {
		return walk(t, u, func(u string) ([]string, *result) {
			tl, res := getTags(t, reg, u)
			return tl.Tags, res
		})
	}

	t.Run("n=3 returns the first 3 with a Link to the rest", func(t *testing.T) {
		tl, res := getTags(t, reg, base+"?n=3")
		if !slices.Equal(tl.Tags, full[:3]) {
			t.Errorf("n=3: %q, want %q", tl.Tags, full[:3])
		}
		if nextLink(t, res) == "" {
			t.Errorf("n=3 of %d tags without Link header: %s", len(full), res)
		}
		if got := pages(t, base+"?n=3"); !slices.Equal(got, full) {
			t.Errorf("paging by 3 gave %q, want %q", got, full)
		}
	})
	t.Run("n=0 is an empty list without Link", func(t *testing.T) {
		tl, res := getTags(t, reg, base+"?n=0")
		if len(tl.Tags) != 0 {
			t.Errorf("n=0 returned %q", tl.Tags)
		}
		if l := res.Header.Get("Link"); l != "" {
			t.Errorf("n=0 has a Link header %q", l)
		}
	})
	t.Run("last without n starts after last", func(t *testing.T) {
		got := pages(t, base+"?last="+url.QueryEscape(full[2]))
		if !slices.Equal(got, full[3:]) {
			t.Errorf("last=%s: %q, want %q", full[2], got, full[3:])
		}
	})
	t.Run("n and last", func(t *testing.T) {
		tl, _ := getTags(t, reg, base+"?n=2&last="+url.QueryEscape(full[4]))
		if !slices.Equal(tl.Tags, full[5:7]) {
			t.Errorf("n=2&last=%s: %q, want %q", full[4], tl.Tags, full[5:7])
		}
	})
	t.Run("last = the last tag is an empty list without Link", func(t *testing.T) {
		tl, res := getTags(t, reg, base+"?last="+url.QueryEscape(full[len(full)-1]))
		if len(tl.Tags) != 0 || res.Header.Get("Link") != "" {
			t.Errorf("after the last tag: %q, Link %q", tl.Tags, res.Header.Get("Link"))
		}
	})
	t.Run("n larger than the list returns everything without Link", func(t *testing.T) {
		if !reg.external {
			t.Skip("berth is configured with list_max_entries=4 here")
		}
		tl, res := getTags(t, reg, base+"?n=100")
		if !slices.Equal(tl.Tags, full) || res.Header.Get("Link") != "" {
			t.Errorf("n=100: %q Link %q", tl.Tags, res.Header.Get("Link"))
		}
	})
	t.Run("absurd n is clamped, still 200, Link when cut", func(t *testing.T) {
		u := base + "?n=1000000000000"
		tl, res := getTags(t, reg, u)
		if len(tl.Tags) < len(full) && nextLink(t, res) == "" {
			t.Errorf("returned %d of %d tags without Link: %s", len(tl.Tags), len(full), res)
		}
		if !reg.external && len(tl.Tags) != 4 {
			t.Errorf("list_max_entries=4 but %d tags returned", len(tl.Tags))
		}
		if got := pages(t, u); !slices.Equal(got, full) {
			t.Errorf("paging with absurd n gave %q, want %q", got, full)
		}
	})
	for _, n := range []string{"-1", "abc"} {
		t.Run("bad n="+n+" is 400 or ignored", func(t *testing.T) {
			res := reg.do(t, http.MethodGet, base+"?n="+n, nil)
			if res.Status != http.StatusOK {
				expectErr(t, res, http.StatusBadRequest)
			}
		})
	}
	t.Run("unknown repository is 404 NAME_UNKNOWN", func(t *testing.T) {
		res := reg.do(t, http.MethodGet, "/v2/"+reg.repo(t, "ghost")+"/tags/list", nil)
		expectErr(t, res, http.StatusNotFound, "NAME_UNKNOWN")
	})
	t.Run("repository without tags lists none", func(t *testing.T) {
		untagged := reg.repo(t, "untagged")
		reg.pushImage(t, untagged, "")
		tl, _ := getTags(t, reg, "/v2/"+untagged+"/tags/list")
		if len(tl.Tags) != 0 || tl.Name != untagged {
			t.Errorf("untagged repository: %+v", tl)
		}
	})
	t.Run("deleted tags disappear from the list", func(t *testing.T) {
		res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+full[0], nil)
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		if got := pages(t, base); !slices.Equal(got, full[1:]) {
			t.Errorf("after deleting %s: %q", full[0], got)
		}
	})
}

func TestCatalog(t *testing.T) {
	reg := newRegistry(t, func(c *config.Config) { c.Registry.ListMaxEntries = 3 })
	prefix := reg.repo(t, "catalog")
	var repos []string
	for _, s := range []string{"b", "a", "c/nested", "d", "a-b", "e"} {
		r := prefix + "/" + s
		reg.pushImage(t, r, "latest")
		repos = append(repos, r)
	}
	slices.Sort(repos)
	get := func(t *testing.T) func(string) ([]string, *result) {
		return func(u string) ([]string, *result) {
			res := reg.do(t, http.MethodGet, u, nil)
			if !expectStatus(t, res, http.StatusOK) {
				t.FailNow()
			}
			expectMediaType(t, res, "application/json")
			var c catalog
			if err := json.Unmarshal(res.Body, &c); err != nil {
				t.Fatalf("catalog body: %v: %s", err, res)
			}
			return c.Repositories, res
		}
	}
	ours := func(all []string) []string {
		var out []string
		for _, r := range all {
			if strings.HasPrefix(r, prefix+"/") {
				out = append(out, r)
			}
		}
		return out
	}

	t.Run("catalog lists the repositories in order", func(t *testing.T) {
		all := walk(t, "/v2/_catalog", get(t))
		if !slices.IsSorted(all) {
			t.Errorf("catalog not sorted: %q", all)
		}
		if !slices.Equal(ours(all), repos) {
			t.Errorf("catalog has %q, want %q", ours(all), repos)
		}
		if !reg.external && !slices.Equal(all, repos) {
			t.Errorf("fresh registry catalog %q, want %q", all, repos)
		}
	})
	t.Run("n=2 pages with Link", func(t *testing.T) {
		items, res := get(t)("/v2/_catalog?n=2")
		if len(items) != 2 || nextLink(t, res) == "" {
			t.Errorf("n=2: %q, Link %q", items, res.Header.Get("Link"))
		}
		all := walk(t, "/v2/_catalog?n=2", get(t))
		if !slices.Equal(ours(all), repos) {
			t.Errorf("paged catalog has %q, want %q", ours(all), repos)
		}
	})
	t.Run("last", func(t *testing.T) {
		all := walk(t, "/v2/_catalog?n=2&last="+url.QueryEscape(repos[1]), get(t))
		if !slices.Equal(ours(all), repos[2:]) {
			t.Errorf("after %s: %q, want %q", repos[1], ours(all), repos[2:])
		}
	})
	t.Run("n=0 is empty without Link", func(t *testing.T) {
		items, res := get(t)("/v2/_catalog?n=0")
		if len(items) != 0 || res.Header.Get("Link") != "" {
			t.Errorf("n=0: %q, Link %q", items, res.Header.Get("Link"))
		}
	})
	t.Run("absurd n is clamped and still 200", func(t *testing.T) {
		items, res := get(t)("/v2/_catalog?n=1000000000000")
		if !reg.external && (len(items) != 3 || nextLink(t, res) == "") {
			t.Errorf("list_max_entries=3: %q, Link %q", items, res.Header.Get("Link"))
		}
		all := walk(t, "/v2/_catalog?n=1000000000000", get(t))
		if !slices.Equal(ours(all), repos) {
			t.Errorf("catalog has %q, want %q", ours(all), repos)
		}
	})
}
