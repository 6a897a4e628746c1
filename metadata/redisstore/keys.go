package redisstore

// Key layout. Everything is under "rulehook:". A user's keys carry the Cluster hash tag
// {<user_id>} (the play count's name is fixed by the contract); the queue's keys all carry
// {rulehook-queue}; a reconcile run's keys carry {reconcile:<name>}.
const (
	keyPrefix   = "rulehook:"
	queueTag    = "rulehook:{rulehook-queue}:"
	auditStream = "rulehook:audit" // every user's changes, newest last
)

func userKey(userID, suffix string) string { return keyPrefix + "{" + userID + "}:" + suffix }

// PlaysKey returns the key of the user's play count, rulehook:{<user_id>}:plays (CONTRACT.md):
// a decimal integer that operators may SET.
func PlaysKey(userID string) string { return userKey(userID, "plays") }

func jtiKey(userID, jti string) string { return userKey(userID, "jti:"+jti) }
func genreKey(userID string) string    { return userKey(userID, "genre") }
func songsKey(userID string) string    { return userKey(userID, "songs") }     // hash id -> name
func songSeqKey(userID string) string  { return userKey(userID, "songs:seq") } // last id given
func songsImportKey(userID string) string {
	return userKey(userID, "songs:import") // "<run>:<part>:<stored>" of the last import
}
func userAuditKey(userID string) string {
	return userKey(userID, "audit") // stream of the user's changes
}

// The queue: one hash per user holding the pending write, a sorted set scheduling every user
// (score: when the entry may be claimed, in Unix ms; for a leased entry, when its lease ends),
// a hash of current leases (user -> "<version> <consumer>") and the sequence of versions.
const (
	queueSeq    = queueTag + "seq"
	queueSched  = queueTag + "sched"
	queueLeases = queueTag + "leases"
	queueEntry  = queueTag + "entry:"
)

func queueEntryKey(userID string) string { return queueEntry + userID }

func checkpointKey(name string) string { return keyPrefix + "{reconcile:" + name + "}:checkpoint" }
