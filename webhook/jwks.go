package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKS refresh settings used by JWKSKeyfunc.
const (
	// JWKSRefreshInterval is how often the key set is fetched in the background.
	JWKSRefreshInterval = time.Hour
	// JWKSUnknownKIDInterval is the least time between two fetches caused by tokens with an
	// unknown kid: a flood of made-up kids costs at most one fetch per interval.
	JWKSUnknownKIDInterval = 5 * time.Minute
	// JWKSFetchTimeout bounds one fetch of the key set, and how long a request with an unknown
	// kid may wait for it.
	JWKSFetchTimeout = 5 * time.Second
)

var errNoKID = errors.New("token has no kid")

// JWKSKeyfunc returns a jwt.Keyfunc over the JSON Web Key Set at jwksURL (Auth0:
// https://<domain>/.well-known/jwks.json), for Config.APIKeyfunc. The set is fetched now, cached,
// refreshed every JWKSRefreshInterval in the background until ctx ends, and refetched when a
// token names an unknown kid, at most once per JWKSUnknownKIDInterval. A failed first fetch is
// logged (slog.Default) and not fatal, so the service starts while the tenant is unreachable;
// tokens are refused until a fetch succeeds. client nil uses a client with JWKSFetchTimeout.
// Tokens without a kid are refused. It returns an error only for an unusable jwksURL.
func JWKSKeyfunc(ctx context.Context, jwksURL string, client *http.Client) (jwt.Keyfunc, error) {
	if client == nil {
		client = &http.Client{Timeout: JWKSFetchTimeout}
	}
	startWithoutKeys := true
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               JWKSFetchTimeout,
		NoErrorReturnFirstHTTPReq: &startWithoutKeys,
		RateLimitWaitMax:          JWKSFetchTimeout,
		RefreshInterval:           JWKSRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(JWKSUnknownKIDInterval), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				slog.Default().WarnContext(ctx, "jwks fetch failed", slog.String("url", u), slog.String("error", err.Error()))
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: jwks %q: %w", jwksURL, err)
	}
	return func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); !ok || kid == "" {
			return nil, errNoKID
		}
		return kf.Keyfunc(t)
	}, nil
}
