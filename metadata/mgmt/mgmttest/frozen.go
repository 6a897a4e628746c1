package mgmttest

import (
	"encoding/json"
	"fmt"
)

// frozen is a stored metadata object kept as its JSON encoding, nil for an object the user does
// not have. A decoded map[string]any costs several times more memory, and the tenant must hold
// 100,000 users cheaply (a users-export reconcile is measured at that size).
type frozen []byte

// freeze encodes m; it panics when m does not encode as JSON (as PutUser documents).
func freeze(m map[string]any) frozen {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("mgmttest: metadata is not JSON: %v", err))
	}
	return b
}

// thaw decodes the object afresh (nil when absent): callers may change what they get.
func (f frozen) thaw() map[string]any {
	if f == nil {
		return nil
	}
	m := map[string]any{}
	_ = json.Unmarshal(f, &m) // freeze wrote it
	return m
}
