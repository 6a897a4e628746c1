package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// Imports (rulehook import) write many users at once: each call is one pipeline of one script per
// user, and every script touches only that user's keys, so on a Cluster the client splits the
// pipeline by slot and no script is ever CROSSSLOT. Every script is idempotent, so the client may
// re-send it after a lost reply and a whole import may run twice.

// setChanged: SET unless the key already holds the value. 1 written, 0 unchanged.
var setChanged = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`, true)

// setHigher: SET the count unless a higher one is stored. 1 written, 0 unchanged, 2 kept (the
// stored count is higher), -1 the stored value is not an integer.
var setHigher = newScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
if not string.find(cur, '^%-?%d+$') then return -1 end
local c, n = tonumber(cur), tonumber(ARGV[1])
if c == n then return 0 end
if c > n then return 2 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`, true)

// replaceSongs: KEYS songs hash, id sequence, import mark; ARGV run, part, cap, names...
// The mark "<run>:<part>:<stored>" (kept 7 days: it only has to outlast one run) makes a re-sent part a no-op that answers as the first did.
// The first part of a run clears the user's songs; ids restart at 1 and the sequence never
// goes back, so a song added later still gets an id no earlier song had. Returns how many
// names were stored (the rest were over the cap).
var replaceSongs = newScript(`
local m = redis.call('GET', KEYS[3])
local run, part, stored = nil, 0, 0
if m then
  run, part, stored = string.match(m, '^(.*):(%d+):(%d+)$')
  part, stored = tonumber(part), tonumber(stored)
end
if run == ARGV[1] and part >= tonumber(ARGV[2]) then return stored end
if run ~= ARGV[1] then redis.call('DEL', KEYS[1]) end
local cap = tonumber(ARGV[3])
local n = redis.call('HLEN', KEYS[1])
stored = 0
for i = 4, #ARGV do
  if n >= cap then break end
  n = n + 1
  redis.call('HSET', KEYS[1], n, ARGV[i])
  stored = stored + 1
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if n > seq then redis.call('SET', KEYS[2], n) end
redis.call('SET', KEYS[3], ARGV[1] .. ':' .. ARGV[2] .. ':' .. stored, 'EX', 604800)
return stored
`, true)

// ImportPlays stores imported play counts in one pipeline: in metadata.PlaysSet mode each count
// replaces the stored one, in metadata.PlaysMax mode a higher stored count is kept. It returns the
// outcome of each count, in order. Errors wrap metadata.ErrInvalid (a bad user id or count, an
// unknown mode) or metadata.ErrUnavailable; on error some counts may have been written.
func (s *Store) ImportPlays(ctx context.Context, mode metadata.PlaysMode, rows []metadata.PlaysRow) ([]metadata.ImportOutcome, error) {
	sc := setChanged
	switch mode {
	case metadata.PlaysSet:
	case metadata.PlaysMax:
		sc = setHigher
	default:
		return nil, fmt.Errorf("%w: plays mode %q: want %q or %q", metadata.ErrInvalid, mode, metadata.PlaysSet, metadata.PlaysMax)
	}
	for _, r := range rows {
		if err := metadata.ValidateUserID(r.UserID); err != nil {
			return nil, err
		}
		if r.Plays < 0 || r.Plays > metadata.MaxImportedPlays {
			return nil, fmt.Errorf("%w: play count %d is outside 0..%d", metadata.ErrInvalid, r.Plays, int64(metadata.MaxImportedPlays))
		}
	}
	cmds, err := s.runEach(ctx, "import plays", sc, len(rows), func(i int) ([]string, []any) {
		return []string{PlaysKey(rows[i].UserID)}, []any{strconv.FormatInt(rows[i].Plays, 10)}
	})
	if err != nil {
		return nil, err
	}
	return outcomes(cmds), nil
}

