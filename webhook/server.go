package webhook

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the HTTP edge. Build it with New and serve Handler.
type Server struct {
	cfg     Config
	deps    Deps
	e       *echo.Echo
	m       *metrics
	callout calloutVerifier
	app     appVerifier
	routes  map[string]bool
	drain   atomic.Bool
	bodies  bodyBudget
}

// Routes, also the values of the route label of rulehook_api_requests_total.
const (
	routePostLogin   = "/v1/post-login"
	routeHealthz     = "/healthz"
	routeReadyz      = "/readyz"
	routeMetrics     = "/metrics"
	routeGetPlays    = "/playlists/getPlays"
	routeGetFav      = "/genres/getFav"
	routeSetFav      = "/genres/fav"
	routeSongs       = "/songs"
	routeDisplayName = "/displayName"
	routePlays       = "/v1/plays"
	routeOther       = "other"
)

// New validates cfg and deps (one error listing every problem) and builds the edge. It
// registers the metrics on cfg.Registry and fails if they are registered there already.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.validate(deps); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry, cfg.Version)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		deps: deps,
		m:    m,
	}
	s.bodies.limit = cfg.MaxBodyMemoryBytes
	s.callout = newCalloutVerifier(cfg)
	s.app = newAppVerifier(cfg)
	s.e = s.router()
	return s, nil
}

// Handler returns the edge's http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Registry returns the registry the metrics live in (cfg.Registry, or the one New created), so
// that cmd can register more collectors on the same /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.cfg.Registry }

// Drain makes /readyz answer 503 from now on, so that load balancers stop sending traffic while
// in-flight requests finish. It is safe to call more than once.
func (s *Server) Drain() { s.drain.Store(true) }

func (s *Server) router() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.edge)

	app := s.requireAppToken
	e.POST(routePostLogin, s.postLogin)
	e.GET(routeHealthz, s.healthz)
	e.GET(routeReadyz, s.readyz)
	e.GET(routeOpenAPI, s.openAPIDoc)
	e.GET(routeMetrics, echo.WrapHandler(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})))
	e.GET(routeGetPlays, s.getPlays, app)
	e.GET(routeGetFav, s.getFavGenre, app)
	e.PUT(routeSetFav, s.setFavGenre, app)
	e.GET(routeSongs, s.getSongs, app)
	e.POST(routeSongs, s.addSong, app)
	e.GET(routeDisplayName, s.getDisplayName, app)
	e.PUT(routeDisplayName, s.putDisplayName, app)
	e.POST(routePlays, s.recordPlay, app)

	s.routes = make(map[string]bool)
	for _, r := range e.Routes() {
		s.routes[r.Path] = true
	}
	return e
}

// budget returns the time the edge gives its dependencies: the callout deadline minus a
// small reserve to write the answer.
func (s *Server) budget() time.Duration {
	reserve := min(s.cfg.CalloutDeadline/10, 50*time.Millisecond)
	return s.cfg.CalloutDeadline - reserve
}

// detachedCtx bounds work by the budget but not by the client's connection: the callout's steps
// (once its jti is claimed, a login whose caller went away is better finished than cut between
// its claim and its write) and the app API's reads (a read changes nothing). A context that is
// not net/http's request context skips registering with it and unregistering on every request
// (about 3% of GET /playlists/getPlays' CPU). It starts from Background rather than
// context.WithoutCancel(request), one allocation less: these calls read no value of the
// request's context (rulehook puts none there).
func (s *Server) detachedCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.budget())
}

// keyOf boxes a key once so that a jwt.Keyfunc can return it without allocating.
func keyOf(keys [][]byte) any {
	if len(keys) == 1 {
		return keys[0]
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	return set
}
