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

// post is the shape of every endpoint that takes a JSON body: decode it, check it (an error is
// the caller's: 400), call the backend within backendTimeout, answer.
func post[Req, Res any](a *api, check func(*Req) error, call func(context.Context, Req) (Res, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := decode(w, r, &req); err != nil {
			answer(w, nil, err)
			return
		}
		if err := check(&req); err != nil {
			answer(w, nil, errors.Join(ErrInvalid, err))
			return
		}
		ctx, cancel := a.ctx(r)
		defer cancel()
		res, err := call(ctx, req)
		answer(w, res, err)
	}
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

func (a *api) createUser() http.HandlerFunc {
	return post(a, func(nu *NewUser) error {
		if nu.ID = strings.TrimSpace(nu.ID); nu.ID == "" {
			return errors.New("a user id is required, e.g. auth0|carol")
		}
		return nil
	}, a.b.CreateUser)
}

func (a *api) login() http.HandlerFunc {
	return post(a, func(req *LoginRequest) error {
		switch {
		case req.UserID == "":
			return errors.New("pick a user first")
		case req.Plays != nil && *req.Plays < 0:
			return errors.New("plays cannot be negative")
		}
		return nil
	}, a.b.Login)
}

// playRequest is what "Record a play" sends.
type playRequest struct {
	UserID string `json:"user_id"`
}

func (a *api) play() http.HandlerFunc {
	return post(a, func(req *playRequest) error {
		if req.UserID == "" {
			return errors.New("pick a user first")
		}
		return nil
	}, func(ctx context.Context, req playRequest) (PlayResult, error) { return a.b.RecordPlay(ctx, req.UserID) })
}

func (a *api) faults() http.HandlerFunc {
	return post(a, func(f *Faults) error {
		if !f.Valid() {
			return errors.New(`tenant fault must be "", "429", "5xx" or "hang"`)
		}
		return nil
	}, func(ctx context.Context, f Faults) (Status, error) {
		if err := a.b.SetFaults(ctx, f); err != nil {
			return Status{}, err
		}
		return a.b.Status(ctx), nil
	})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
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
