package importer

import (
	"context"
	"errors"

	"github.com/rulehook/rulehook/metadata"
)

// Kind is one kind of imported data.
type Kind string

// The kinds, in the order Run imports them.
const (
	Plays  Kind = "plays"
	Genres Kind = "genres"
	Songs  Kind = "songs"
)

// Kinds lists every kind in import order.
var Kinds = []Kind{Plays, Genres, Songs}

// Row is one row of a source: a user and one value. Num is its position for the report (the
// row number of a query, the line of a file), counted from 1.
type Row struct {
	Num    int64
	UserID string
	Value  string
	// NullUser and NullValue report SQL NULLs (an empty CSV field is "", not NULL).
	NullUser, NullValue bool
	// Bad, when set, says why the source could not read the row (a malformed CSV record).
	Bad string
}

// Source streams the rows of each kind it holds.
type Source interface {
	// Has reports whether the source holds kind (PostgreSQL holds plays only with a query).
	Has(kind Kind) bool
	// Count returns how many rows kind has, for the progress line; -1 when unknown.
	Count(ctx context.Context, kind Kind) (int64, error)
	// Rows calls fn with each row of kind in order, and stops at fn's first error, returning it.
	Rows(ctx context.Context, kind Kind, fn func(Row) error) error
}

// Store writes imported data (redisstore.Store). Each call is one batch; results are in order.
type Store interface {
	ImportPlays(ctx context.Context, mode metadata.PlaysMode, rows []metadata.PlaysRow) ([]metadata.ImportOutcome, error)
	ImportGenres(ctx context.Context, rows []metadata.UserValue) ([]metadata.ImportOutcome, error)
	ImportSongs(ctx context.Context, run string, lists []metadata.SongList) ([]int, error)
}

// Errors of sources and Run. A command exits 2 on either.
var (
	// ErrUsage: the source cannot be read as asked (a bad query, a CSV without the header).
	ErrUsage = errors.New("usage")
	// ErrConnect: the source or the store cannot be reached.
	ErrConnect = errors.New("connection failed")
)
