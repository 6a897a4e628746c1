package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/rulehook/rulehook/metadata"
)

// Request and answer bodies of the app API.
type (
	genreRequest struct {
		Genre *string `json:"genre"`
	}
	genreResponse struct {
		Genre string `json:"genre"`
	}
	songRequest struct {
		Name *string `json:"name"`
	}
	displayNameRequest struct {
		DisplayName *string `json:"displayName"`
	}
	displayNameResponse struct {
		DisplayName *string `json:"displayName"`
	}
	playsResponse struct {
		Plays int64 `json:"plays"`
	}
)

var errNotConfigured = newError(http.StatusNotImplemented, "not_configured",
	"this rulehook has no Management API access", nil)

// depCtx bounds the dependency calls of an app API request.
func (s *Server) depCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), s.budget())
}

// readFor makes one read of the caller's data within the budget, not bound to the client's
// connection (detachedCtx).
func readFor[T any](s *Server, c echo.Context, read func(context.Context, string) (T, error)) (T, error) {
	ctx, cancel := s.detachedCtx()
	defer cancel()
	return read(ctx, callerOf(c))
}

// notFound is the 404 of a read that found nothing.
func notFound(message string) error {
	return newError(http.StatusNotFound, "not_found", message, nil)
}

// storeError maps an AppStore or PlayStore failure.
func (s *Server) storeError(err error) error {
	switch {
	case errors.Is(err, metadata.ErrInvalid):
		return badRequest("the request breaks a data rule", err)
	case errors.Is(err, metadata.ErrLimit):
		return newError(http.StatusConflict, "limit_reached", "a per-user limit has been reached", err)
	}
	s.m.redisErrors.Inc()
	return unavailable("the data store is not available", err)
}

// getPlays answers the caller's play count as plain text, like the seed's API.
func (s *Server) getPlays(c echo.Context) error {
	n, err := readFor(s, c, s.deps.Plays.Plays)
	if err != nil {
		return s.storeError(err)
	}
	var digits [20]byte
	return textBytes(c, http.StatusOK, strconv.AppendInt(digits[:0], n, 10))
}

// recordPlay records one play for the caller. The play that reaches the threshold asks the
// Rerunner to re-run the rules now, without waiting for a login; its failure is only logged.
func (s *Server) recordPlay(c echo.Context) error {
	ctx, cancel := s.depCtx(c)
	defer cancel()
	caller := callerOf(c)
	n, err := s.deps.Plays.RecordPlay(ctx, caller)
	if err != nil {
		return s.storeError(err)
	}
	if t := s.cfg.Policy.Threshold; n-1 < t && t <= n && s.deps.Rerunner != nil {
		if err := s.deps.Rerunner.Rerun(ctx, caller, metadata.ReasonPlay, requestIDOf(c)); err != nil {
			s.logWarn(c, "re-run after crossing the threshold failed", errAttr(err, caller))
		}
	}
	return c.JSON(http.StatusOK, playsResponse{Plays: n})
}

// getFavGenre answers the caller's favourite genre as plain text, like the seed's API.
func (s *Server) getFavGenre(c echo.Context) error {
	g, err := readFor(s, c, s.deps.App.FavGenre)
	if errors.Is(err, metadata.ErrNotFound) {
		return notFound("no favourite genre is set")
	}
	if err != nil {
		return s.storeError(err)
	}
	return text(c, http.StatusOK, g)
}

// setFavGenre sets the caller's favourite genre from {"genre": "..."}.
func (s *Server) setFavGenre(c echo.Context) error {
	genre, err := decodeField(c, "genre", func(r *genreRequest) *string { return r.Genre }, metadata.NormalizeGenre)
	if err != nil {
		return err
	}
	ctx, cancel := s.depCtx(c)
	defer cancel()
	if err := s.deps.App.SetFavGenre(ctx, callerOf(c), genre); err != nil {
		return s.storeError(err)
	}
	return c.JSON(http.StatusOK, genreResponse{Genre: genre})
}

