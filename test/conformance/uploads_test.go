package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestUploadSession(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "uploads")

	t.Run("POST opens a session: 202, Location, Docker-Upload-UUID", func(t *testing.T) {
		res := reg.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", []byte{})
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		loc := expectHeaderSet(t, res, "Location")
		id := expectHeaderSet(t, res, "Docker-Upload-UUID")
		if id != "" && !strings.Contains(loc, id) {
			t.Errorf("Location %q does not contain the upload id %q", loc, id)
		}
		// Docker clients read Range: 0-0 on a fresh session; if present it
		// must say nothing more was received.
		if rg := res.Header.Get("Range"); rg != "" && rg != "0-0" {
			t.Errorf("fresh session Range %q, want 0-0 or absent", rg)
		}
	})
	t.Run("two sessions get distinct locations", func(t *testing.T) {
		a := reg.startUpload(t, repo)
		b := reg.startUpload(t, repo)
		if a == b {
			t.Errorf("two POSTs returned the same Location %q", a)
		}
	})
	t.Run("POST then monolithic PUT", func(t *testing.T) {
		data := randomBytes(t, 2048)
		d := sha256Digest(data)
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", d), data, "Content-Type", "application/octet-stream")
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", d)
		blobLoc := expectHeaderSet(t, res, "Location")
		if blobLoc == "" {
			return
		}
		got := reg.do(t, http.MethodGet, blobLoc, nil)
		expectStatus(t, got, http.StatusOK)
		expectBody(t, got, data)
	})
	t.Run("single POST with ?digest= and body is 201", func(t *testing.T) {
		data := randomBytes(t, 512)
		d := sha256Digest(data)
		res := reg.do(t, http.MethodPost, withQuery(t, "/v2/"+repo+"/blobs/uploads/", "digest", d), data,
			"Content-Type", "application/octet-stream")
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", d)
		got := reg.do(t, http.MethodGet, expectHeaderSet(t, res, "Location"), nil)
		expectStatus(t, got, http.StatusOK)
		expectBody(t, got, data)
	})
	t.Run("single POST with a wrong digest is 400 DIGEST_INVALID", func(t *testing.T) {
		data := randomBytes(t, 64)
		res := reg.do(t, http.MethodPost, withQuery(t, "/v2/"+repo+"/blobs/uploads/", "digest", sha256Digest([]byte("other"))), data,
			"Content-Type", "application/octet-stream")
		expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID")
	})
	t.Run("zero-byte blob", func(t *testing.T) {
		d := sha256Digest(nil)
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", d), []byte{}, "Content-Type", "application/octet-stream")
		expectStatus(t, res, http.StatusCreated)
		got := reg.do(t, http.MethodHead, "/v2/"+repo+"/blobs/"+d, nil)
		expectStatus(t, got, http.StatusOK)
		if got.ContentLength != 0 {
			t.Errorf("empty blob Content-Length %d", got.ContentLength)
		}
	})
}

