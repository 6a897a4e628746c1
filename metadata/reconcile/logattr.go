package reconcile

import (
	"log/slog"
	"strings"

	"github.com/rulehook/rulehook/metadata"
)

// userAttrs are the log attributes naming a user and the error about them. An id holding an '@'
// (enterprise and SAML ids can embed an email address) is logged as the first 16 hex digits of
// its SHA-256, as user_id_sha256, and is cut out of the error's text too.
func userAttrs(id string, err error) []any {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if !strings.Contains(id, "@") {
		return []any{slog.String("user_id", id), slog.String("error", msg)}
	}
	hash := metadata.UserIDHash(id)
	return []any{slog.String("user_id_sha256", hash), slog.String("error", strings.ReplaceAll(msg, id, "<user "+hash+">"))}
}
