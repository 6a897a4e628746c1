package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
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
	Plays        optionalCount  `json:"plays"`
	Roles        []string       `json:"roles"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	WrittenBy    string         `json:"written_by"`
	Degraded     []string       `json:"degraded"`
}

// optionalCount is a count that may be unknown: JSON null then. A value rather than a pointer, so
// that answering a login does not allocate it.
type optionalCount struct {
	n     int64
	known bool
}

// MarshalJSON implements json.Marshaler.
func (o optionalCount) MarshalJSON() ([]byte, error) { return o.appendJSON(nil), nil }

func (o optionalCount) appendJSON(b []byte) []byte {
	if !o.known {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, o.n, 10)
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

// postLogin answers the post-login callout.
func (s *Server) postLogin(c echo.Context) error {
	start := time.Now()
	outcome, reason, err := s.login(c)
	s.m.login(outcome, reason)
	s.m.callout.Observe(time.Since(start).Seconds())
	if st := stateOf(c); st != nil {
		st.add(slog.String("outcome", outcome), slog.String("reason", reason))
		st.quiet = outcome == outcomeOK && reason == reasonUnchanged
	}
	return err
}

// login does the work of postLogin in four steps and returns the metrics' outcome and reason.
// Every rejection happens before the jti is claimed and before anything is written.
//
// The steps are bounded by the budget, not by the client's connection (detachedCtx).
func (s *Server) login(c echo.Context) (outcome, reason string, err error) {
	ctx, cancel := s.detachedCtx()
	defer cancel()

	claims, login, why, err := s.verifyAndDecode(ctx, c)
	if err != nil {
		if why == reasonOverloaded {
			return outcomeError, why, err
		}
		return outcomeRejected, why, err
	}
	degraded, outcome, why, err := s.claimAndRead(ctx, c, &login, &claims)
	if err != nil {
		return outcome, why, err
	}
	d := s.cfg.Policy.Decide(login.in)
	s.countDecision(d)
	return s.persistAndAnswer(ctx, c, login, d, degraded)
}

// verifyAndDecode checks the token before a byte of the body is read (a request without a valid
// token costs no body memory), then reads the body within the budget, checks its hash against
// the token's bsh, decodes the event and checks that the token's sub is the event's user.
func (s *Server) verifyAndDecode(ctx context.Context, c echo.Context) (calloutClaims, loginInput, string, error) {
	req := c.Request()
	claims, why, err := s.callout.verify(req.Header.Get(echo.HeaderAuthorization))
	if err != nil {
		closeUnreadBody(c)
		return claims, loginInput{}, why, err
	}
	body, why, err := s.readBody(ctx, c)
	if err != nil {
		closeUnreadBody(c)
		return claims, loginInput{}, why, err
	}
	defer body.release()
	if !bodyHashMatches(claims.BSH, body.bytes()) {
		return claims, loginInput{}, reasonBodyHash, tokenError("the callout token does not match the body", errBodyHash, false)
	}
	ev, err := decodeEvent(body.bytes())
	if err != nil {
		return claims, loginInput{}, reasonBadEvent, badRequest("the body is not a valid post-login event", err)
	}
	login, err := toDecisionInput(ev)
	if err != nil {
		return claims, loginInput{}, reasonBadEvent, badRequest("the event has no valid user.user_id", err)
	}
	if st := stateOf(c); st != nil {
		st.add(slog.String("transaction_id", login.transactionID), userAttr(login.in.User.ID))
		st.user = login.in.User.ID
	}
	if claims.Subject != login.in.User.ID {
		return claims, loginInput{}, reasonSubject, newError(http.StatusForbidden, "subject_mismatch",
			"the token's sub is not the event's user", nil)
	}
	return claims, login, "", nil
}

// closeUnreadBody asks net/http to close the connection after a rejection that left the body
// unread: otherwise it would wait to drain up to 256 KiB of a body that may be dribbling in.
func closeUnreadBody(c echo.Context) {
	if c.Request().ContentLength != 0 {
		c.Response().Header().Set(echo.HeaderConnection, "close")
	}
}

// claimAndRead claims the token's jti and reads the play count in one round trip. A replay is
// rejected, a Redis failure under the closed policy is an error (err set, with the metrics'
// outcome and reason); under the open policy the plays stay unknown and degraded names Redis.
func (s *Server) claimAndRead(ctx context.Context, c echo.Context, login *loginInput, claims *calloutClaims) (degraded []string, outcome, reason string, err error) {
	plays, err := s.deps.Logins.BeginLogin(ctx, login.in.User.ID, claims.ID, claims.jtiTTL(s.cfg.Now()))
	switch {
	case errors.Is(err, metadata.ErrReplay):
		return nil, outcomeRejected, reasonReplay, newError(http.StatusConflict, "replay",
			"this callout token has been used before", nil)
	case err != nil:
		s.m.redisErrors.Inc()
		if !s.cfg.FailOpen {
			return nil, outcomeError, reasonRedis, unavailable("the play count cannot be read", err)
		}
		s.logWarn(c, "plays unknown, roles kept", errAttr(err, login.in.User.ID))
		return []string{degradedRedis}, "", "", nil
	}
	login.in = login.in.WithPlays(plays)
	return nil, "", "", nil
}

// persistAndAnswer writes what the decision changes (in management mode) and answers.
func (s *Server) persistAndAnswer(ctx context.Context, c echo.Context, login loginInput, d metadata.Decision, degraded []string) (outcome, reason string, err error) {
	user := login.in.User
	resp := loginResponse{
		UserID:       user.ID,
		Roles:        d.Roles,
		AppMetadata:  objectOrEmpty(d.Patch.AppMetadata),
		UserMetadata: objectOrEmpty(d.Patch.UserMetadata),
		WrittenBy:    writtenByNone,
		Degraded:     noneDegraded,
	}
	if login.in.PlaysKnown || login.in.PlaysAbsent {
		resp.Plays = optionalCount{n: login.in.Plays, known: true}
	}
	outcome, reason = outcomeOK, reasonUnchanged

	switch {
	case s.cfg.WriteMode == WriteModeShadow:
		reason = s.shadow(ctx, c, user, d, &resp, slices.Contains(degraded, degradedRedis))
	case !d.Changed():
	case s.cfg.WriteMode == WriteModeAction:
		resp.WrittenBy, reason = writtenByAction, reasonAction
	default:
		if reason, degraded, err = s.persist(ctx, c, user, d, &resp, degraded); err != nil {
			return outcomeError, reason, err
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
	return outcome, reason, writeAnswer(c, &resp)
}

// persist PATCHes what d changes (management mode) and sets the answer's writer, or, when the
// write could be neither made nor queued, the current roles (open policy) or an error (closed).
func (s *Server) persist(ctx context.Context, c echo.Context, user metadata.User, d metadata.Decision, resp *loginResponse, degraded []string) (reason string, _ []string, err error) {
	out, err := writeWithin(ctx, s.deps.Writer, metadata.Write{
		UserID:    user.ID,
		Patch:     d.Patch,
		Reason:    metadata.ReasonLogin,
		RequestID: requestIDOf(c),
		Before:    user,
	})
	if err != nil {
		if !s.cfg.FailOpen {
			return reasonManagementAPI, degraded, unavailable("the user cannot be updated", err)
		}
		s.logWarn(c, "write failed, current roles kept", errAttr(err, user.ID))
		resp.Roles = user.Roles()
		resp.AppMetadata, resp.UserMetadata = emptyObject, emptyObject
		return reasonUnchanged, notWritten(degraded, err), nil
	}
	resp.WrittenBy = writtenByRulehook
	switch out {
	case metadata.Queued: // CONTRACT "Degraded answers": the Management API was not reached
		return reasonQueued, append(degraded, degradedManagementAPI), nil
	case metadata.Merged: // behind the user's pending write: nothing failed
		return reasonQueued, degraded, nil
	}
	return reasonWritten, degraded, nil
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