// ImportGenres stores imported favourite genres in one pipeline, each normalized with
// metadata.NormalizeGenre. It returns the outcome of each, in order. Errors wrap
// metadata.ErrInvalid (a bad user id or genre) or metadata.ErrUnavailable.
func (s *Store) ImportGenres(ctx context.Context, rows []metadata.UserValue) ([]metadata.ImportOutcome, error) {
	genres := make([]string, len(rows))
	for i, r := range rows {
		if err := metadata.ValidateUserID(r.UserID); err != nil {
			return nil, err
		}
		g, err := metadata.NormalizeGenre(r.Value)
		if err != nil {
			return nil, err
		}
		genres[i] = g
	}
	cmds, err := s.runEach(ctx, "import genres", setChanged, len(rows), func(i int) ([]string, []any) {
		return []string{genreKey(rows[i].UserID)}, []any{genres[i]}
	})
	if err != nil {
		return nil, err
	}
	return outcomes(cmds), nil
}

// ImportSongs replaces users' songs with imported lists in one pipeline (see metadata.SongList
// for run and parts), each name normalized with metadata.NormalizeSongName, at most
// metadata.MaxSongsPerUser per user. It returns how many names of each list were stored: the
// others were over the cap. Errors wrap metadata.ErrInvalid or metadata.ErrUnavailable.
func (s *Store) ImportSongs(ctx context.Context, run string, lists []metadata.SongList) ([]int, error) {
	if run == "" || len(run) > MaxNameBytes {
		return nil, fmt.Errorf("%w: an import run id has 1 to %d bytes", metadata.ErrInvalid, MaxNameBytes)
	}
	args := make([][]any, len(lists))
	for i, l := range lists {
		if err := metadata.ValidateUserID(l.UserID); err != nil {
			return nil, err
		}
		a := make([]any, 0, 3+len(l.Names))
		a = append(a, run, l.Part, metadata.MaxSongsPerUser)
		for _, name := range l.Names {
			n, err := metadata.NormalizeSongName(name)
			if err != nil {
				return nil, err
			}
			a = append(a, n)
		}
		args[i] = a
	}
	cmds, err := s.runEach(ctx, "import songs", replaceSongs, len(lists), func(i int) ([]string, []any) {
		id := lists[i].UserID
		return []string{songsKey(id), songSeqKey(id), songsImportKey(id)}, args[i]
	})
	if err != nil {
		return nil, err
	}
	stored := make([]int, len(cmds))
	for i, c := range cmds {
		n, _ := c.Int64()
		stored[i] = int(n)
	}
	return stored, nil
}

// runEach runs sc n times in one pipeline, with the keys and arguments of call i, and sends
// again with EVAL whatever Redis did not know by its hash (after a restart or a failover).
func (s *Store) runEach(ctx context.Context, op string, sc script, n int, call func(i int) ([]string, []any)) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, n)
	pipe := s.rdb.Pipeline()
	for i := range n {
		keys, args := call(i)
		cmds[i] = evalCmd(ctx, "evalsha", sc.sha, keys, args)
		_ = pipe.Process(ctx, cmds[i])
	}
	_, _ = pipe.Exec(ctx) // errors are read per command below
	var again redis.Pipeliner
	for i, c := range cmds {
		if c.Err() == nil || !redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			continue
		}
		if again == nil {
			again = s.rdb.Pipeline()
		}
		keys, args := call(i)
		cmds[i] = evalCmd(ctx, "eval", sc.src, keys, args)
		_ = again.Process(ctx, cmds[i])
	}
	if again != nil {
		_, _ = again.Exec(ctx)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return nil, fail(op, err)
		}
	}
	return cmds, nil
}

func outcomes(cmds []*redis.Cmd) []metadata.ImportOutcome {
	out := make([]metadata.ImportOutcome, len(cmds))
	for i, c := range cmds {
		n, _ := c.Int64()
		switch n {
		case 1:
			out[i] = metadata.ImportWritten
		case 0:
			out[i] = metadata.ImportUnchanged
		case 2:
			out[i] = metadata.ImportKept
		default:
			out[i] = metadata.ImportBadStored
		}
	}
	return out
}
