package mgmttest

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of a Server; each has an Option to change it.
const (
	DefaultDomain       = "rulehook-dev.local"
	DefaultClientID     = "mgmttest-client-id"
	DefaultClientSecret = "mgmttest-client-secret-not-for-production"
	DefaultTokenTTL     = 24 * time.Hour
	// DefaultRateLimit is the X-RateLimit-Limit advertised on answers that no limited bucket
	// counts (WithTier, WithWriteRate): an informational bucket that never answers 429.
	DefaultRateLimit = 1000
	// DefaultListLimit is how many users Auth0 lets GET /api/v2/users page through.
	DefaultListLimit = 1000
	// maxBodyBytes is the Management API's payload limit.
	maxBodyBytes = 512000
)

type config struct {
	domain       string
	clientID     string
	clientSecret string
	tokenTTL     time.Duration
	writeRate    float64
	writeBurst   int
	tier         *Tier
	buildDelay   time.Duration
	listLimit    int
	key          *rsa.PrivateKey
	scopes       []string             // granted to clientID
	extra        map[string]m2mClient // WithClient
	deployDelay  time.Duration

	exportPolls int              // export.go
	now         func() time.Time // export.go
	api         string           // audience of the API users get tokens for (WithAPI)
}

// Option configures a Server.
type Option func(*config)

// WithDomain sets the tenant domain the server pretends to be (Domain, Issuer, token audiences).
func WithDomain(domain string) Option { return func(c *config) { c.domain = domain } }

// WithClientCredentials sets the only M2M client id and secret /oauth/token accepts.
func WithClientCredentials(id, secret string) Option {
	return func(c *config) { c.clientID, c.clientSecret = id, secret }
}

