package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// api holds the console's JSON endpoints.
type api struct{ b Backend }

func (a *api) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), backendTimeout)
}

// serve answers what call returns, called under the backend timeout.
func serve[T any](a *api, w http.ResponseWriter, r *http.Request, call func(context.Context) (T, error)) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	v, err := call(ctx)
	answer(w, v, err)
}

// refuse answers a 400 invalid_request with msg.
func refuse(w http.ResponseWriter, msg string) {
	answer(w, nil, errors.Join(ErrInvalid, errors.New(msg)))
}

// decodeForUser decodes the body into v and refuses it when userID, a field of v, is empty.
func decodeForUser(w http.ResponseWriter, r *http.Request, v any, userID *string) bool {
	if err := decode(w, r, v); err != nil {
		answer(w, nil, err)
		return false
	}
	if *userID == "" {
		refuse(w, "pick a user first")
		return false
	}
	return true
}

func (a *api) users(w http.ResponseWriter, r *http.Request) {
	serve(a, w, r, func(ctx context.Context) ([]User, error) {
		users, err := a.b.Users(ctx)
		if users == nil {
			users = []User{}
		}
		return users, err
	})
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var nu NewUser
	if err := decode(w, r, &nu); err != nil {
		answer(w, nil, err)
		return
	}
	nu.ID = strings.TrimSpace(nu.ID)
	if nu.ID == "" {
		refuse(w, "a user id is required, e.g. auth0|carol")
		return
	}
	serve(a, w, r, func(ctx context.Context) (User, error) { return a.b.CreateUser(ctx, nu) })
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !decodeForUser(w, r, &req, &req.UserID) {
		return
	}
	if req.Plays != nil && *req.Plays < 0 {
		refuse(w, "plays cannot be negative")
		return
	}
	serve(a, w, r, func(ctx context.Context) (LoginResult, error) { return a.b.Login(ctx, req) })
}

func (a *api) play(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if !decodeForUser(w, r, &req, &req.UserID) {
		return
	}
	serve(a, w, r, func(ctx context.Context) (PlayResult, error) { return a.b.RecordPlay(ctx, req.UserID) })
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	serve(a, w, r, func(ctx context.Context) (Status, error) { return a.b.Status(ctx), nil })
}

func (a *api) faults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decode(w, r, &f); err != nil {
		answer(w, nil, err)
		return
	}
	if !f.Valid() {
		refuse(w, `tenant fault must be "", "429", "5xx" or "hang"`)
		return
	}
	serve(a, w, r, func(ctx context.Context) (Status, error) {
		if err := a.b.SetFaults(ctx, f); err != nil {
			return Status{}, err
		}
		return a.b.Status(ctx), nil
	})
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("user")
	if id == "" {
		refuse(w, "the user query parameter is required")
		return
	}
	serve(a, w, r, func(ctx context.Context) ([]json.RawMessage, error) {
		entries, err := a.b.History(ctx, id)
		if entries == nil {
			entries = []json.RawMessage{}
		}
		return entries, err
	})
}
