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

func (a *api) users(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	users, err := a.b.Users(ctx)
	if users == nil {
		users = []User{}
	}
	answer(w, users, err)
}

func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var nu NewUser
	if err := decode(w, r, &nu); err != nil {
		answer(w, nil, err)
		return
	}
	nu.ID = strings.TrimSpace(nu.ID)
	if nu.ID == "" {
		answer(w, nil, errors.Join(ErrInvalid, errors.New("a user id is required, e.g. auth0|carol")))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	u, err := a.b.CreateUser(ctx, nu)
	answer(w, u, err)
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := decode(w, r, &req); err != nil {
		answer(w, nil, err)
		return
	}
	if req.UserID == "" {
		answer(w, nil, errors.Join(ErrInvalid, errors.New("pick a user first")))
		return
	}
	if req.Plays != nil && *req.Plays < 0 {
		answer(w, nil, errors.Join(ErrInvalid, errors.New("plays cannot be negative")))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	res, err := a.b.Login(ctx, req)
	answer(w, res, err)
}

func (a *api) play(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if err := decode(w, r, &req); err != nil {
		answer(w, nil, err)
		return
	}
	if req.UserID == "" {
		answer(w, nil, errors.Join(ErrInvalid, errors.New("pick a user first")))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	res, err := a.b.RecordPlay(ctx, req.UserID)
	answer(w, res, err)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	answer(w, a.b.Status(ctx), nil)
}

func (a *api) faults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decode(w, r, &f); err != nil {
		answer(w, nil, err)
		return
	}
	if !f.Valid() {
		answer(w, nil, errors.Join(ErrInvalid, errors.New(`tenant fault must be "", "429", "5xx" or "hang"`)))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	if err := a.b.SetFaults(ctx, f); err != nil {
		answer(w, nil, err)
		return
	}
	answer(w, a.b.Status(ctx), nil)
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("user")
	if id == "" {
		answer(w, nil, errors.Join(ErrInvalid, errors.New("the user query parameter is required")))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	entries, err := a.b.History(ctx, id)
	if entries == nil {
		entries = []json.RawMessage{}
	}
	answer(w, entries, err)
}
