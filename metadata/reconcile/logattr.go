package reconcile

import (
	"log/slog"

	"github.com/rulehook/rulehook/metadata"
)

// userAttrs are the log attributes naming a user and the error about them, with the id named by
// metadata.UserAttr and cut out of the error's text by metadata.Redact.
func userAttrs(id string, err error) []any {
	msg := ""
	if err != nil {
		msg = metadata.Redact(err.Error(), id)
	}
	return []any{metadata.UserAttr(id), slog.String("error", msg)}
}
