package api

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestOpenAPIDocument(t *testing.T) {
	b, err := json.Marshal(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct{ Name, In string }
			Responses   map[string]any
		}
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	t.Run("every operation is documented, with its path parameters", func(t *testing.T) {
		seen := map[string]bool{}
		for _, op := range operations {
			path := pathParam.ReplaceAllString(Prefix+op.path, "{$1}")
			o, ok := doc.Paths[path][strings.ToLower(op.method)]
			if !ok {
				t.Errorf("%s %s is not in the document", op.method, path)
				continue
			}
			if seen[o.OperationID] {
				t.Errorf("operationId %s used twice", o.OperationID)
			}
			seen[o.OperationID] = true
			for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
				if !slices.ContainsFunc(o.Parameters, func(p struct{ Name, In string }) bool { return p.Name == m[1] && p.In == "path" }) {
					t.Errorf("%s %s: path parameter %s undocumented", op.method, path, m[1])
				}
			}
			if _, ok := o.Responses["default"]; !ok {
				t.Errorf("%s %s has no error response", op.method, path)
			}
		}
		n := 0
		for _, ms := range doc.Paths {
			n += len(ms)
		}
		if n != len(operations) {
			t.Errorf("%d documented operations, %d routes", n, len(operations))
		}
	})
	t.Run("every reference resolves", func(t *testing.T) {
		refs := map[string]bool{}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if r, ok := x["$ref"].(string); ok {
					refs[strings.TrimPrefix(r, "#/components/schemas/")] = true
				}
				for _, c := range x {
					walk(c)
				}
			case []any:
				for _, c := range x {
					walk(c)
				}
			}
		}
		var raw any
		_ = json.Unmarshal(b, &raw)
		walk(raw)
		var missing []string
		for r := range refs {
			if _, ok := doc.Components.Schemas[r]; !ok {
				missing = append(missing, r)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 || len(refs) < 10 {
			t.Fatalf("unresolved references %v (of %d)", missing, len(refs))
		}
	})
	t.Run("schemas are the wire types", func(t *testing.T) {
		for name, want := range map[string][]string{
			"CreateUserRequest":  {"admin", "name", "password"},
			"CreateRobotRequest": {"description", "expires_at", "name", "permissions"},
			"RobotPermission":    {"actions", "repositories"},
			"Artifact":           {"artifact_type", "digest", "last_pull", "media_type", "platforms", "pulls", "pushed_at", "pusher", "size", "subject", "tag_pulls", "tags"},
		} {
			var got []string
			for p := range doc.Components.Schemas[name].Properties {
				got = append(got, p)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s properties = %v, want %v", name, got, want)
			}
		}
	})
}
