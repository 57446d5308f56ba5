package pattern

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var codeSpan = regexp.MustCompile("`([^`]*)`")

// docTable returns the rows of the first table after the heading, each row
// as its cells' code spans.
func docTable(t *testing.T, doc, heading string) [][][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/patterns.md has no heading %q", heading)
	}
	if next := strings.Index(rest, "\n## "); next >= 0 {
		rest = rest[:next]
	}
	var rows [][][]string
	header := true
	for _, line := range strings.Split(rest, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if header || strings.HasPrefix(line, "|---") {
			header = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		row := make([][]string, len(cells))
		for i, c := range cells {
			for _, m := range codeSpan.FindAllStringSubmatch(c, -1) {
				row[i] = append(row[i], m[1])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestDocExamples keeps docs/patterns.md honest: every example in its tables
// is checked against Compile and Match.
func TestDocExamples(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "patterns.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)

	examples := docTable(t, doc, "## Examples")
	if len(examples) < 10 {
		t.Fatalf("found %d example rows, want at least 10: has the table's format changed?", len(examples))
	}
	checked := 0
	for _, row := range examples {
		if len(row) != 3 || len(row[0]) != 1 {
			t.Errorf("example row %q: want 3 cells and one pattern", row)
			continue
		}
		src := row[0][0]
		t.Run(src, func(t *testing.T) {
			p, err := Compile(src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			if len(row[1]) == 0 {
				t.Errorf("%q: no example of a match", src)
			}
			for _, s := range row[1] {
				checked++
				if !p.Match(s) {
					t.Errorf("docs say %q matches %q, but it does not", src, s)
				}
			}
			for _, s := range row[2] {
				checked++
				if p.Match(s) {
					t.Errorf("docs say %q does not match %q, but it does", src, s)
				}
			}
		})
	}

	refused := docTable(t, doc, "## Patterns berth refuses")
	if len(refused) < 5 {
		t.Fatalf("found %d refused rows, want at least 5", len(refused))
	}
	for _, row := range refused {
		if len(row) != 2 || len(row[0]) != 1 {
			t.Errorf("refused row %q: want 2 cells and one pattern", row)
			continue
		}
		src := row[0][0]
		t.Run("refuses "+src, func(t *testing.T) {
			checked++
			if _, err := Compile(src); err == nil {
				t.Errorf("docs say %q is refused, but it compiles", src)
			}
		})
	}

	// Every pattern character of the grammar table must be a real token.
	grammar := docTable(t, doc, "## The grammar")
	if len(grammar) != 4 {
		t.Errorf("grammar table has %d rows, want 4 (?, *, ** and other characters)", len(grammar))
	}
	t.Logf("%d doc examples checked", checked)
}
