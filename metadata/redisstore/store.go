package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// Store is rulehook's data in Redis. It is safe for concurrent use. It does not own the client:
// the caller closes it.
type Store struct {
	rdb             redis.UniversalClient
	auditMaxLen     int64
	userAuditMaxLen int64
}

// Option configures a Store.
type Option func(*Store)

// New returns a Store on rdb (from Open, or any go-redis client).
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, auditMaxLen: DefaultAuditMaxLen, userAuditMaxLen: DefaultUserAuditMaxLen}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping returns an error wrapping metadata.ErrUnavailable unless Redis answers PING.
func (s *Store) Ping(ctx context.Context) error {
	return fail("ping", s.rdb.Ping(ctx).Err())
}

// BeginLogin claims the callout token id jti for userID for ttl and reads the user's play count,
// in one round trip (a pipeline of SET NX EX and GET). It returns metadata.ErrReplay when jti was
// claimed before, an error wrapping metadata.ErrUnavailable when Redis fails, and one wrapping
// metadata.ErrInvalid for a bad argument or a stored count that is not an integer (the jti is
// then claimed). A missing count is reported as not Recorded (CONTRACT rule 6), never as a 0.
func (s *Store) BeginLogin(ctx context.Context, userID, jti string, ttl time.Duration) (metadata.PlayCount, error) {
	var none metadata.PlayCount
	if err := metadata.ValidateUserID(userID); err != nil {
		return none, err
	}
	switch {
	case jti == "" || len(jti) > metadata.MaxJTIBytes:
		return none, fmt.Errorf("%w: jti must have 1 to %d bytes", metadata.ErrInvalid, metadata.MaxJTIBytes)
	case ttl <= 0:
		return none, fmt.Errorf("%w: jti ttl must be positive", metadata.ErrInvalid)
	}
	// The stored value is unique to this call, so that if go-redis re-sends the pipeline after a
	// lost reply, the SET that finds the key can tell its own first attempt from a real replay.
	nonce := loginNonce()
	key := jtiKey(userID, jti)
	pipe := s.rdb.Pipeline()
	claim := pipe.SetNX(ctx, key, nonce, ttl)
	plays := pipe.Get(ctx, PlaysKey(userID))
	_, _ = pipe.Exec(ctx) // errors are read per command below

	if err := claim.Err(); err != nil {
		return none, fail("begin login", err)
	}
	if !claim.Val() {
		owner, err := s.rdb.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return none, fail("begin login", err)
		}
		if owner != nonce {
			return none, metadata.ErrReplay
		}
	}
	return parseCount("begin login", plays)
}

// Login nonces are a random per-process prefix and a counter, 26 characters like rand.Text: unique
// to one call of one process (the prefix's 65 random bits tell processes apart), which is all the
// retry check needs, without reading the random source on every login.
var (
	noncePrefix = rand.Text()[:13]
	nonceSeq    atomic.Uint64
)

func loginNonce() string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // base32, as rand.Text
	var b [26]byte
	copy(b[:], noncePrefix)
	n := nonceSeq.Add(1)
	for i := len(b) - 1; i >= len(noncePrefix); i-- {
		b[i] = digits[n&31]
		n >>= 5
	}
	return string(b[:])
}

// Plays returns the user's play count as the app API shows it: 0 when none is recorded
// (GET /playlists/getPlays answers 0, CONTRACT rule 6), an error wrapping metadata.ErrInvalid
// when the stored value is not an integer, one wrapping metadata.ErrUnavailable when Redis fails.
// The rules read PlayCount instead, which tells an absent count from a 0.
func (s *Store) Plays(ctx context.Context, userID string) (int64, error) {
	c, err := s.PlayCount(ctx, userID)
	return c.N, err
}

// PlayCount returns the user's play count, not Recorded when the key is absent (a new user, an
// emptied, restored or evicting Redis). Errors are those of Plays.
func (s *Store) PlayCount(ctx context.Context, userID string) (metadata.PlayCount, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return metadata.PlayCount{}, err
	}
	return parseCount("plays", s.rdb.Get(ctx, PlaysKey(userID)))
}

