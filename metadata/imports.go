package metadata

// PlaysMode says how an imported play count meets a count already stored.
type PlaysMode string

const (
	// PlaysSet replaces the stored count with the imported one.
	PlaysSet PlaysMode = "set"
	// PlaysMax keeps the higher of the two, so that plays recorded since the service went live
	// are never lost to a re-import.
	PlaysMax PlaysMode = "max"
)

// MaxImportedPlays bounds an imported play count: the largest integer every Redis script
// compares exactly (2^53).
const MaxImportedPlays = 1 << 53

// ImportOutcome is what became of one imported value.
type ImportOutcome int

const (
	// ImportWritten: the value is stored now and was not before.
	ImportWritten ImportOutcome = iota + 1
	// ImportUnchanged: the store already held exactly this value.
	ImportUnchanged
	// ImportKept: PlaysMax found a higher count and kept it.
	ImportKept
	// ImportBadStored: the stored count is not an integer; it was left alone.
	ImportBadStored
)

// PlaysRow is one user's imported play count.
type PlaysRow struct {
	UserID string
	Plays  int64
}

// UserValue is one user's imported value (a favourite genre).
type UserValue struct {
	UserID, Value string
}

// SongList is some of one user's imported songs, in their order. An import replaces each user's
// songs: the first list of a user in a run (Run) clears what was stored, later lists of the same
// run append. Part numbers the lists of a run in increasing order, so a list that reaches the
// store twice (a re-sent request) is applied once.
type SongList struct {
	UserID string
	Part   int64
	Names  []string
}
