package deployaction_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// On Auth0's free tier the build polls share one bucket of 2 per second with every other call:
// deploy-action's calls go through a rate budget, so they wait for the tenant's tokens instead of
// drawing 429s (which a first poll after 100 ms, with the create just before, would).
func TestDeployOnTheFreeTierDrawsNo429(t *testing.T) {
	s := newTenant(t, mgmttest.WithTier(mgmttest.FreeTier()), mgmttest.WithBuildDelay(time.Second))
	o := options(s, nil)
	o.BuildTimeout = 30 * time.Second
	res := deploy(t, o)
	if !res.Deployed {
		t.Errorf("Deploy = %+v; want deployed", res)
	}
	if n := s.CountStatus(http.StatusTooManyRequests); n != 0 {
		t.Errorf("tenant answered 429 to %d of %d calls; want none", n, s.Count("", "/api/v2/"))
	}
}
