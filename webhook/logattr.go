package webhook

import (
	"log/slog"

	"github.com/rulehook/rulehook/metadata"
)

// userAttr names a user on a log line, through metadata.UserAttr (an id holding an '@' is hashed).
func userAttr(id string) slog.Attr { return metadata.UserAttr(id) }

// errAttr is the error attribute of a log line, with the ids cut out of its text by
// metadata.Redact.
func errAttr(err error, ids ...string) slog.Attr {
	return slog.String("error", metadata.Redact(err.Error(), ids...))
}
