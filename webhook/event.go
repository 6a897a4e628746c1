package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rulehook/rulehook/metadata"
)

// MaxTransactionIDBytes bounds the Auth0 transaction id written to the logs.
const MaxTransactionIDBytes = 128

// eventRequest is the part of the Auth0 post-login event rulehook reads. Everything else in the
// event (email, client, request, ...) is skipped and never kept, and of the metadata only the two
// keys the rules read are kept: an event that carries kilobytes of user_metadata costs the hot
// path nothing more than a scan.
//
// Keys are matched exactly, as Auth0 stores them (CONTRACT rule 7): "Roles" is not "roles". A key
// that appears twice counts once, the last time, as in a JSON object decoded into a map.
type eventRequest struct {
	User          eventUser
	HasUser       bool // user is an object
	TransactionID string
}

type eventUser struct {
	UserID string
	// Roles and DisplayName are the raw values of app_metadata.roles and
	// user_metadata.displayName; nil when absent.
	Roles       []byte
	DisplayName []byte
}

var (
	errNoUser    = errors.New("user.user_id is required")
	errBadJSON   = errors.New("not valid JSON")
	errNotObject = errors.New("not a JSON object")
)

// decodeEvent decodes a callout body: one JSON object, nothing after it.
func decodeEvent(body []byte) (eventRequest, error) {
	var ev eventRequest
	if !validJSON(body) {
		return ev, errBadJSON
	}
	var err error
	ok := members(body, func(key, val []byte) bool {
		switch {
		case keyIs(key, "user"):
			ev.User, ev.HasUser, err = decodeUser(val)
		case keyIs(key, "transaction"):
			ev.TransactionID, err = decodeTransaction(val)
		}
		return err == nil
	})
	if err != nil {
		return eventRequest{}, err
	}
	if !ok {
		return eventRequest{}, errNotObject
	}
	return ev, nil
}

// decodeUser decodes event.user: an object, or null (no user).
func decodeUser(val []byte) (u eventUser, ok bool, err error) {
	if isNull(val) {
		return eventUser{}, false, nil
	}
	valid := members(val, func(key, v []byte) bool {
		switch {
		case keyIs(key, "user_id"):
			u.UserID, err = optionalString("user.user_id", v)
		case keyIs(key, "app_metadata"):
			u.Roles, err = memberOf("user.app_metadata", v, metadata.RolesKey)
		case keyIs(key, "user_metadata"):
			u.DisplayName, err = memberOf("user.user_metadata", v, metadata.DisplayNameKey)
		}
		return err == nil
	})
	if err != nil {
		return eventUser{}, false, err
	}
	if !valid {
		return eventUser{}, false, fmt.Errorf("user: %w", errNotObject)
	}
	return u, true, nil
}

// decodeTransaction returns event.transaction.id: "" when the transaction or its id is null.
func decodeTransaction(val []byte) (id string, err error) {
	if isNull(val) {
		return "", nil
	}
	valid := members(val, func(key, v []byte) bool {
		if keyIs(key, "id") {
			id, err = optionalString("transaction.id", v)
		}
		return err == nil
	})
	if err != nil {
		return "", err
	}
	if !valid {
		return "", fmt.Errorf("transaction: %w", errNotObject)
	}
	return id, nil
}

// optionalString decodes a string, or null as "".
func optionalString(name string, v []byte) (string, error) {
	if isNull(v) {
		return "", nil
	}
	s, ok := stringOf(v)
	if !ok {
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

// memberOf returns the raw value of key in the object obj (nil when absent or obj is null).
func memberOf(name string, obj []byte, key string) ([]byte, error) {
	if isNull(obj) {
		return nil, nil
	}
	var raw []byte
	if !members(obj, func(k, v []byte) bool {
		if keyIs(k, key) {
			raw = v
		}
		return true
	}) {
		return nil, fmt.Errorf("%s: %w", name, errNotObject)
	}
	return raw, nil
}

// metadataOf returns the one key of an object the rules read, as a map the rules accept: nil when
// the key is absent. Numbers stay json.Number, so a value written back is exactly what Auth0 sent.
func metadataOf(key string, raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := valueOf(raw)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: v}, nil
}

// valueOf decodes a JSON value as encoding/json decodes into an any with UseNumber. A string and
// a list of plain strings (roles, a displayName: nearly every event) skip the decoder.
func valueOf(raw []byte) (any, error) {
	if raw[0] == '"' {
		if s, ok := stringOf(raw); ok {
			return s, nil
		}
	}
	if raw[0] == '[' {
		if list, ok := plainStrings(raw); ok {
			return list, nil
		}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// editorRole is the role the rules manage, boxed once: most roles lists that reach the hot path
// hold it, and boxing a fresh string for it costs two allocations per login.
var editorRole any = metadata.RolePlaylistEditor

// plainStrings decodes an array whose elements are all strings that need no unescaping.
func plainStrings(raw []byte) ([]any, bool) {
	list := make([]any, 0, 4)
	ok := elements(raw, func(v []byte) bool {
		s, plain := plainString(v)
		switch {
		case !plain:
		case string(s) == metadata.RolePlaylistEditor:
			list = append(list, editorRole)
		default:
			list = append(list, string(s))
		}
		return plain
	})
	return list, ok
}

// loginInput is what one callout asks of the rules, converted from the event.
type loginInput struct {
	in            metadata.Input
	transactionID string
}

// toDecisionInput converts a decoded event into the rules' input, checking the user id.
func toDecisionInput(ev eventRequest) (loginInput, error) {
	if !ev.HasUser || ev.User.UserID == "" {
		return loginInput{}, errNoUser
	}
	if err := metadata.ValidateUserID(ev.User.UserID); err != nil {
		return loginInput{}, fmt.Errorf("user.user_id: %w", err)
	}
	txn := ev.TransactionID
	if len(txn) > MaxTransactionIDBytes || !validRequestID(txn) {
		txn = ""
	}
	u := metadata.User{ID: ev.User.UserID}
	var err error
	if u.AppMetadata, err = metadataOf(metadata.RolesKey, ev.User.Roles); err != nil {
		return loginInput{}, fmt.Errorf("user.app_metadata.roles: %w", err)
	}
	if u.UserMetadata, err = metadataOf(metadata.DisplayNameKey, ev.User.DisplayName); err != nil {
		return loginInput{}, fmt.Errorf("user.user_metadata.displayName: %w", err)
	}
	return loginInput{in: metadata.Input{User: u}, transactionID: txn}, nil
}