func TestUploadStreamedAndChunked(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "chunks")

	t.Run("streamed PATCH without Content-Range then PUT", func(t *testing.T) {
		data := randomBytes(t, 4096)
		d := sha256Digest(data)
		loc := reg.startUpload(t, repo)
		res := reg.doStream(t, http.MethodPatch, loc, data, "Content-Type", "application/octet-stream")
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		expectHeader(t, res, "Range", fmt.Sprintf("0-%d", len(data)-1))
		next := reg.url(t, expectHeaderSet(t, res, "Location"))
		res = reg.do(t, http.MethodPut, withQuery(t, next, "digest", d), nil)
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", d)
		got := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+d, nil)
		expectBody(t, got, data)
	})

	t.Run("chunked PATCHes with Content-Range, last chunk in PUT", func(t *testing.T) {
		data := randomBytes(t, 3000)
		d := sha256Digest(data)
		loc := reg.startUpload(t, repo)
		for _, c := range [][2]int{{0, 1023}, {1024, 2047}} {
			res := reg.do(t, http.MethodPatch, loc, data[c[0]:c[1]+1],
				"Content-Type", "application/octet-stream",
				"Content-Range", fmt.Sprintf("%d-%d", c[0], c[1]))
			if !expectStatus(t, res, http.StatusAccepted) {
				return
			}
			expectHeader(t, res, "Range", fmt.Sprintf("0-%d", c[1]))
			loc = reg.url(t, expectHeaderSet(t, res, "Location"))
		}
		res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", d), data[2048:],
			"Content-Type", "application/octet-stream",
			"Content-Range", fmt.Sprintf("2048-%d", len(data)-1))
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", d)
		got := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+d, nil)
		expectStatus(t, got, http.StatusOK)
		expectBody(t, got, data)
	})

	t.Run("out-of-order chunk is 416, GET tells the offset, upload resumes", func(t *testing.T) {
		data := randomBytes(t, 300)
		d := sha256Digest(data)
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPatch, loc, data[:100],
			"Content-Type", "application/octet-stream", "Content-Range", "0-99")
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		loc = reg.url(t, res.Header.Get("Location"))

		// A gap: bytes 150.. while the server holds 0-99.
		res = reg.do(t, http.MethodPatch, loc, data[150:200],
			"Content-Type", "application/octet-stream", "Content-Range", "150-199")
		expectStatus(t, res, http.StatusRequestedRangeNotSatisfiable)
		// A replay of the first chunk.
		res = reg.do(t, http.MethodPatch, loc, data[:100],
			"Content-Type", "application/octet-stream", "Content-Range", "0-99")
		expectStatus(t, res, http.StatusRequestedRangeNotSatisfiable)

		res = reg.do(t, http.MethodGet, loc, nil)
		if !expectStatus(t, res, http.StatusNoContent) {
			return
		}
		expectHeader(t, res, "Range", "0-99")
		loc = reg.url(t, expectHeaderSet(t, res, "Location"))

		res = reg.do(t, http.MethodPatch, loc, data[100:200],
			"Content-Type", "application/octet-stream", "Content-Range", "100-199")
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		expectHeader(t, res, "Range", "0-199")
		loc = reg.url(t, res.Header.Get("Location"))

		// Out-of-order final chunk in the closing PUT is 416 as well.
		res = reg.do(t, http.MethodPut, withQuery(t, loc, "digest", d), data[250:],
			"Content-Type", "application/octet-stream", "Content-Range", "250-299")
		expectStatus(t, res, http.StatusRequestedRangeNotSatisfiable)

		res = reg.do(t, http.MethodPut, withQuery(t, loc, "digest", d), data[200:],
			"Content-Type", "application/octet-stream", "Content-Range", "200-299")
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		got := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+d, nil)
		expectBody(t, got, data)
	})

	t.Run("Content-Range not matching Content-Length is rejected", func(t *testing.T) {
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPatch, loc, randomBytes(t, 10),
			"Content-Type", "application/octet-stream", "Content-Range", "0-19")
		expectError(t, res, []int{http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable},
			"BLOB_UPLOAD_INVALID", "SIZE_INVALID")
	})

	t.Run("GET on a fresh session is 204 with Location", func(t *testing.T) {
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodGet, loc, nil)
		expectStatus(t, res, http.StatusNoContent)
		expectHeaderSet(t, res, "Location")
	})
}