func parseCount(op string, cmd *redis.StringCmd) (metadata.PlayCount, error) {
	v, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return metadata.PlayCount{}, nil
	case err != nil:
		return metadata.PlayCount{}, fail(op, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return metadata.PlayCount{}, fmt.Errorf("redis %s: %w: the stored play count is not an integer", op, metadata.ErrInvalid)
	}
	return metadata.PlayCount{N: n, Recorded: true}, nil
}

// RecordPlay adds one play to the user's count atomically and returns the new count. A failed
// call may or may not have counted (the reply can be lost after Redis executed it) but is never
// counted twice. Errors wrap metadata.ErrUnavailable, or metadata.ErrInvalid when the stored
// count is not an integer.
func (s *Store) RecordPlay(ctx context.Context, userID string) (int64, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return 0, err
	}
	cmd := redis.NewIntCmd(ctx, "incr", PlaysKey(userID))
	if err := process(ctx, s.rdb, cmd, false); err != nil {
		return 0, fail("record play", err)
	}
	return cmd.Val(), nil
}

// FavGenre returns the user's favourite genre, or an error wrapping metadata.ErrNotFound when
// none is set (metadata.ErrUnavailable when Redis fails).
func (s *Store) FavGenre(ctx context.Context, userID string) (string, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return "", err
	}
	v, err := s.rdb.Get(ctx, genreKey(userID)).Result()
	if err != nil {
		return "", fail("favourite genre", err)
	}
	return v, nil
}

// SetFavGenre stores the user's favourite genre, normalized with metadata.NormalizeGenre (an error
// wrapping metadata.ErrInvalid when it is not acceptable).
func (s *Store) SetFavGenre(ctx context.Context, userID, genre string) error {
	if err := metadata.ValidateUserID(userID); err != nil {
		return err
	}
	genre, err := metadata.NormalizeGenre(genre)
	if err != nil {
		return err
	}
	return fail("set favourite genre", s.rdb.Set(ctx, genreKey(userID), genre, 0).Err())
}

// Songs returns the user's songs in the order they were added (by increasing id); an empty,
// non-nil slice when there are none.
func (s *Store) Songs(ctx context.Context, userID string) ([]metadata.Song, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return nil, err
	}
	all, err := s.rdb.HGetAll(ctx, songsKey(userID)).Result()
	if err != nil {
		return nil, fail("songs", err)
	}
	out := make([]metadata.Song, 0, len(all))
	for id, name := range all {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis songs: %w: a stored song id is not an integer", metadata.ErrInvalid)
		}
		out = append(out, metadata.Song{ID: n, Name: name})
	}
	slices.SortFunc(out, func(a, b metadata.Song) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

var addSong = newScript(`
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], id, ARGV[1])
return id
`, false)

// AddSong adds a song named name (normalized with metadata.NormalizeSongName) to the user's songs
// and returns it with its id: ids of one user start at 1 and only grow. It returns an error
// wrapping metadata.ErrLimit when the user has metadata.MaxSongsPerUser songs, metadata.ErrInvalid
// for a bad name, metadata.ErrUnavailable when Redis fails.
func (s *Store) AddSong(ctx context.Context, userID, name string) (metadata.Song, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return metadata.Song{}, err
	}
	name, err := metadata.NormalizeSongName(name)
	if err != nil {
		return metadata.Song{}, err
	}
	id, err := addSong.run(ctx, s.rdb, []string{songsKey(userID), songSeqKey(userID)},
		name, metadata.MaxSongsPerUser).Int64()
	switch {
	case err != nil:
		return metadata.Song{}, fail("add song", err)
	case id < 0:
		return metadata.Song{}, fmt.Errorf("%w: at most %d songs per user", metadata.ErrLimit, metadata.MaxSongsPerUser)
	}
	return metadata.Song{ID: id, Name: name}, nil
}
