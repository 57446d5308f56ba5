// Package sbomtest builds image layers with package databases for tests:
// tar layers, rpm's sqlite database with headers encoded as rpm stores
// them, and Go binaries built offline from the module cache.
package sbomtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// File is one entry of a layer: a regular file (Mode 0 = 0644).
type File struct {
	Name string
	Body []byte
	Mode int64
}

// Text is a regular file with a text body.
func Text(name, body string) File { return File{Name: name, Body: []byte(body)} }

// Layer returns an uncompressed tar layer holding files (with their parent
// directories).
func Layer(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.Name); d != "." && d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: mode, Size: int64(len(f.Body)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip compresses a layer.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// RPMTag is one header entry: a string, or an int32 when Int.
type RPMTag struct {
	Tag int32
	S   string
	I   int32
	Int bool
}

// Header tags RPMHeader fills for RPM.
const (
	TagName      = 1000
	TagVersion   = 1001
	TagRelease   = 1002
	TagEpoch     = 1003
	TagSummary   = 1004
	TagArch      = 1022
	TagSourceRPM = 1044
)

// RPMHeader builds a header blob as rpm stores it in rpmdb.sqlite: il, dl,
// the index (a HEADERIMMUTABLE region entry first), then the data store
// ending with the region trailer.
func RPMHeader(tags []RPMTag) []byte {
	il := len(tags) + 1
	var data []byte
	entry := func(tag int32, typ uint32, off int32, count uint32) []byte {
		e := make([]byte, 16)
		binary.BigEndian.PutUint32(e[0:], uint32(tag))
		binary.BigEndian.PutUint32(e[4:], typ)
		binary.BigEndian.PutUint32(e[8:], uint32(off))
		binary.BigEndian.PutUint32(e[12:], count)
		return e
	}
	var rest []byte
	for _, t := range tags {
		if t.Int {
			for len(data)%4 != 0 {
				data = append(data, 0)
			}
			rest = append(rest, entry(t.Tag, 4, int32(len(data)), 1)...)
			data = binary.BigEndian.AppendUint32(data, uint32(t.I))
			continue
		}
		rest = append(rest, entry(t.Tag, 6, int32(len(data)), 1)...)
		data = append(append(data, t.S...), 0)
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	trailerOff := len(data)
	data = append(data, entry(63, 7, -int32(il*16), 16)...)
	index := append(entry(63, 7, int32(trailerOff), 16), rest...)
	out := binary.BigEndian.AppendUint32(nil, uint32(il))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	return append(append(out, index...), data...)
}

// RPM is an installed rpm package.
type RPM struct {
	Name, Version, Release string
	Epoch                  int32 // < 0: no epoch tag
	Arch, SourceRPM        string
}

// Header is p's header blob.
func (p RPM) Header() []byte {
	tags := []RPMTag{
		{Tag: TagName, S: p.Name}, {Tag: TagVersion, S: p.Version}, {Tag: TagRelease, S: p.Release},
		{Tag: TagSummary, S: "summary of " + p.Name}, {Tag: TagArch, S: p.Arch}, {Tag: TagSourceRPM, S: p.SourceRPM},
	}
	if p.Epoch >= 0 {
		tags = append(tags, RPMTag{Tag: TagEpoch, I: p.Epoch, Int: true})
	}
	return RPMHeader(tags)
}

// RPMSchema is the Packages table of rpm's sqlite backend.
const RPMSchema = "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"

// RPMDB creates an sqlite database with the schema holding blobs (as
// headers) and returns its bytes.
func RPMDB(t testing.TB, schema string, blobs ...[]byte) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoBinary builds, offline, a static Go program (module example.com/hello)
// that requires the modules given as path → version (they must be in the
// module cache, with their go.sum lines in sum) and returns it.
func GoBinary(t testing.TB, requires map[string]string, imports []string, sum string) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool: %v", err)
	}
	dir := t.TempDir()
	mod := "module example.com/hello\n\ngo 1.21\n"
	for p, v := range requires {
		mod += "\nrequire " + p + " " + v + "\n"
	}
	src := "package main\n\nimport (\n\t\"fmt\"\n"
	for _, imp := range imports {
		src += "\t_ \"" + imp + "\"\n"
	}
	src += ")\n\nfunc main() { fmt.Println(\"hello\") }\n"
	for name, body := range map[string]string{"go.mod": mod, "main.go": src, "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build (offline, from the module cache): %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
