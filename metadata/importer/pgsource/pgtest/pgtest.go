// Package pgtest gives tests a PostgreSQL database of their own on the server CI provides
// (127.0.0.1:5432, user postgres, trust authentication; .ci/run starts it): a randomly named
// database created for the test and dropped when it ends. Other databases are never touched.
// An unreachable server fails the test with the way to fix it; it is never a skip.
//
// It imports pgx and the standard library.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerEnv names the variable holding the URL of the server's maintenance database, to use
// another server than DefaultServer.
const ServerEnv = "RULEHOOK_TEST_POSTGRES"

// DefaultServer is the server CI provides.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// SampleSchema is the seed's schema (user_data.fav_genre, songs(song_id, songname, user_id))
// with a plays table of rulehook's own, since the seed does not show its plays table.
const SampleSchema = `
CREATE TABLE user_data (user_id text PRIMARY KEY, fav_genre text);
CREATE TABLE songs (song_id serial PRIMARY KEY, songname text, user_id text);
CREATE TABLE plays (user_id text, plays bigint);
`

// Sample creates a database with SampleSchema and n users, auth0|u000 to auth0|u<n-1>: user i
// has the genre "genre <i%7>", i plays, and i%4 songs named "song <i>.<k>", inserted round-robin
// over the users so that song_id order interleaves them.
func Sample(tb testing.TB, n int) *DB {
	tb.Helper()
	db := New(tb)
	db.Exec(tb, SampleSchema)
	db.Exec(tb, `INSERT INTO user_data SELECT 'auth0|u' || lpad(i::text, 3, '0'), 'genre ' || (i % 7) FROM generate_series(0, $1 - 1) i`, n)
	db.Exec(tb, `INSERT INTO plays SELECT 'auth0|u' || lpad(i::text, 3, '0'), i FROM generate_series(0, $1 - 1) i`, n)
	db.Exec(tb, `INSERT INTO songs (songname, user_id)
		SELECT 'song ' || i || '.' || k, 'auth0|u' || lpad(i::text, 3, '0')
		FROM generate_series(0, 3) k, generate_series(0, $1 - 1) i WHERE k < i % 4 ORDER BY k, i`, n)
	return db
}

// SampleUser is the id of user i of Sample.
func SampleUser(i int) string { return fmt.Sprintf("auth0|u%03d", i) }

// DB is a test's own database.
type DB struct {
	// URL connects to the database.
	URL  string
	Name string
	Conn *pgx.Conn
}

// New creates a database with a random name, connects to it, and drops it when the test ends.
func New(tb testing.TB) *DB {
	tb.Helper()
	server := os.Getenv(ServerEnv)
	if server == "" {
		server = DefaultServer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		tb.Fatalf("PostgreSQL is needed at %s (set %s for another server; .ci/run starts it): %v",
			strings.SplitN(server, "?", 2)[0], ServerEnv, err)
	}
	name := "rulehook_test_" + strings.ToLower(rand.Text())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		tb.Fatalf("create database %s: %v", name, err)
	}
	cfg := admin.Config().ConnString()
	db := &DB{Name: name, URL: withDatabase(cfg, name)}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if db.Conn != nil {
			db.Conn.Close(ctx)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
		admin.Close(ctx)
	})
	if db.Conn, err = pgx.Connect(ctx, db.URL); err != nil {
		tb.Fatalf("connect to %s: %v", name, err)
	}
	return db
}

// Exec runs sql (several statements are allowed) and fails the test on error.
func (db *DB) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := db.Conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func withDatabase(connString, name string) string {
	base, query, _ := strings.Cut(connString, "?")
	if i := strings.LastIndex(base, "/"); i > len("postgres://") {
		base = base[:i]
	}
	if query != "" {
		return fmt.Sprintf("%s/%s?%s", base, name, query)
	}
	return base + "/" + name
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}
