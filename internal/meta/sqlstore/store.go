package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

var (
	_ meta.Store = (*Store)(nil)
	_ meta.Tx    = (*txn)(nil)
)

// maxAttempts bounds how often Update runs fn when the dialect reports a
// retryable failure (PostgreSQL serialization failures and deadlocks).
const maxAttempts = 5

// Store is a meta.Store on database/sql.
type Store struct {
	read, write *sql.DB
	d           Dialect
	rstmts      map[string]*sql.Stmt // when d.BeginRead == ""
	wstmts      map[string]*sql.Stmt
	rpool       *readPool // when d.BeginRead != ""
	closed      atomic.Bool
	adhoc       atomic.Int64 // queries prepared per use (not in readQueries/writeQueries)
	events      meta.Signal  // notified when events were committed
	closeOnce   sync.Once
	closeErr    error
}

// New returns a Store that runs View on read and Update on write (which may
// be the same pool) and brings the schema to the latest version of
// d.Migrations first. The Store owns both pools: Close closes them. With
// d.BeginRead set, Views keep up to read's MaxOpenConnections (8 if
// unlimited) connections checked out for good.
func New(ctx context.Context, read, write *sql.DB, d Dialect) (*Store, error) {
	s := &Store{read: read, write: write, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	wc, err := newStmtCache(ctx, write, &s.d, append(slices.Clone(readQueries), writeQueries...))
	if err != nil {
		return nil, err
	}
	s.wstmts = wc.m
	if d.BeginRead != "" {
		size := read.Stats().MaxOpenConnections
		if size <= 0 {
			size = 8
		}
		s.rpool = newReadPool(read, &s.d, size)
		return s, nil
	}
	rc, err := newStmtCache(ctx, read, &s.d, readQueries)
	if err != nil {
		_ = wc.close()
		return nil, err
	}
	s.rstmts = rc.m
	return s, nil
}

// View runs fn in a read-only transaction: every read in fn sees the same
// snapshot.
func (s *Store) View(ctx context.Context, fn func(meta.Reader) error) (err error) {
	if s.closed.Load() {
		return meta.ErrClosed
	}
	if s.rpool != nil {
		return s.viewConn(ctx, func(t *txn) error { return fn(t) })
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.d.ReadIsolation})
	if err != nil {
		return fmt.Errorf("meta: begin read: %w", err)
	}
	t := txn{ctx: ctx, tx: tx, q: tx, s: s, stmts: s.rstmts}
	defer func() {
		// A read transaction has nothing to commit; ending it either way
		// releases the snapshot. Rollback also runs when fn panics.
		if rerr := tx.Rollback(); rerr != nil && err == nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = fmt.Errorf("meta: end read: %w", rerr)
		}
	}()
	return fn(&t)
}

// Update runs fn in a read-write transaction and commits when fn returns
// nil. fn's error is returned unchanged. When the dialect reports a failure
// as retryable, fn runs again in a new transaction (a few times at most), so
// fn must not keep state across attempts. Update must not be called from
// inside fn.
func (s *Store) Update(ctx context.Context, fn func(meta.Tx) error) error {
	return s.retry(ctx, fn, false)
}

// UpdateAsync is Update with an asynchronous commit (see meta.Store).
func (s *Store) UpdateAsync(ctx context.Context, fn func(meta.Tx) error) error {
	if s.d.AsyncBefore == "" && s.d.AsyncInTx == "" && s.d.Durable == nil {
		return s.retry(ctx, fn, false)
	}
	return s.retry(ctx, fn, true)
}

func (s *Store) retry(ctx context.Context, fn func(meta.Tx) error, async bool) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.update(ctx, fn, async)
		if attempt >= maxAttempts || !s.d.retryable(err) || ctx.Err() != nil {
			return err
		}
		// Writers that collided would collide again at once: wait a
		// random while, longer after each failure.
		wait := time.Duration(rand.Int64N(int64(min(time.Millisecond<<attempt, 100*time.Millisecond))))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(meta.Tx) error, async bool) (err error) {
	if s.closed.Load() {
		return meta.ErrClosed
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("meta: begin: %w", err)
	}
	defer conn.Close()
	if s.d.AsyncAfter != "" {
		if async {
			if _, err := conn.ExecContext(ctx, s.d.AsyncBefore); err != nil {
				return fmt.Errorf("meta: begin async: %w", err)
			}
		}
		// Put the connection back to durable commits whatever happens, and
		// drop it if that fails, so no later Update commits asynchronously.
		defer func() {
			if !async {
				return
			}
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), s.d.AsyncAfter); rerr != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				if err == nil {
					err = fmt.Errorf("meta: end async: %w", rerr)
				}
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: s.d.WriteIsolation})
	if err != nil {
		return fmt.Errorf("meta: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if async && s.d.AsyncInTx != "" {
		if _, err := tx.ExecContext(ctx, s.d.AsyncInTx); err != nil {
			return fmt.Errorf("meta: begin async: %w", err)
		}
	}
	t := txn{ctx: ctx, tx: tx, q: tx, s: s, stmts: s.wstmts}
	if err := fn(&t); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("meta: commit: %w", err)
	}
	if !async && s.d.Durable != nil {
		// The write connection is free again: the next writer commits
		// while this one waits for the shared sync.
		conn.Close()
		if err := s.d.Durable(); err != nil {
			return fmt.Errorf("meta: commit: %w", err)
		}
	}
	if t.appended {
		s.events.Notify()
	}
	return nil
}

