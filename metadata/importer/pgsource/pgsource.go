// Package pgsource is the PostgreSQL source of `rulehook import`: the old app's database, read
// through pgx in one read-only, repeatable-read transaction (so every kind comes from the same
// snapshot and nothing can be written by mistake), a row at a time.
//
// It imports pgx, package importer and the standard library.
package pgsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rulehook/rulehook/metadata/importer"
)

// The sample's schema (seed: user_data.fav_genre, songs(song_id, songname, user_id)). Songs are
// read grouped by user, in song_id order within each, so that each user's list is written once.
const (
	DefaultGenresQuery = `SELECT user_id, fav_genre FROM user_data`
	DefaultSongsQuery  = `SELECT user_id, songname FROM songs ORDER BY user_id, song_id`
)

// DefaultConnectTimeout bounds the connection when the URL sets no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// Queries are the SELECTs of each kind, each returning user_id and one value column. An empty
// query means the kind is not imported.
type Queries struct {
	Plays, Genres, Songs string
}

// Source reads a PostgreSQL database. Close it.
type Source struct {
	conn    *pgx.Conn
	tx      pgx.Tx
	queries map[importer.Kind]string
	where   string // host:port, for messages
}

// Open connects to the database at rawURL (postgres://...) and begins a read-only transaction. Errors wrap
// importer.ErrUsage (a URL that cannot be parsed) or importer.ErrConnect; their text names the
// host and port, never the password.
func Open(ctx context.Context, rawURL string, q Queries) (*Source, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: the PostgreSQL URL cannot be parsed: %s", importer.ErrUsage, scrubbed(err, urlPassword(rawURL)))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	s := &Source{where: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), queries: map[importer.Kind]string{
		importer.Plays: trim(q.Plays), importer.Genres: trim(q.Genres), importer.Songs: trim(q.Songs),
	}}
	s.conn, err = pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot connect to PostgreSQL at %s (user %q, database %q): %s",
			importer.ErrConnect, s.where, cfg.User, cfg.Database, scrubbed(err, cfg.Password))
	}
	s.tx, err = s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		s.conn.Close(ctx)
		return nil, s.fail("begin a read-only transaction", err, cfg.Password)
	}
	return s, nil
}

// Close ends the transaction (nothing was written) and the connection.
func (s *Source) Close(ctx context.Context) error {
	_ = s.tx.Rollback(ctx)
	return s.conn.Close(ctx)
}

// Has reports whether kind has a query.
func (s *Source) Has(kind importer.Kind) bool { return s.queries[kind] != "" }

// Count runs SELECT count(*) over kind's query. Errors as for Rows.
func (s *Source) Count(ctx context.Context, kind importer.Kind) (int64, error) {
	var n int64
	q := "SELECT count(*) FROM (" + s.queries[kind] + ") AS rulehook_import"
	if err := s.tx.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		return -1, s.fail(string(kind)+" query", err, "")
	}
	return n, nil
}

// Rows runs kind's query and calls fn with each row as the server sends it, values in text
// form. Errors wrap importer.ErrUsage (a query PostgreSQL rejects, or one that does not return
// two columns) or importer.ErrConnect (the connection failed), or are fn's.
func (s *Source) Rows(ctx context.Context, kind importer.Kind, fn func(importer.Row) error) error {
	rows, err := s.tx.Query(ctx, s.queries[kind], pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return s.fail(string(kind)+" query", err, "")
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 2 {
			return fmt.Errorf("%w: the %s query returns %d columns; want 2: user_id and the value", importer.ErrUsage, kind, len(raw))
		}
		n++
		row := importer.Row{Num: n, UserID: string(raw[0]), Value: string(raw[1]), NullUser: raw[0] == nil, NullValue: raw[1] == nil}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail(string(kind)+" query", err, "")
	}
	return nil
}

// fail wraps a PostgreSQL error: one the server answered (bad SQL) is a usage error, anything
// else a connection failure.
func (s *Source) fail(what string, err error, password string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("%w: %s: %s", importer.ErrUsage, what, scrubbed(err, password))
	}
	return fmt.Errorf("%w: PostgreSQL at %s: %s: %s", importer.ErrConnect, s.where, what, scrubbed(err, password))
}

// scrubbed is err's text with the password cut out, in case a layer below repeated it.
func scrubbed(err error, password string) string {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	return msg
}

func urlPassword(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

func trim(q string) string { return strings.TrimRight(strings.TrimSpace(q), "; \t\n") }