func TestUploadErrors(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "uperr")

	t.Run("PUT with the wrong digest is 400 DIGEST_INVALID", func(t *testing.T) {
		data := randomBytes(t, 100)
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", sha256Digest(randomBytes(t, 100))), data,
			"Content-Type", "application/octet-stream")
		expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID")
		got := reg.do(t, http.MethodHead, "/v2/"+repo+"/blobs/"+sha256Digest(data), nil)
		expectStatus(t, got, http.StatusNotFound)
	})
	t.Run("PUT with a malformed digest is 400 DIGEST_INVALID", func(t *testing.T) {
		for _, bad := range []string{"sha256:xyz", "nonsense", "md5:d41d8cd98f00b204e9800998ecf8427e"} {
			loc := reg.startUpload(t, repo)
			res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", bad), []byte("abc"),
				"Content-Type", "application/octet-stream")
			expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID", "UNSUPPORTED")
		}
	})
	t.Run("PUT without digest is 400", func(t *testing.T) {
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPut, loc, []byte("abc"), "Content-Type", "application/octet-stream")
		expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID", "BLOB_UPLOAD_INVALID")
	})

	unknown := "/v2/" + repo + "/blobs/uploads/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	t.Run("unknown upload id is 404 BLOB_UPLOAD_UNKNOWN", func(t *testing.T) {
		expectErr(t, reg.do(t, http.MethodGet, unknown, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodPatch, unknown, []byte("abc"), "Content-Type", "application/octet-stream"),
			http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodPut, withQuery(t, unknown, "digest", sha256Digest([]byte("abc"))), []byte("abc"),
			"Content-Type", "application/octet-stream"), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodDelete, unknown, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	})

	t.Run("DELETE cancels: 204, then 404 BLOB_UPLOAD_UNKNOWN", func(t *testing.T) {
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPatch, loc, randomBytes(t, 10), "Content-Type", "application/octet-stream")
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		loc = reg.url(t, res.Header.Get("Location"))
		res = reg.do(t, http.MethodDelete, loc, nil)
		expectStatus(t, res, http.StatusNoContent)
		expectErr(t, reg.do(t, http.MethodGet, loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		expectErr(t, reg.do(t, http.MethodPatch, loc, []byte("x"), "Content-Type", "application/octet-stream"),
			http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	})

	t.Run("a completed session is gone", func(t *testing.T) {
		data := randomBytes(t, 10)
		loc := reg.startUpload(t, repo)
		res := reg.do(t, http.MethodPut, withQuery(t, loc, "digest", sha256Digest(data)), data,
			"Content-Type", "application/octet-stream")
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectErr(t, reg.do(t, http.MethodGet, loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	})

	t.Run("session of another repository is not usable", func(t *testing.T) {
		loc := reg.startUpload(t, repo)
		other := strings.Replace(loc, "/v2/"+repo+"/", "/v2/"+reg.repo(t, "elsewhere")+"/", 1)
		if other == loc {
			t.Skipf("upload location %q does not embed the repository", loc)
		}
		expectErr(t, reg.do(t, http.MethodGet, other, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	})

	for _, name := range []string{"conformance/UpperCase", "conformance/bad..dots", "conformance/-lead", "conformance/trail-"} {
		t.Run("invalid repository name "+name, func(t *testing.T) {
			res := reg.do(t, http.MethodPost, "/v2/"+name+"/blobs/uploads/", []byte{})
			switch res.Status {
			case http.StatusBadRequest:
				expectErr(t, res, http.StatusBadRequest, "NAME_INVALID")
			default:
				expectErr(t, res, http.StatusNotFound, "NAME_INVALID", "NAME_UNKNOWN")
			}
		})
	}
}

func TestMount(t *testing.T) {
	reg := newRegistry(t)
	src := reg.repo(t, "mount-src")
	data := randomBytes(t, 256)
	desc := reg.pushBlob(t, src, mtOCILayer, data)
	head := func(t *testing.T, repo string) int {
		t.Helper()
		return reg.do(t, http.MethodHead, "/v2/"+repo+"/blobs/"+desc.Digest, nil).Status
	}

	t.Run("a blob is not visible in another repository", func(t *testing.T) {
		other := reg.repo(t, "mount-other")
		reg.pushBlob(t, other, mtOCILayer, randomBytes(t, 8)) // make the repository exist
		if got := head(t, other); got != http.StatusNotFound {
			t.Errorf("HEAD of %s's blob in %s: %d, want 404", src, other, got)
		}
		res := reg.do(t, http.MethodGet, "/v2/"+other+"/blobs/"+desc.Digest, nil)
		expectErr(t, res, http.StatusNotFound, "BLOB_UNKNOWN")
	})

	t.Run("mount from a repository holding it is 201", func(t *testing.T) {
		dst := reg.repo(t, "mount-dst")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount="+desc.Digest+"&from="+src, []byte{})
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeader(t, res, "Docker-Content-Digest", desc.Digest)
		loc := expectHeaderSet(t, res, "Location")
		if got := head(t, dst); got != http.StatusOK {
			t.Errorf("HEAD after mount: %d, want 200", got)
		}
		got := reg.do(t, http.MethodGet, loc, nil)
		expectStatus(t, got, http.StatusOK)
		expectBody(t, got, data)
	})

	t.Run("mount from a repository without it falls back to an upload (202)", func(t *testing.T) {
		empty := reg.repo(t, "mount-empty")
		reg.pushBlob(t, empty, mtOCILayer, randomBytes(t, 8))
		dst := reg.repo(t, "mount-dst")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount="+desc.Digest+"&from="+empty, []byte{})
		if !expectStatus(t, res, http.StatusAccepted) {
			return
		}
		loc := reg.url(t, expectHeaderSet(t, res, "Location"))
		if got := head(t, dst); got != http.StatusNotFound {
			t.Errorf("failed mount made the blob visible: HEAD %d", got)
		}
		// The session is a real one: finish the upload through it.
		res = reg.do(t, http.MethodPut, withQuery(t, loc, "digest", desc.Digest), data, "Content-Type", "application/octet-stream")
		expectStatus(t, res, http.StatusCreated)
		if got := head(t, dst); got != http.StatusOK {
			t.Errorf("HEAD after upload: %d, want 200", got)
		}
	})

	t.Run("mount of an unknown digest is 202", func(t *testing.T) {
		dst := reg.repo(t, "mount-dst")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount="+sha256Digest(randomBytes(t, 8))+"&from="+src, []byte{})
		expectStatus(t, res, http.StatusAccepted)
		expectHeaderSet(t, res, "Location")
	})

	t.Run("mount from an unknown repository is 202", func(t *testing.T) {
		dst := reg.repo(t, "mount-dst")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount="+desc.Digest+"&from="+reg.repo(t, "ghost"), []byte{})
		expectStatus(t, res, http.StatusAccepted)
		if got := head(t, dst); got != http.StatusNotFound {
			t.Errorf("HEAD %d, want 404", got)
		}
	})

	t.Run("automatic mount without from is 201", func(t *testing.T) {
		dst := reg.repo(t, "mount-auto")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount="+desc.Digest, []byte{})
		if !expectStatus(t, res, http.StatusCreated) {
			return
		}
		expectHeaderSet(t, res, "Location")
		if got := head(t, dst); got != http.StatusOK {
			t.Errorf("HEAD after automatic mount: %d, want 200", got)
		}
	})

	t.Run("mount with an invalid digest is 400 or a plain upload", func(t *testing.T) {
		dst := reg.repo(t, "mount-dst")
		res := reg.do(t, http.MethodPost, "/v2/"+dst+"/blobs/uploads/?mount=sha256:nothex&from="+src, []byte{})
		if res.Status != http.StatusAccepted {
			expectErr(t, res, http.StatusBadRequest, "DIGEST_INVALID")
		}
	})
}
