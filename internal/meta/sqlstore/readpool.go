package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/berth-registry/berth/internal/meta"
)

// readConn is a connection checked out of the read pool for good, with the
// read queries and the BEGIN/END statements prepared on it. Only the View
// holding it uses it.
type readConn struct {
	c          *sql.Conn
	stmts      map[string]*sql.Stmt
	begin, end *sql.Stmt
}

func (rc *readConn) close() error {
	var errs []error
	for _, st := range rc.stmts {
		errs = append(errs, st.Close())
	}
	for _, st := range []*sql.Stmt{rc.begin, rc.end} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, rc.c.Close())...)
}

// readPool hands out readConns. tokens holds one entry per connection the
// pool may have: a ready connection, or nil for one not opened yet (or
// discarded after an error).
type readPool struct {
	db        *sql.DB
	d         *Dialect
	tokens    chan *readConn
	closed    chan struct{} // closed by close: get fails from then on
	closeOnce sync.Once
	closeErr  error
}

func newReadPool(db *sql.DB, d *Dialect, size int) *readPool {
	p := &readPool{db: db, d: d, tokens: make(chan *readConn, size), closed: make(chan struct{})}
	for range size {
		p.tokens <- nil
	}
	return p
}

func (p *readPool) get(ctx context.Context) (*readConn, error) {
	var rc *readConn
	select {
	case <-p.closed:
		return nil, meta.ErrClosed
	default:
	}
	select {
	case rc = <-p.tokens:
	case <-p.closed:
		return nil, meta.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if rc != nil {
		return rc, nil
	}
	rc, err := p.open(ctx)
	if err != nil {
		p.tokens <- nil
		return nil, err
	}
	return rc, nil
}

func (p *readPool) open(ctx context.Context) (*readConn, error) {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("meta: read connection: %w", err)
	}
	rc := &readConn{c: c, stmts: make(map[string]*sql.Stmt, len(readQueries))}
	prepare := func(q string) (*sql.Stmt, error) {
		st, err := c.PrepareContext(ctx, q)
		if err != nil {
			_ = rc.close()
			return nil, fmt.Errorf("meta: prepare %q: %w", q, err)
		}
		return st, nil
	}
	end := p.d.EndRead
	if end == "" {
		end = "ROLLBACK"
	}
	if rc.begin, err = prepare(p.d.BeginRead); err != nil {
		return nil, err
	}
	if rc.end, err = prepare(end); err != nil {
		return nil, err
	}
	for _, q := range readQueries {
		if rc.stmts[q], err = prepare(p.d.rebind(q)); err != nil {
			return nil, err
		}
	}
	return rc, nil
}

// put returns rc to the pool, or closes it and frees its slot when broken.
func (p *readPool) put(rc *readConn, broken bool) {
	if broken {
		_ = rc.close()
		rc = nil
	}
	p.tokens <- rc
}

// close refuses new Views, waits for every connection to come back and
// closes them. Closing twice is harmless.
func (p *readPool) close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		var errs []error
		for range cap(p.tokens) {
			if rc := <-p.tokens; rc != nil {
				errs = append(errs, rc.close())
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// viewConn runs fn between BeginRead and EndRead on a pooled connection.
func (s *Store) viewConn(ctx context.Context, fn func(*txn) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err // before a connection is at stake
	}
	rc, err := s.rpool.get(ctx)
	if err != nil {
		return err
	}
	ended := false
	defer func() {
		if !ended { // fn panicked: end the transaction anyway
			_, eerr := rc.end.ExecContext(context.Background())
			s.rpool.put(rc, eerr != nil)
		}
	}()
	if _, err := rc.begin.ExecContext(ctx); err != nil {
		ended = true
		// The transaction may or may not have started; a fresh
		// connection is the safe way on.
		s.rpool.put(rc, true)
		return fmt.Errorf("meta: begin read: %w", err)
	}
	t := txn{ctx: ctx, s: s, q: rc.c, stmts: rc.stmts}
	ferr := fn(&t)
	ended = true
	_, eerr := rc.end.ExecContext(context.Background())
	s.rpool.put(rc, eerr != nil)
	if ferr != nil {
		return ferr
	}
	if eerr != nil {
		return fmt.Errorf("meta: end read: %w", eerr)
	}
	return nil
}
