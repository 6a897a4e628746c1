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
// event (email, client, request, ...) is skipped by the decoder and never kept, and of the
// metadata only the two keys the rules read are decoded: an event that carries kilobytes of
// user_metadata costs the hot path nothing more than a scan.
type eventRequest struct {
	User        *eventUser `json:"user"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
}

type eventUser struct {
	UserID      string `json:"user_id"`
	AppMetadata *struct {
		Roles json.RawMessage `json:"roles"`
	} `json:"app_metadata"`
	UserMetadata *struct {
		DisplayName json.RawMessage `json:"displayName"`
	} `json:"user_metadata"`
}

var (
	errNoUser = errors.New("user.user_id is required")
)

// decodeEvent decodes a callout body; json.Unmarshal refuses anything after the JSON value.
func decodeEvent(body []byte) (eventRequest, error) {
	var ev eventRequest
	if err := json.Unmarshal(body, &ev); err != nil {
		return eventRequest{}, err
	}
	return ev, nil
}

// metadataOf returns the one key of an object the rules read, as a map the rules accept: nil when
// the key is absent. Numbers stay json.Number, so a value written back is exactly what Auth0 sent.
func metadataOf(key string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		v = s
	default:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return map[string]any{key: v}, nil
}

// loginInput is what one callout asks of the rules, converted from the event.
type loginInput struct {
	in            metadata.Input
	transactionID string
}

// toDecisionInput converts a decoded event into the rules' input, checking the user id.
func toDecisionInput(ev eventRequest) (loginInput, error) {
	if ev.User == nil || ev.User.UserID == "" {
		return loginInput{}, errNoUser
	}
	if err := metadata.ValidateUserID(ev.User.UserID); err != nil {
		return loginInput{}, fmt.Errorf("user.user_id: %w", err)
	}
	txn := ev.Transaction.ID
	if len(txn) > MaxTransactionIDBytes || !validRequestID(txn) {
		txn = ""
	}
	u := metadata.User{ID: ev.User.UserID}
	var err error
	if m := ev.User.AppMetadata; m != nil {
		if u.AppMetadata, err = metadataOf(metadata.RolesKey, m.Roles); err != nil {
			return loginInput{}, fmt.Errorf("user.app_metadata.roles: %w", err)
		}
	}
	if m := ev.User.UserMetadata; m != nil {
		if u.UserMetadata, err = metadataOf(metadata.DisplayNameKey, m.DisplayName); err != nil {
			return loginInput{}, fmt.Errorf("user.user_metadata.displayName: %w", err)
		}
	}
	return loginInput{in: metadata.Input{User: u}, transactionID: txn}, nil
}
