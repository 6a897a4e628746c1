package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// maxRequestBytes bounds a console request body; the largest is a new user.
const maxRequestBytes = 64 << 10

// backendTimeout bounds one console call. A login waits for the Action, whose own callout
// timeout is at most 9 s.
const backendTimeout = 30 * time.Second

// Handler serves the console in front of next: the page at "/", its assets and JSON endpoints
// under "/dev/", and everything else (the service's own routes) from next.
func Handler(b Backend, next http.Handler) http.Handler {
	assets, _ := fs.Sub(static, "static")
	files := http.FileServerFS(assets)
	api := &api{b: b}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page(files, "/"))
	mux.Handle("GET /dev/console.js", page(files, "/console.js"))
	mux.Handle("GET /dev/console.css", page(files, "/console.css"))
	mux.HandleFunc("GET /dev/api/users", api.users)
	mux.Handle("POST /dev/api/users", api.createUser())
	mux.Handle("POST /dev/api/login", api.login())
	mux.Handle("POST /dev/api/play", api.play())
	mux.HandleFunc("GET /dev/api/status", api.status)
	mux.Handle("PUT /dev/api/faults", api.faults())
	mux.HandleFunc("GET /dev/api/history", api.history)
	mux.Handle("/dev/", http.NotFoundHandler())
	mux.Handle("/", next)
	return guard(mux, next)
}

// page serves one embedded file under the console's headers: scripts and styles from this
// origin only, no framing, no sniffing.
func page(files http.Handler, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		r2 := r.Clone(r.Context())
		r2.URL.Path = name
		files.ServeHTTP(w, r2)
	})
}

// guard keeps the console's own routes to the local developer: the Host must be a loopback name
// (no DNS rebinding), and a cross-site browser request is refused (no request from another
// page's origin drives the console). The service's routes pass untouched.
func guard(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && !strings.HasPrefix(r.URL.Path, "/dev/") {
			next.ServeHTTP(w, r)
			return
		}
		if !loopbackHost(r.Host) {
			http.Error(w, "the dev console answers only on a loopback address", http.StatusForbidden)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// decode reads a JSON request body of at most maxRequestBytes. A body must be declared JSON, so a
// cross-origin form post (which browsers send without asking) is refused.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.Join(ErrInvalid, errors.New("the body must be application/json"))
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.Join(ErrInvalid, err)
	}
	return nil
}

// answer writes v as JSON, or err as {"error", "message"} with 400 for ErrInvalid and 502
// otherwise (the failure is in the dev stack behind the console).
func answer(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err != nil {
		code, kind := http.StatusBadGateway, "dev_stack_error"
		if errors.Is(err, ErrInvalid) {
			code, kind = http.StatusBadRequest, "invalid_request"
		}
		w.WriteHeader(code)
		v = map[string]string{"error": kind, "message": err.Error()}
	}
	json.NewEncoder(w).Encode(v)
}
