package errcode

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        *Error
		wantStatus int
		wantJSON   string
	}{
		{"default", BlobUnknown.New(), http.StatusNotFound, `{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}`},
		{"message", DigestInvalid.Errorf("want %s", "x"), http.StatusBadRequest, `{"code":"DIGEST_INVALID","message":"want x"}`},
		{"detail", ManifestBlobUnknown.WithDetail(map[string]string{"digest": "d"}), http.StatusBadRequest, `{"code":"MANIFEST_BLOB_UNKNOWN","message":"manifest references a manifest or blob unknown to registry","detail":{"digest":"d"}}`},
		{"status override", SizeInvalid.Errorf("too big").WithStatus(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge, `{"code":"SIZE_INVALID","message":"too big"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.HTTPStatus(); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			b, err := json.Marshal(tt.err.JSON())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("json = %s, want %s", b, tt.wantJSON)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
		"MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
		"SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"} {
		t.Run(name, func(t *testing.T) {
			c, ok := Lookup(name)
			if !ok || c.Name != name || c.Status < 400 || c.Status > 499 {
				t.Fatalf("Lookup(%s) = %+v, %v", name, c, ok)
			}
		})
	}
}
