package sbom

import (
	"archive/tar"
	"context"
	"io"
	"path"
	"strings"
)

// node is one path of the merged filesystem that Build keeps: a candidate
// file (its bytes, or the packages of a Go binary parsed as it streamed
// by), a marker for an unsupported database, or a symlink.
type node struct {
	kind kind
	data []byte
	pkgs []found  // kindGoBinary
	note []string // warnings about this file, dropped with it
	link string   // symlink target, cleaned, relative to the root
}

// state is the merged filesystem so far, restricted to kept nodes.
type state struct {
	opts  Options
	nodes map[string]*node
	bytes int64
	warn  warnings
	buf   []byte // reused for executables
}

func newState(opts Options) *state {
	return &state{opts: opts, nodes: map[string]*node{}}
}

// delta is what one layer does to the lower layers, applied when the layer
// ends: OCI whiteouts delete from lower layers only, so entries of the same
// layer must survive them.
type delta struct {
	removeTree map[string]bool // whiteout, or a non-directory replacing a path: the path and all below
	opaque     map[string]bool // opaque directory: everything below
	removeFile map[string]bool // a directory replacing a lower non-directory
	added      map[string]*node
	bytes      int64
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// cleanPath turns a tar name into a root-relative path ("etc/os-release");
// "" is the root itself.
func cleanPath(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

// readLayer streams one layer into the state.
func (s *state) readLayer(ctx context.Context, idx int, r io.Reader) error {
	// dirs holds every directory that is an ancestor of a kept node, to
	// decide cheaply whether an entry of this layer hides something.
	dirs := map[string]bool{}
	for p := range s.nodes {
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	d := &delta{removeTree: map[string]bool{}, opaque: map[string]bool{}, removeFile: map[string]bool{}, added: map[string]*node{}}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				s.warn.add("layer %d: not a tar stream: %v", idx, err)
			} else {
				s.warn.add("layer %d: tar stream ends early after %d entries: %v", idx, n, err)
			}
			break
		}
		if len(hdr.Name) > maxPathLen || len(hdr.Linkname) > maxPathLen {
			s.warn.add("layer %d: skipped entries with paths longer than %d bytes", idx, maxPathLen)
			continue
		}
		p := cleanPath(hdr.Name)
		if p == "" {
			continue
		}
		dir, base := path.Dir(p), path.Base(p)
		if dir == "." {
			dir = ""
		}
		if base == opaqueMarker {
			if dirs[dir] || dir == "" {
				d.opaque[dir] = true
			}
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			if strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) {
				continue // other aufs metadata (.wh..wh.plnk, ...)
			}
			target := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
			if s.nodes[target] != nil || dirs[target] {
				d.removeTree[target] = true
			}
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			if s.nodes[p] != nil {
				d.removeFile[p] = true
			}
			continue
		}
		// Any other entry replaces whatever the lower layers had there.
		if s.nodes[p] != nil || dirs[p] {
			d.removeTree[p] = true
		}
		delete(d.added, p)
		if err := s.entry(idx, tr, hdr, p, d); err != nil {
			s.warn.add("layer %d: tar stream ends early in %s: %v", idx, p, err)
			break
		}
	}
	s.apply(d)
	return nil
}

// entry handles one non-directory entry; an error means the stream broke.
func (s *state) entry(idx int, tr *tar.Reader, hdr *tar.Header, p string, d *delta) error {
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if classify(p) == kindNone && strings.Count(p, "/") > 3 {
			return nil // only candidates and shallow (directory) links matter
		}
		target := hdr.Linkname
		if !strings.HasPrefix(target, "/") {
			target = path.Join(path.Dir("/"+p), target)
		}
		s.add(idx, d, p, &node{link: cleanPath(target)}, 0)
	case tar.TypeLink:
		target := cleanPath(hdr.Linkname)
		src := d.added[target]
		if src == nil {
			src = s.nodes[target]
		}
		if src == nil || src.link != "" {
			return nil
		}
		k := classify(p)
		if src.kind == kindGoBinary {
			k = kindGoBinary
		}
		if k == kindNone {
			return nil
		}
		s.add(idx, d, p, &node{kind: k, data: src.data, pkgs: src.pkgs, note: src.note}, 0)
	case tar.TypeReg, tar.TypeRegA:
		k := classify(p)
		switch {
		case k == kindRPMBerkeley || k == kindRPMNDB:
			s.add(idx, d, p, &node{kind: k}, 0)
		case k != kindNone:
			if hdr.Size > s.opts.MaxFileSize {
				s.warn.add("/%s: %d bytes, larger than the %d-byte limit: skipped", p, hdr.Size, s.opts.MaxFileSize)
				return nil
			}
			if !s.room(idx, d, p, hdr.Size) {
				return nil // checked before allocating
			}
			data := make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, data); err != nil {
				return err
			}
			s.add(idx, d, p, &node{kind: k, data: data}, hdr.Size)
		case hdr.Mode&0o111 != 0 && hdr.Size >= 64:
			return s.executable(idx, tr, hdr, p, d)
		}
	}
	return nil
}