// WithTokenTTL sets the lifetime of issued access tokens (expires_in). golang.org/x/oauth2, under
// go-auth0, renews a token 10 s before it expires, so a TTL of 10 s or less means a token request
// before every call.
func WithTokenTTL(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// WithWriteRate enforces a write limit on the Management API: POST, PUT, PATCH and DELETE under
// /api/v2/ share a token bucket of burst tokens refilled at perSecond. A write that finds the bucket
// empty gets 429 with X-RateLimit-Remaining 0 and X-RateLimit-Reset at the Unix second from which
// the next write is allowed. Writes answered normally carry the bucket's Limit (burst), Remaining
// and Reset (when the next token is added). perSecond <= 0 disables the limit (the default).
// WithTier replaces it.
func WithWriteRate(perSecond float64, burst int) Option {
	return func(c *config) {
		c.writeRate, c.writeBurst = perSecond, max(burst, 1)
	}
}

// WithBuildDelay sets how long a created or updated Action stays "pending" before it is "built".
// With the default 0 the create/update answer still says "pending" and the next read says "built".
func WithBuildDelay(d time.Duration) Option { return func(c *config) { c.buildDelay = d } }

// WithDeployDelay sets how long a newly deployed Action version stays "built" with
// deployed: false, as Auth0 answers the deploy (go-auth0's recording
// test/data/recordings/TestActionManager_Deploy.yaml: "deployed":false,"status":"built"). Until
// it reads deployed: true, a new binding of an Action that has no earlier version is refused with
// Auth0's 400 "Trying to create a binding for an action that has not been deployed yet". With the
// default 0 the version reads deployed from the first read after the deploy on, so a client that
// binds without looking first is refused as on Auth0; with d > 0 it reads deployed, and binds,
// once d has passed.
func WithDeployDelay(d time.Duration) Option { return func(c *config) { c.deployDelay = d } }

// WithListLimit sets how many users GET /api/v2/users lets a client page through (Auth0: 1000);
// a page starting at or beyond it, while more users exist, is a 400 "invalid_paging". n <= 0
// removes the limit.
func WithListLimit(n int) Option { return func(c *config) { c.listLimit = n } }

// Server is an emulated Auth0 tenant listening on loopback. All methods are safe for concurrent use.
type Server struct {
	cfg    config
	ln     net.Listener
	srv    *http.Server
	mux    *http.ServeMux
	kid    string
	closed chan struct{}
	once   sync.Once
	served chan struct{}

	mu       sync.Mutex // guards the tenant's data below
	users    map[string]*userRecord
	actions  map[string]*actionRecord
	bindings map[string][]*bindingRecord
	issued   map[string]time.Time // jti of issued access tokens → expiry

	logMu   sync.Mutex
	log     []Request
	logSeq  int // requests ever logged
	logBase int // seq of log[0]

	faultMu sync.Mutex
	faults  []*faultRule

	rl *rateLimits
	ex *exports // users-export jobs, export.go
}

// New starts a Server, as Start does, and panics when it cannot listen: for tests, where a
// failure to bind loopback is fatal anyway. Call Close when done (t.Cleanup(s.Close)).
func New(opts ...Option) *Server {
	s, err := Start(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Start listens on a free loopback port and serves until Close. It returns the listen error.
func Start(opts ...Option) (*Server, error) {
	cfg := config{
		domain:       DefaultDomain,
		clientID:     DefaultClientID,
		clientSecret: DefaultClientSecret,
		tokenTTL:     DefaultTokenTTL,
		listLimit:    DefaultListLimit,
		scopes:       AllScopes,

		exportPolls: DefaultExportPolls,
		now:         time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.key == nil {
		key, err := sharedKey()
		if err != nil {
			return nil, err
		}
		cfg.key = key
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mgmttest: listen on a loopback port: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		kid:      "mgmttest-" + randomHex(8),
		closed:   make(chan struct{}),
		served:   make(chan struct{}),
		users:    make(map[string]*userRecord),
		actions:  make(map[string]*actionRecord),
		bindings: make(map[string][]*bindingRecord),
		issued:   make(map[string]time.Time),
		ex:       newExports(),
	}
	s.rl = newRateLimits(cfg, time.Now())
	s.mux = s.routes()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server: hung and delayed requests are released, connections closed. It is safe
// to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		_ = s.srv.Close()
		<-s.served
	})
}

// URL is the tenant's base URL, "http://127.0.0.1:PORT" (token endpoint at URL()+"/oauth/token").
func (s *Server) URL() string { return "http://" + s.Host() }

// Host is "127.0.0.1:PORT", the domain to give go-auth0's client.New with option.WithInsecure().
func (s *Server) Host() string { return s.ln.Addr().String() }

// Domain is the tenant domain the server pretends to be (default "rulehook-dev.local").
func (s *Server) Domain() string { return s.cfg.domain }

// Issuer is "https://"+Domain()+"/", the iss of every token the tenant signs.
func (s *Server) Issuer() string { return "https://" + s.cfg.domain + "/" }

// ClientID is the M2M client id /oauth/token accepts.
func (s *Server) ClientID() string { return s.cfg.clientID }

// ClientSecret is the M2M client secret /oauth/token accepts.
func (s *Server) ClientSecret() string { return s.cfg.clientSecret }

// JWKSURL is URL()+"/.well-known/jwks.json".
func (s *Server) JWKSURL() string { return s.URL() + "/.well-known/jwks.json" }

// Audience is the Management API audience of the emulated tenant, "https://"+Domain()+"/api/v2/".
// /oauth/token also accepts URL()+"/api/v2/" (what go-auth0 sends when pointed at Host()).
func (s *Server) Audience() string { return "https://" + s.cfg.domain + "/api/v2/" }

func (s *Server) audiences() []string {
	return []string{s.Audience(), s.URL() + "/api/v2/", "https://" + s.Host() + "/api/v2/"}
}

// ServeHTTP runs one request through the tenant: request log, faults, token check, rate limit,
// then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	idx := s.logStart(r, body)
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { s.logEnd(idx, rec.status) }()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			apiError(rec, http.StatusRequestEntityTooLarge, "",
				fmt.Sprintf("Payload content length greater than maximum allowed: %d", maxBodyBytes))
			return
		}
		apiError(rec, http.StatusBadRequest, "", "could not read the request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	f, ok := s.takeFault(r.Method, r.URL.Path)
	if ok && !s.applyFault(rec, r, f) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/v2/") {
		s.rl.headers(rec, r, time.Now()) // a 401 carries them too; admit replaces them
		scope, ok := s.authorized(rec, r)
		if !ok || !s.allowed(rec, r, scope, body) {
			return
		}
	}
	if !s.rl.admit(rec, r, time.Now()) {
		return
	}
	if ok {
		f.overrideHeaders(rec)
	}
	s.mux.ServeHTTP(rec, r)
}

// wait blocks for d, and reports false when the client gave up or the server closed first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