// EventsAppended returns a channel closed when a transaction of this
// process that appended outbox events commits, so that the outbox's
// readers need not wait for their next poll (other nodes' writes are not
// seen: there they still poll).
func (s *Store) EventsAppended() <-chan struct{} { return s.events.C() }

// Close closes the prepared statements and both pools. It waits for running
// Views to end, so it must not be called from inside one.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.close()
	})
	return s.closeErr
}

func (s *Store) close() error {
	var errs []error
	if s.rpool != nil {
		errs = append(errs, s.rpool.close())
	}
	rc, wc := stmtCache{m: s.rstmts}, stmtCache{m: s.wstmts}
	errs = append(errs, rc.close(), wc.close(), s.write.Close())
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	return errors.Join(errs...)
}

// stmtCache holds one *sql.Stmt per query text for one pool, all prepared
// when the Store is created: preparing later on the pool could wait forever
// for a connection when the pool has one and a transaction holds it.
// database/sql prepares each statement again on every other connection the
// first time a transaction there uses it (Tx.StmtContext).
type stmtCache struct {
	m map[string]*sql.Stmt // query (with '?') -> statement; read-only once built
}

func newStmtCache(ctx context.Context, db *sql.DB, d *Dialect, queries []string) (stmtCache, error) {
	c := stmtCache{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		if _, ok := c.m[q]; ok {
			continue
		}
		st, err := db.PrepareContext(ctx, d.rebind(q))
		if err != nil {
			_ = c.close()
			return stmtCache{}, fmt.Errorf("meta: prepare %q: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

func (c *stmtCache) close() error {
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// querier is what *sql.Tx and *sql.Conn have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// txn implements meta.Tx (and, in View, meta.Reader). It runs either in an
// *sql.Tx (tx set; stmts are pool statements bound with Tx.StmtContext) or
// on a read connection inside BeginRead/EndRead (tx nil; stmts are prepared
// on that connection).
type txn struct {
	ctx   context.Context
	s     *Store
	q     querier
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	// appended: AppendEvent ran (the commit notifies the readers).
	appended bool
}

// stmt returns q prepared on the transaction's connection.
func (t *txn) stmt(q string) (*sql.Stmt, error) {
	st, ok := t.stmts[q]
	if ok && t.tx != nil {
		return t.tx.StmtContext(t.ctx, st), nil
	}
	if ok {
		return st, nil
	}
	// Not in readQueries/writeQueries: prepare it here (slower).
	t.s.adhoc.Add(1)
	st, err := t.q.PrepareContext(t.ctx, t.s.d.rebind(q))
	if err != nil {
		return nil, fmt.Errorf("meta: prepare %q: %w", q, err)
	}
	if t.tx == nil {
		t.stmts[q] = st // the read connection's own cache
	}
	return st, nil
}

func (t *txn) queryRow(q string, args []any, dest ...any) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(t.ctx, args...).Scan(dest...)
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// execOne runs a statement that must affect a row; ErrNotFound otherwise.
func (t *txn) execOne(what string, q string, args ...any) error {
	res, err := t.exec(q, args...)
	if err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("meta: %s: %w", what, meta.ErrNotFound)
	}
	return nil
}

// column runs a query returning one text column.
func (t *txn) column(what, q string, args ...any) ([]string, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("meta: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	return out, nil
}

// notFound maps sql.ErrNoRows to meta.ErrNotFound and wraps other errors.
func notFound(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("meta: %s: %w", what, meta.ErrNotFound)
	}
	return fmt.Errorf("meta: %s: %w", what, err)
}

// RawQueryRow runs an arbitrary single-row query in the transaction, for
// diagnostics and tests (PRAGMAs, row counts). Callers reach it with a type
// assertion on the meta.Reader or meta.Tx; the query is not rebound.
func (t *txn) RawQueryRow(q string, args []any, dest ...any) error {
	return t.q.QueryRowContext(t.ctx, q, args...).Scan(dest...)
}
