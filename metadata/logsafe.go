package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
)

// LogID returns a user id fit for a log line or an error string: the id itself, or, when it holds
// an '@' (enterprise and SAML ids such as "samlp|corp|jane@corp.example" embed an email address),
// "sha256:" and the first 16 hex digits of its SHA-256. It is the one place that decides how a
// user is named outside the data itself; every package that logs a user or puts one in an error
// calls it (or UserAttr).
func LogID(id string) string {
	if !strings.Contains(id, "@") {
		return id
	}
	return "sha256:" + idHash(id)
}

// UserAttr is the log attribute naming a user: user_id=<id>, or user_id_sha256=<16 hex digits>
// for an id that holds an '@' (see LogID).
func UserAttr(id string) slog.Attr {
	if !strings.Contains(id, "@") {
		return slog.String("user_id", id)
	}
	return slog.String("user_id_sha256", idHash(id))
}

// Redact returns msg with every occurrence of each id that LogID would hash replaced by its
// LogID, for an error text that may have been built by code that did not use LogID.
func Redact(msg string, ids ...string) string {
	for _, id := range ids {
		if id != "" && strings.Contains(id, "@") {
			msg = strings.ReplaceAll(msg, id, LogID(id))
		}
	}
	return msg
}

func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}
