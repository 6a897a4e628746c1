package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/rulehook/rulehook/metadata"
)

// MaxTransactionIDBytes bounds the Auth0 transaction id written to the logs.
const MaxTransactionIDBytes = 128

// eventRequest is the part of the Auth0 post-login event rulehook reads. Everything else in the
// event (email, client, request, ...) is skipped by the decoder and never kept.
type eventRequest struct {
	User        *eventUser `json:"user"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
}

type eventUser struct {
	UserID       string         `json:"user_id"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
}

var (
	errTrailingData = errors.New("data after the JSON value")
	errNoUser       = errors.New("user.user_id is required")
)

// decodeEvent decodes a callout body. Numbers stay json.Number so that values are written back
// exactly as Auth0 sent them.
func decodeEvent(body []byte) (eventRequest, error) {
	var ev eventRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return eventRequest{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return eventRequest{}, errTrailingData
	}
	return ev, nil
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
	return loginInput{
		in: metadata.Input{User: metadata.User{
			ID:           ev.User.UserID,
			AppMetadata:  ev.User.AppMetadata,
			UserMetadata: ev.User.UserMetadata,
		}},
		transactionID: txn,
	}, nil
}
