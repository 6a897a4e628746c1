package webhook

import (
	"context"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rulehook/rulehook/metadata"
)

// WriteModeShadow: rulehook decides as in management mode but writes nothing, answers the
// user's current roles, and counts and audits what it would have changed (for running beside
// the old Rules before switching them off).
const WriteModeShadow = "shadow"

// reasonShadow is the reason label of rulehook_logins_total for a login answered in shadow mode.
const reasonShadow = "shadow"

// ShadowRecorder counts shadow-mode logins and audits the would-be changes (redisstore.Store).
type ShadowRecorder interface {
	RecordShadow(ctx context.Context, l metadata.ShadowLogin) error
}

type shadowMetrics struct {
	disagreements *prometheus.CounterVec
	agreements    prometheus.Counter
}

func newShadowMetrics(reg *prometheus.Registry) (*shadowMetrics, error) {
	m := &shadowMetrics{
		disagreements: counterVec("rulehook_shadow_disagreements_total",
			"Shadow-mode logins whose decision would change the user, by change (promote, demote, display_name).", "change"),
		agreements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rulehook_shadow_agreements_total",
			Help: "Shadow-mode logins whose decision would change nothing.",
		}),
	}
	if err := register(reg, m.disagreements, m.agreements); err != nil {
		return nil, err
	}
	for _, k := range metadata.ShadowKinds {
		m.disagreements.WithLabelValues(k)
	}
	return m, nil
}

// shadow finishes a login in shadow mode: it counts and records how decision d differs from
// the user's current state, and turns resp into the answer that changes nothing (the current
// roles, empty objects, written_by "none"). A failure to record is logged; the answer stands.
// When the login could not read Redis (redisDown), it is counted but not recorded there.
func (s *Server) shadow(ctx context.Context, c echo.Context, user metadata.User, d metadata.Decision, resp *loginResponse, redisDown bool) string {
	kinds := d.Disagreements()
	if len(kinds) == 0 {
		s.m.shadow.agreements.Inc()
	}
	for _, k := range kinds {
		s.m.shadow.disagreements.WithLabelValues(k).Inc()
	}
	if !redisDown {
		s.record(ctx, c, metadata.ShadowLogin{
			UserID: user.ID, Time: s.cfg.Now(), RequestID: requestIDOf(c), Kinds: kinds, Changes: d.Patch.Changes(user),
		})
	}
	resp.Roles = user.Roles()
	resp.AppMetadata, resp.UserMetadata = emptyObject, emptyObject
	resp.WrittenBy = writtenByNone
	return reasonShadow
}

// record stores one shadow login's stats and, when it disagrees, its audit entry.
func (s *Server) record(ctx context.Context, c echo.Context, login metadata.ShadowLogin) {
	if err := s.deps.Shadow.RecordShadow(ctx, login); err != nil {
		s.m.redisErrors.Inc()
		s.logWarn(c, "shadow login not recorded", errAttr(err, login.UserID))
	}
}
