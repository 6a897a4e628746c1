package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/rulehook/rulehook/metadata"
)

// Values of written_by and degraded in the callout's answer.
const (
	writtenByRulehook = "rulehook"
	writtenByAction   = "action"
	writtenByNone     = "none"

	degradedRedis         = "redis"
	degradedManagementAPI = "management_api"
)

// loginResponse is the callout's answer (CONTRACT.md). Lists and objects are never nil; Plays is
// null when the count could not be read.
type loginResponse struct {
	UserID       string         `json:"user_id"`
	Plays        *int64         `json:"plays"`
	Roles        []string       `json:"roles"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	WrittenBy    string         `json:"written_by"`
	Degraded     []string       `json:"degraded"`
}

// emptyObject and noneDegraded are shared, never modified.
var (
	emptyObject  = map[string]any{}
	noneDegraded = []string{}
)

func objectOrEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return emptyObject
	}
	return m
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps one huge body from pinning memory in the pool.
const maxPooledBody = 64 << 10

// postLogin answers the post-login callout.
func (s *Server) postLogin(c echo.Context) error {
	start := time.Now()
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodyPool.Put(buf)
		}
	}()

	outcome, reason, err := s.login(c, buf)
	s.m.login(outcome, reason)
	s.m.callout.Observe(time.Since(start).Seconds())
	if st := stateOf(c); st != nil {
		st.add(slog.String("outcome", outcome), slog.String("reason", reason))
	}
	return err
}

// login does the work of postLogin and returns the metrics' outcome and reason. Every rejection
// happens before the jti is claimed and before anything is written.
func (s *Server) login(c echo.Context, buf *bytes.Buffer) (outcome, reason string, err error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.budget())
	defer cancel()
	req := c.Request()

	if _, err := buf.ReadFrom(req.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return outcomeRejected, reasonTooLarge, errTooLarge
		}
		return outcomeRejected, reasonBadEvent, badRequest("the request body could not be read", err)
	}
	body := buf.Bytes()

	claims, why, err := s.callout.verify(req.Header.Get(echo.HeaderAuthorization), body)
	if err != nil {
		return outcomeRejected, why, err
	}
	ev, err := decodeEvent(body)
	if err != nil {
		return outcomeRejected, reasonBadEvent, badRequest("the body is not a valid post-login event", err)
	}
	li, err := toDecisionInput(ev)
	if err != nil {
		return outcomeRejected, reasonBadEvent, badRequest("the event has no valid user.user_id", err)
	}
	user := li.in.User
	if st := stateOf(c); st != nil {
		st.add(slog.String("transaction_id", li.transactionID), userAttr(user.ID))
	}
	if claims.Subject != user.ID {
		return outcomeRejected, reasonSubject, newError(http.StatusForbidden, "subject_mismatch",
			"the token's sub is not the event's user", nil)
	}

	var degraded []string
	plays, err := s.deps.Logins.BeginLogin(ctx, user.ID, claims.ID, claims.jtiTTL(s.cfg.Now()))
	switch {
	case errors.Is(err, metadata.ErrReplay):
		return outcomeRejected, reasonReplay, newError(http.StatusConflict, "replay",
			"this callout token has been used before", nil)
	case err != nil:
		s.m.redisErrors.Inc()
		if !s.cfg.FailOpen {
			return outcomeError, reasonRedis, unavailable("the play count cannot be read", err)
		}
		s.logWarn(c, "plays unknown, roles kept", errAttr(err, user.ID))
		degraded = append(degraded, degradedRedis)
	default:
		li.in = li.in.WithPlays(plays)
	}

	d := s.cfg.Policy.Decide(li.in)
	s.countDecision(d)
	resp := loginResponse{
		UserID:       user.ID,
		Roles:        d.Roles,
		AppMetadata:  objectOrEmpty(d.Patch.AppMetadata),
		UserMetadata: objectOrEmpty(d.Patch.UserMetadata),
		WrittenBy:    writtenByNone,
		Degraded:     noneDegraded,
	}
	if li.in.PlaysKnown || li.in.PlaysAbsent {
		resp.Plays = &li.in.Plays
	}
	outcome, reason = outcomeOK, reasonUnchanged

	switch {
	case s.cfg.WriteMode == WriteModeShadow:
		reason = s.shadow(ctx, c, user, d, &resp)
	case !d.Changed():
	case s.cfg.WriteMode == WriteModeAction:
		resp.WrittenBy, reason = writtenByAction, reasonAction
	default:
		out, err := writeWithin(ctx, s.deps.Writer, metadata.Write{
			UserID:    user.ID,
			Patch:     d.Patch,
			Reason:    metadata.ReasonLogin,
			RequestID: requestIDOf(c),
			Before:    user,
		})
		if err != nil {
			if !s.cfg.FailOpen {
				return outcomeError, reasonManagementAPI, unavailable("the user cannot be updated", err)
			}
			s.logWarn(c, "write failed, current roles kept", errAttr(err, user.ID))
			resp.Roles = user.Roles()
			resp.AppMetadata, resp.UserMetadata = emptyObject, emptyObject
			degraded = notWritten(degraded, err)
			break
		}
		resp.WrittenBy, reason = writtenByRulehook, reasonWritten
		switch out {
		case metadata.Queued: // CONTRACT "Degraded answers": the Management API was not reached
			reason = reasonQueued
			degraded = append(degraded, degradedManagementAPI)
		case metadata.Merged: // behind the user's pending write: nothing failed
			reason = reasonQueued
		}
	}

	if len(degraded) > 0 {
		resp.Degraded = degraded
		outcome = outcomeDegraded
		if reason != reasonQueued {
			reason = degradedReason(degraded)
		}
	}
	if st := stateOf(c); st != nil {
		st.add(slog.String("written_by", resp.WrittenBy))
	}
	return outcome, reason, c.JSON(http.StatusOK, resp)
}

// writeWithin calls w.Write and returns by ctx's deadline even when the writer does not (a
// retrier that sleeps, a client without a timeout): the callout's deadline is a promise to the
// Action. A writer that does return in time always has its result used.
func writeWithin(ctx context.Context, w Writer, wr metadata.Write) (metadata.Outcome, error) {
	type result struct {
		out metadata.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := w.Write(ctx, wr)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		select {
		case r := <-done:
			return r.out, r.err
		default:
			return 0, fmt.Errorf("management api write abandoned: %w", context.Cause(ctx))
		}
	}
}

// notWritten adds to degraded what failed for a write that was neither made nor queued: the
// Management API, and Redis when the queue could not store it.
func notWritten(degraded []string, err error) []string {
	degraded = append(degraded, degradedManagementAPI)
	if errors.Is(err, metadata.ErrNotQueued) && !slices.Contains(degraded, degradedRedis) {
		degraded = append(degraded, degradedRedis)
	}
	return degraded
}

func degradedReason(degraded []string) string {
	if len(degraded) > 1 {
		return reasonBoth
	}
	if degraded[0] == degradedRedis {
		return reasonRedis
	}
	return reasonManagementAPI
}

func (s *Server) countDecision(d metadata.Decision) {
	if d.Promoted {
		s.m.promote.Inc()
	}
	if d.Demoted {
		s.m.demote.Inc()
	}
	if d.NamedByDefault {
		s.m.defaultName.Inc()
	}
	if !d.Changed() {
		s.m.noChange.Inc()
	}
}

func requestIDOf(c echo.Context) string {
	if st := stateOf(c); st != nil {
		return st.id
	}
	return ""
}
