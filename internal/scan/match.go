package scan

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/vuln/osv"
	"github.com/berth-registry/berth/internal/vuln/severity"
)

// indexEcosystem is how an ecosystem is keyed in the database: lower
// case, Alpine releases without their "v".
func indexEcosystem(eco string) string {
	base, rel, ok := strings.Cut(strings.TrimSpace(eco), ":")
	base = strings.ToLower(base)
	if !ok || rel == "" {
		return base
	}
	rel = strings.ToLower(rel)
	if base == "alpine" {
		rel = strings.TrimPrefix(rel, "v")
	}
	return base + ":" + rel
}

// lookupEcosystems are the keys of the records that may apply to a
// package of eco: its release's and its distribution's.
func lookupEcosystems(eco string) []string {
	full := indexEcosystem(eco)
	base, _, _ := strings.Cut(full, ":")
	if base == full {
		return []string{full}
	}
	return []string{full, base}
}

// indexName is how a package name is keyed: PyPI names normalised.
func indexName(eco, name string) string {
	if strings.HasPrefix(indexEcosystem(eco), "pypi") {
		return osv.NormalizePyPI(name)
	}
	return name
}

// advisoryName is the name advisories use for p: distributions key theirs
// by source package.
func advisoryName(p Package) string {
	if (p.Type == "deb" || p.Type == "apk" || p.Type == "rpm") && p.Source != "" {
		return p.Source
	}
	return p.Name
}

// match finds the advisories affecting pkgs.
func (s *Service) match(ctx context.Context, pkgs []Package) ([]Finding, error) {
	var out []Finding
	seen := map[string]bool{}
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		for _, p := range pkgs {
			if p.Ecosystem == "" || p.Version == "" {
				continue
			}
			name := advisoryName(p)
			recs, err := r.VulnRecordsFor(lookupEcosystems(p.Ecosystem), indexName(p.Ecosystem, name))
			if err != nil {
				return err
			}
			for _, rec := range recs {
				v, err := osv.Parse(rec.Data)
				if err != nil {
					continue // checked at import; a record that no longer parses is skipped
				}
				hit, fixed, err := v.Affects(p.Ecosystem, name, p.Version)
				if err != nil || !hit {
					continue
				}
				key := v.ID + "\x00" + p.Type + "\x00" + p.Name + "\x00" + p.Version
				if seen[key] {
					continue
				}
				seen[key] = true
				lvl, score := severity.Of(v)
				sev := lvl.String()
				if lvl == severity.None {
					sev = "UNKNOWN"
				}
				out = append(out, Finding{ID: v.ID, Aliases: v.Aliases, Summary: v.Summary, Severity: sev, Score: score,
					Package: p.Name, Version: p.Version, Ecosystem: p.Ecosystem, Type: p.Type, FixedVersion: fixed})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("matching advisories: %w", err)
	}
	sortFindings(out)
	return out, nil
}

// sortFindings orders findings worst first, then by package and ID.
func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		if c := rank(b.Severity) - rank(a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(a.Package, b.Package); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// rank orders severities, worst highest.
func rank(sev string) int {
	lvl, err := severity.ParseLevel(sev)
	if err != nil {
		return 0
	}
	return int(lvl)
}
