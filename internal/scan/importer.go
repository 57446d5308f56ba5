package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/vuln/osv"
)

// Import limits.
const (
	maxImport      = 4 << 30  // bytes of one upload
	maxRecord      = 16 << 20 // bytes of one advisory
	importBatch    = 500      // advisories per transaction
	maxImportNotes = 20       // errors reported
)

// Import reads OSV advisories — one record, a JSON array of records, or a
// zip of record files as OSV publishes them per ecosystem (all.zip) — and
// stores those that are new or newer than the stored ones. source names
// the import in the database's state. Stored scans are matched again
// afterwards (see Rematch).
func (s *Service) Import(ctx context.Context, r io.Reader, source string) (ImportResult, error) {
	f, err := os.CreateTemp("", "berth-osv-*")
	if err != nil {
		return ImportResult{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, maxImport+1))
	if err != nil {
		return ImportResult{}, fmt.Errorf("reading the advisories: %w", err)
	}
	if n > maxImport {
		return ImportResult{}, fmt.Errorf("%w: more than %d bytes", ErrInvalid, int64(maxImport))
	}
	var res ImportResult
	batch := make([]meta.VulnRecord, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
			c, err := tx.PutVulnRecords(batch)
			res.Changed += c
			return err
		})
		batch = batch[:0]
		return err
	}
	add := func(name string, data []byte) error {
		res.Records++
		rec, err := record(data)
		if err != nil {
			res.Skipped++
			if len(res.Errors) < maxImportNotes {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", name, err))
			}
			return nil
		}
		batch = append(batch, rec)
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	}
	var head [4]byte
	if _, rerr := f.ReadAt(head[:], 0); rerr == nil && string(head[:]) == "PK\x03\x04" {
		err = s.importZip(f, n, add)
	} else {
		err = importJSON(f, add)
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, err
	}
	if res.Records == 0 {
		return res, fmt.Errorf("%w: no advisory found (want an OSV record, a JSON array of them, or a zip of record files)", ErrInvalid)
	}
	err = s.o.Store.Update(ctx, func(tx meta.Tx) error {
		st, err := tx.VulnDBState()
		if err != nil {
			return err
		}
		res.Generation = st.Generation
		if res.Changed == 0 && st.Generation > 0 {
			return nil // nothing new: scans stay matched
		}
		st.Generation++
		st.ImportedAt, st.Source = s.o.Now().UTC(), source
		st.Records += int64(res.Changed)
		res.Generation = st.Generation
		return tx.SetVulnDBState(st)
	})
	if err == nil {
		s.nudgeRematch()
	}
	return res, err
}

func (s *Service) importZip(f *os.File, size int64, add func(string, []byte) error) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%w: zip: %v", ErrInvalid, err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.EqualFold(path.Ext(zf.Name), ".json") {
			continue
		}
		if zf.UncompressedSize64 > maxRecord {
			if err := add(zf.Name, nil); err != nil {
				return err
			}
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%w: zip entry %s: %v", ErrInvalid, zf.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxRecord+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%w: zip entry %s: %v", ErrInvalid, zf.Name, err)
		}
		if err := add(zf.Name, data); err != nil {
			return err
		}
	}
	return nil
}

// importJSON reads one record or an array of records.
func importJSON(f *os.File, add func(string, []byte) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := json.NewDecoder(f)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: not JSON: %v", ErrInvalid, err)
	}
	if d, ok := tok.(json.Delim); ok && d == '[' {
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("%w: record %d: %v", ErrInvalid, i, err)
			}
			if err := add(fmt.Sprintf("record %d", i), raw); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return err
	}
	return add("record", bytes.TrimSpace(data))
}

// record turns an OSV document into a stored advisory.
func record(data []byte) (meta.VulnRecord, error) {
	if len(data) == 0 || len(data) > maxRecord {
		return meta.VulnRecord{}, fmt.Errorf("empty or larger than %d bytes", maxRecord)
	}
	v, err := osv.Parse(data)
	if err != nil {
		return meta.VulnRecord{}, err
	}
	rec := meta.VulnRecord{ID: v.ID, Modified: v.Modified, Withdrawn: v.Withdrawn != nil, Data: compact(data)}
	if rec.Modified.IsZero() {
		rec.Modified = time.Unix(0, 1)
	}
	seen := map[meta.VulnPackage]bool{}
	for _, a := range v.Affected {
		p := meta.VulnPackage{Ecosystem: indexEcosystem(a.Package.Ecosystem), Name: indexName(a.Package.Ecosystem, a.Package.Name)}
		if p.Ecosystem == "" || p.Name == "" || seen[p] {
			continue
		}
		seen[p] = true
		rec.Packages = append(rec.Packages, p)
	}
	return rec, nil
}

func compact(data []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return data
	}
	return b.Bytes()
}
