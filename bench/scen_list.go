package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pageCase is one way of walking a list: page size n (0 = let the server
// choose, no n parameter).
type pageCase struct {
	key, name string
	n         int
}

var pageCases = []pageCase{
	{"page100_ms", "n=100", 100},
	{"page1000_ms", "n=1000", 1000},
	{"unbounded_ms", "no n", 0},
}

// checkListing verifies a full listing: no duplicates and, among the
// entries starting with prefix, exactly want (sorted). A listing out of
// lexical order is an error when it came in several pages (paging by
// "last" depends on the order) and only a warning when it came in one
// (Distribution 2.8 returns tags in directory order, ignoring n).
func checkListing(got []string, prefix string, want []string, pages int) (warning string, err error) {
	seen := make(map[string]bool, len(got))
	var mine []string
	for _, g := range got {
		if seen[g] {
			return "", fmt.Errorf("listing has %q twice", g)
		}
		seen[g] = true
		if strings.HasPrefix(g, prefix) {
			mine = append(mine, g)
		}
	}
	if len(mine) != len(want) {
		return "", fmt.Errorf("listing has %d entries under %q, want %d", len(mine), prefix, len(want))
	}
	sorted := sort.StringsAreSorted(got)
	if !sorted {
		if pages > 1 {
			return "", fmt.Errorf("listing of %d pages is not in lexical order", pages)
		}
		mine = append([]string(nil), mine...)
		sort.Strings(mine)
		warning = "listing not in lexical order (the spec requires it)"
	}
	for i := range want {
		if mine[i] != want[i] {
			return "", fmt.Errorf("listing entry %d under %q is %q, want %q", i, prefix, mine[i], want[i])
		}
	}
	return warning, nil
}

// timePaging walks path for each page case, checks the result and records
// the time of each walk.
func (b *bench) timePaging(ctx context.Context, scenario, what, path, prefix string, want []string) error {
	if err := b.prefetch(ctx, http.MethodGet, b.c.url(path).String(), time.Now().Add(time.Minute)); err != nil {
		return err
	}
	for _, pc := range pageCases {
		u := b.c.url(path)
		if pc.n > 0 {
			u.RawQuery = url.Values{"n": {strconv.Itoa(pc.n)}}.Encode()
		}
		start := time.Now()
		got, pages, err := b.c.pageAll(ctx, u, len(want)+1000)
		el := time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: %w", pc.name, err)
		}
		warning, err := checkListing(got, prefix, want, pages)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", what, pc.name, err)
		}
		if warning != "" {
			b.warn(fmt.Sprintf("%s, %s: %s", what, pc.name, warning))
		}
		b.logf("  %s %s: %d entries in %d page(s)", what, pc.name, len(got), pages)
		b.add(scenario, pc.key, fmt.Sprintf("%s, %s: time", what, pc.name), float64(el)/float64(time.Millisecond), "ms", "lower")
	}
	return nil
}

// scenarioCatalog creates -repos repositories, each holding one tiny image
// whose blobs are mounted from a source repository, then pages the whole
// catalog.
func scenarioCatalog(ctx context.Context, b *bench) error {
	o := b.o
	img := makeImage(o.seed, kindCatalog, 0, 1, 1<<10)
	src := b.repo("catsrc")
	if err := b.c.pushImage(ctx, src, "v1", img); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	want := make([]string, o.repos)
	for i := range want {
		want[i] = b.repo(fmt.Sprintf("cat/r%05d", i))
	}
	start := time.Now()
	err := parallel(ctx, o.repos, o.setupClients, func(ctx context.Context, i int) error {
		for _, blob := range []blobData{img.layers[0], img.config} {
			if err := b.c.mountBlob(ctx, want[i], src, blob); err != nil {
				return err
			}
		}
		return b.c.putManifest(ctx, want[i], "v1", img.manifest)
	})
	el := time.Since(start)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	name := fmt.Sprintf("setup: %d repos (mount+manifest, %d clients)", o.repos, o.setupClients)
	b.add("catalog", "setup_s", name, el.Seconds(), "s", "lower")
	sort.Strings(want)
	return b.timePaging(ctx, "catalog", fmt.Sprintf("catalog of %d repos", o.repos), "/v2/_catalog", b.repo("cat/"), want)
}

// scenarioTags tags one manifest -tags times in one repository (timed),
// then pages the tag list.
func scenarioTags(ctx context.Context, b *bench) error {
	o := b.o
	img := makeImage(o.seed, kindTags, 0, 1, 1<<10)
	repo := b.repo("tags")
	if err := b.c.pushImage(ctx, repo, "base", img); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	want := make([]string, o.tags)
	for i := range want {
		want[i] = fmt.Sprintf("t%05d", i)
	}
	start := time.Now()
	err := parallel(ctx, o.tags, o.tagClients, func(ctx context.Context, i int) error {
		return b.c.putManifest(ctx, repo, want[i], img.manifest)
	})
	el := time.Since(start)
	if err != nil {
		return err
	}
	b.add("tags", "tagging_s", fmt.Sprintf("tag one manifest %d times (%d clients)", o.tags, o.tagClients), el.Seconds(), "s", "lower")
	return b.timePaging(ctx, "tags", fmt.Sprintf("tag list of %d tags", o.tags), "/v2/"+repo+"/tags/list", "t", want)
}