// executable parses an executable ELF file for Go build information as it
// streams by, keeping only the module list.
func (s *state) executable(idx int, tr *tar.Reader, hdr *tar.Header, p string, d *delta) error {
	var magic [4]byte
	if _, err := io.ReadFull(tr, magic[:]); err != nil {
		return err
	}
	if string(magic[:]) != "\x7fELF" {
		return nil
	}
	if hdr.Size > s.opts.MaxFileSize {
		s.warn.add("/%s: executable of %d bytes, larger than the %d-byte limit: not inspected", p, hdr.Size, s.opts.MaxFileSize)
		return nil
	}
	if int64(cap(s.buf)) < hdr.Size {
		s.buf = make([]byte, hdr.Size)
	}
	buf := s.buf[:hdr.Size]
	copy(buf, magic[:])
	if _, err := io.ReadFull(tr, buf[4:]); err != nil {
		return err
	}
	pkgs, note := goBinary(buf)
	if len(pkgs) == 0 && len(note) == 0 {
		return nil // not a Go binary
	}
	s.add(idx, d, p, &node{kind: kindGoBinary, pkgs: pkgs, note: note}, 0)
	return nil
}

// room reports whether one more node of size bytes fits the bounds,
// warning when it does not.
func (s *state) room(idx int, d *delta, p string, size int64) bool {
	if len(s.nodes)+len(d.added) >= s.opts.MaxFiles {
		s.warn.add("layer %d: more than %d candidate files: some skipped", idx, s.opts.MaxFiles)
		return false
	}
	if s.bytes+d.bytes+size > s.opts.MaxTotalSize {
		s.warn.add("layer %d: candidate files exceed %d bytes in total: /%s skipped", idx, s.opts.MaxTotalSize, p)
		return false
	}
	return true
}

// add records a node of the current layer, within the bounds.
func (s *state) add(idx int, d *delta, p string, n *node, size int64) {
	if !s.room(idx, d, p, size) {
		return
	}
	d.bytes += size
	d.added[p] = n
}

// apply merges a finished layer into the state.
func (s *state) apply(d *delta) {
	if len(d.removeTree)+len(d.opaque)+len(d.removeFile) > 0 {
		for p, n := range s.nodes {
			if hidden(p, d) {
				s.bytes -= int64(len(n.data))
				delete(s.nodes, p)
			}
		}
	}
	for p, n := range d.added {
		if old := s.nodes[p]; old != nil {
			s.bytes -= int64(len(old.data))
		}
		s.nodes[p] = n
		s.bytes += int64(len(n.data))
	}
}

// hidden reports whether a lower-layer path is removed by the layer.
func hidden(p string, d *delta) bool {
	if d.removeFile[p] || d.removeTree[p] {
		return true
	}
	for q := p; ; {
		i := strings.LastIndexByte(q, '/')
		if i < 0 {
			return d.opaque[""]
		}
		q = q[:i]
		if d.removeTree[q] || d.opaque[q] {
			return true
		}
	}
}

// lookup resolves symlinks (in any component) and returns the node a path
// names, or nil.
func (s *state) lookup(p string) (string, *node) {
	const maxHops = 40
	hops := 0
	for {
		parts := strings.Split(p, "/")
		resolved := false
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			n := s.nodes[prefix]
			if n == nil || n.link == "" {
				continue
			}
			if hops++; hops > maxHops {
				return "", nil
			}
			p = cleanPath(path.Join(n.link, strings.Join(parts[i:], "/")))
			resolved = true
			break
		}
		if !resolved {
			n := s.nodes[p]
			if n == nil || n.link != "" {
				return "", nil
			}
			return p, n
		}
	}
}
