package webhook

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/rulehook/rulehook/metadata"
)

const callerKey = "rulehook.caller"

var (
	errAlgNotAccepted = errors.New("token algorithm not accepted")
	errNotRSAKey      = errors.New("keyfunc returned no RSA public key")
)

// appClaims are the claims of an app API token; the caller is its sub.
type appClaims struct {
	jwt.RegisteredClaims
}

// Validate implements jwt.ClaimsValidator: the sub must be a plausible user id.
func (c *appClaims) Validate() error {
	return metadata.ValidateUserID(c.Subject)
}

// appVerifier checks app API tokens. The header's alg only picks which verifier runs; each
// verifier's parser allows its one algorithm, so an HS256 token never reaches the RSA keys and
// an RS256 token never reaches the legacy secret.
type appVerifier struct {
	rs     *jwt.Parser // nil: RS256 app tokens off
	rsKey  jwt.Keyfunc
	legacy *jwt.Parser // nil: legacy HS256 app tokens off
	hsKey  any

	legacyFast     *fastVerifier // nil: legacy HS256 app tokens off (see appauth_fast.go)
	legacyAudience string
	legacyIssuer   string
	now            func() time.Time
}

func newAppVerifier(cfg Config) appVerifier {
	var v appVerifier
	if cfg.APIKeyfunc != nil {
		v.rs = jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithAudience(cfg.APIAudience),
			jwt.WithIssuer(cfg.APIIssuer),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(ClockLeeway),
			jwt.WithTimeFunc(cfg.Now),
		)
		v.rsKey = rsaOnly(cfg.APIKeyfunc)
	}
	if len(cfg.LegacySecret) > 0 {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithAudience(cfg.LegacyAudience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(ClockLeeway),
			jwt.WithTimeFunc(cfg.Now),
		}
		if cfg.LegacyIssuer != "" {
			opts = append(opts, jwt.WithIssuer(cfg.LegacyIssuer))
		}
		v.legacy = jwt.NewParser(opts...)
		v.hsKey = cfg.LegacySecret
		v.legacyFast = newFastVerifier([][]byte{cfg.LegacySecret})
		v.legacyAudience, v.legacyIssuer, v.now = cfg.LegacyAudience, cfg.LegacyIssuer, cfg.Now
	}
	return v
}

// rsaOnly wraps kf so that only RSA public keys, for an RS256 token, ever come out of it.
func rsaOnly(kf jwt.Keyfunc) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, errWrongMethod
		}
		key, err := kf(t)
		if err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			return k, nil
		case jwt.VerificationKeySet:
			var set jwt.VerificationKeySet
			for _, one := range k.Keys {
				if pk, ok := one.(*rsa.PublicKey); ok {
					set.Keys = append(set.Keys, pk)
				}
			}
			if len(set.Keys) > 0 {
				return set, nil
			}
		}
		return nil, errNotRSAKey
	}
}

func (v appVerifier) legacyKey(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errWrongMethod
	}
	return v.hsKey, nil
}

// verify returns the caller (the token's sub) of a valid app token.
func (v appVerifier) verify(raw string) (string, error) {
	if sub, verdict, err := v.verifyLegacyFast(raw); verdict == fastDecided {
		return sub, err
	}
	claims := new(appClaims)
	var err error
	switch alg := headerAlg(raw); {
	case alg == jwt.SigningMethodRS256.Alg() && v.rs != nil:
		_, err = v.rs.ParseWithClaims(raw, claims, v.rsKey)
	case alg == jwt.SigningMethodHS256.Alg() && v.legacy != nil:
		_, err = v.legacy.ParseWithClaims(raw, claims, v.legacyKey)
	default:
		err = errAlgNotAccepted
	}
	if err != nil {
		return "", err
	}
	return claims.Subject, nil
}

// headerAlg reads the alg of a JWT's header without trusting anything else in the token.
func headerAlg(raw string) string {
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

// requireAppToken authenticates an app API request and records the caller; every app route
// acts on the caller's own data only.
func (s *Server) requireAppToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return tokenError("an access token is required", nil, true)
		}
		caller, err := s.app.verify(raw)
		if err != nil {
			return tokenError("the access token is not valid", err, false)
		}
		setCaller(c, caller)
		return next(c)
	}
}

// setCaller records the caller in the request's state (which costs no allocation), or in
// echo's store when the edge is not in front.
func setCaller(c echo.Context, caller string) {
	if st := stateOf(c); st != nil {
		st.caller = caller
		return
	}
	c.Set(callerKey, caller)
}

func callerOf(c echo.Context) string {
	if st := stateOf(c); st != nil {
		return st.caller
	}
	id, _ := c.Get(callerKey).(string)
	return id
}