// getSongs answers the caller's songs as a JSON list of {id, name}.
func (s *Server) getSongs(c echo.Context) error {
	songs, err := readFor(s, c, s.deps.App.Songs)
	if err != nil {
		return s.storeError(err)
	}
	if songs == nil {
		songs = []metadata.Song{}
	}
	return c.JSON(http.StatusOK, songs)
}

// addSong adds a song from {"name": "..."} and answers it with its id (201).
func (s *Server) addSong(c echo.Context) error {
	name, err := decodeField(c, "name", func(r *songRequest) *string { return r.Name }, metadata.NormalizeSongName)
	if err != nil {
		return err
	}
	ctx, cancel := s.depCtx(c)
	defer cancel()
	song, err := s.deps.App.AddSong(ctx, callerOf(c), name)
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(http.StatusCreated, song)
}

// getDisplayName answers {"displayName": ...} read from the Management API (null when unset).
func (s *Server) getDisplayName(c echo.Context) error {
	if s.deps.Users == nil {
		return errNotConfigured
	}
	u, err := readFor(s, c, s.deps.Users.User)
	if errors.Is(err, metadata.ErrNotFound) {
		return notFound("no such user")
	}
	if err != nil {
		return unavailable("the Management API is not available", err)
	}
	var resp displayNameResponse
	if name, ok := u.DisplayName(); ok && name != "" {
		resp.DisplayName = &name
	}
	return c.JSON(http.StatusOK, resp)
}

// putDisplayName sets the caller's own displayName: one PATCH carrying only
// user_metadata.displayName (200), or queued for a retry (202).
func (s *Server) putDisplayName(c echo.Context) error {
	if s.deps.Writer == nil {
		return errNotConfigured
	}
	name, err := decodeField(c, "displayName", func(r *displayNameRequest) *string { return r.DisplayName },
		metadata.NormalizeDisplayName)
	if err != nil {
		return err
	}
	ctx, cancel := s.depCtx(c)
	defer cancel()
	// The user as it is now is the audit trail's "before" (a name set again records nothing). A
	// failed read only costs the trail its "before": the write still goes.
	before, _ := s.deps.Users.User(ctx, callerOf(c))
	out, err := writeWithin(ctx, s.deps.Writer, metadata.Write{
		UserID:    callerOf(c),
		Patch:     metadata.DisplayNamePatch(name),
		Explicit:  true,
		Reason:    metadata.ReasonAPI,
		RequestID: requestIDOf(c),
		Before:    before,
	})
	switch {
	case errors.Is(err, metadata.ErrInvalid):
		return badRequest("the displayName cannot be written", err)
	case errors.Is(err, metadata.ErrNotFound):
		return notFound("no such user")
	case err != nil:
		return unavailable("the Management API is not available", err)
	}
	status := http.StatusOK
	if out == metadata.Queued || out == metadata.Merged {
		status = http.StatusAccepted
	}
	return c.JSON(status, displayNameResponse{DisplayName: &name})
}

// decodeJSON decodes a JSON request body into v: 415 unless the body is application/json, 413
// over the limit, 400 for bad JSON, unknown fields or trailing data.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return errNotJSON
	}
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if tooLarge(err) {
			return errTooLarge
		}
		return badRequest("the body is not the expected JSON object", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if tooLarge(err) {
			return errTooLarge
		}
		return badRequest("the body holds data after the JSON object", nil)
	}
	return nil
}

// decodeField decodes a request body of type R and returns its one required field, which field
// picks, through normalize: decodeJSON's errors, 400 "<name> is required" when the field is
// absent, or 400 with normalize's message when it refuses the value.
func decodeField[R any](c echo.Context, name string, field func(*R) *string, normalize func(string) (string, error)) (string, error) {
	var req R
	if err := decodeJSON(c, &req); err != nil {
		return "", err
	}
	v := field(&req)
	if v == nil {
		return "", badRequest(name+" is required", nil)
	}
	out, err := normalize(*v)
	if err != nil {
		return "", badRequest(userText(err), nil)
	}
	return out, nil
}

// userText returns the human part of a metadata validation error ("invalid: name is empty" →
// "name is empty"); those messages carry no internals.
func userText(err error) string {
	return strings.TrimPrefix(err.Error(), metadata.ErrInvalid.Error()+": ")
}
