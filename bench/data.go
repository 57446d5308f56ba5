package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
)

// blobData is a blob held in memory with its digest.
type blobData struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blobData {
	sum := sha256.Sum256(data)
	return blobData{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

// seedFor derives a ChaCha8 seed from the run seed and a path of numbers,
// so every generated blob is reproducible and distinct.
func seedFor(base uint64, path ...uint64) [32]byte {
	buf := make([]byte, 8*(len(path)+1))
	binary.LittleEndian.PutUint64(buf, base)
	for i, p := range path {
		binary.LittleEndian.PutUint64(buf[8*(i+1):], p)
	}
	return sha256.Sum256(buf)
}

// randStream is an io.Reader of exactly n incompressible bytes from a
// seeded PCG generator (math/rand/v2), written as little-endian 64-bit
// words; the same seed yields the same bytes whatever the read sizes.
// PCG is used rather than ChaCha8 because it is about three times faster
// (several GB/s), so generating the stream does not take the CPU the
// registry under test needs on a small machine; statistical randomness, not
// cryptographic strength, is what makes it incompressible.
type randStream struct {
	src   *rand.PCG
	left  int64
	carry [8]byte
	nc    int // unread bytes at the end of carry
}

func newRandStream(seed [32]byte, n int64) *randStream {
	return &randStream{
		src:  rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:16])),
		left: n,
	}
}

func (r *randStream) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for ; r.nc > 0 && n < len(p); n++ {
		p[n] = r.carry[8-r.nc]
		r.nc--
	}
	for ; n+8 <= len(p); n += 8 {
		binary.LittleEndian.PutUint64(p[n:], r.src.Uint64())
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(r.carry[:], r.src.Uint64())
		for r.nc = 8; n < len(p); n++ {
			p[n] = r.carry[8-r.nc]
			r.nc--
		}
	}
	r.left -= int64(n)
	return n, nil
}

// randBlob returns n random bytes for the given seed.
func randBlob(seed [32]byte, n int) blobData {
	b := make([]byte, n)
	_, _ = io.ReadFull(newRandStream(seed, int64(n)), b)
	return newBlob(b)
}

// streamDigest generates the stream once to learn its sha256.
func streamDigest(seed [32]byte, n int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(h, newRandStream(seed, n), buf); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// image is one OCI image: layers, config and manifest, all in memory.
type image struct {
	layers   []blobData
	config   blobData
	manifest blobData
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type ociManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// makeImage builds an image of nLayers random layers of layerSize bytes,
// seeded by (seed, kind, id); id also goes into a config label so images
// with no layers still differ.
func makeImage(seed, kind, id uint64, nLayers, layerSize int) image {
	layers := make([]blobData, 0, nLayers)
	for j := range nLayers {
		layers = append(layers, randBlob(seedFor(seed, kind, id, uint64(j)), layerSize))
	}
	return assembleImage(fmt.Sprintf("%d-%d", kind, id), layers)
}

// assembleImage builds the config (labelled with label, so images of the
// same layers differ) and the manifest of an image made of layers.
func assembleImage(label string, layers []blobData) image {
	img := image{layers: layers}
	cfg := ociConfig{Architecture: "amd64", OS: "linux"}
	cfg.Config.Labels = map[string]string{"bench.id": label}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{}
	m := ociManifest{SchemaVersion: 2, MediaType: mtOCIManifest, Layers: []descriptor{}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.digest)
		m.Layers = append(m.Layers, descriptor{MediaType: mtOCILayer, Digest: l.digest, Size: int64(len(l.data))})
	}
	cb, _ := json.Marshal(cfg)
	img.config = newBlob(cb)
	m.Config = descriptor{MediaType: mtOCIConfig, Digest: img.config.digest, Size: int64(len(cb))}
	mb, _ := json.Marshal(m)
	img.manifest = newBlob(mb)
	return img
}
