package deployaction_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/actions"
	"github.com/rulehook/rulehook/cmd/rulehook/internal/deployaction"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

const calloutSecret = "callout-secret-for-tests-0123456789abcdef"

func newTenant(t *testing.T, opts ...mgmttest.Option) *mgmttest.Server {
	t.Helper()
	s := mgmttest.New(opts...)
	t.Cleanup(s.Close)
	return s
}

// options deploys to s with a complete set of secrets, printing into progress.
func options(s *mgmttest.Server, progress io.Writer) deployaction.Options {
	return deployaction.Options{
		BaseURL: s.URL(), Domain: s.Domain(), ClientID: s.ClientID(), ClientSecret: s.ClientSecret(),
		Secrets: map[string]string{
			actions.SecretRulehookURL:    "https://rulehook.example.com",
			actions.SecretCalloutSecret:  calloutSecret,
			actions.SecretClaimNamespace: "https://music.example.com",
			actions.SecretFailurePolicy:  "open",
			actions.SecretTimeoutMS:      "4000",
		},
		Progress:     progress,
		BuildTimeout: testkit.Patience,
	}
}

func deploy(t *testing.T, o deployaction.Options) deployaction.Result {
	t.Helper()
	res, err := deployaction.Deploy(t.Context(), o)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	return res
}

// ours returns the tenant's Actions named name; a test expects exactly one.
func ours(t *testing.T, s *mgmttest.Server, name string) mgmttest.Action {
	t.Helper()
	var found []mgmttest.Action
	for _, a := range s.Actions() {
		if a.Name == name {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("actions named %q: got %d, want 1", name, len(found))
	}
	return found[0]
}

func bindingNames(list []mgmttest.Binding) []string {
	out := []string{}
	for _, b := range list {
		out = append(out, b.ActionName)
	}
	return out
}

func resultNames(list []deployaction.Binding) []string {
	out := []string{}
	for _, b := range list {
		out = append(out, b.ActionName)
	}
	return out
}

// writes lists the logged requests to the Management API other than GETs.
func writes(s *mgmttest.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, "/api/v2/") && r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func TestDeployTwiceCreatesOneBoundDeployedAction(t *testing.T) {
	s := newTenant(t)
	a := s.SeedBoundAction("post-login", "before-a")
	b := s.SeedBoundAction("post-login", "before-b")
	other := s.SeedBoundAction("credentials-exchange", "m2m-claims")
	beforeIDs := []string{s.Bindings("post-login")[0].ID, s.Bindings("post-login")[1].ID}

	var out bytes.Buffer
	res := deploy(t, options(s, &out))
	if res.Change != deployaction.ChangeCreate || !res.Deployed || res.Version != 1 || !res.BindingsChanged {
		t.Errorf("first Deploy = %+v; want create, deployed version 1, bindings changed", res)
	}
	got := ours(t, s, deployaction.DefaultName)
	if got.ID != res.ActionID {
		t.Errorf("Result.ActionID = %q; want %q", res.ActionID, got.ID)
	}
	if got.DeployedVersion != 1 || !got.AllChangesDeployed || got.Status != "built" {
		t.Errorf("action deployed version %d, all deployed %v, status %q; want 1, true, built",
			got.DeployedVersion, got.AllChangesDeployed, got.Status)
	}
	if got.Runtime != "node22" || !slices.Equal(got.Triggers, []string{"post-login"}) {
		t.Errorf("action runtime %q, triggers %v; want node22, [post-login]", got.Runtime, got.Triggers)
	}
	if !strings.HasPrefix(got.Code, actions.Source) {
		t.Errorf("deployed code does not start with actions.Source")
	}
	wantSecrets := options(s, nil).Secrets
	wantSecrets[actions.SecretAuth0Domain] = s.Domain() // defaulted from Options.Domain
	if len(got.Secrets) != len(wantSecrets) {
		t.Errorf("action secrets: got %d names, want %d", len(got.Secrets), len(wantSecrets))
	}
	for name, v := range wantSecrets {
		if got.Secrets[name] != v {
			t.Errorf("secret %s has not the value given", name) // never print values
		}
	}
	wantBound := []string{"before-a", "before-b", deployaction.DefaultName}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, wantBound) {
		t.Errorf("post-login bindings = %v; want %v", names, wantBound)
	}
	if names := resultNames(res.BindingsAfter); !slices.Equal(names, wantBound) {
		t.Errorf("Result.BindingsAfter = %v; want %v", names, wantBound)
	}
	bound := s.Bindings("post-login")
	if bound[0].ID != beforeIDs[0] || bound[1].ID != beforeIDs[1] || bound[0].ActionID != a.ID || bound[1].ActionID != b.ID {
		t.Errorf("the other bindings were replaced: got %+v", bound[:2])
	}
	if names := bindingNames(s.Bindings("credentials-exchange")); !slices.Equal(names, []string{other.Name}) {
		t.Errorf("credentials-exchange bindings = %v; want [%s]", names, other.Name)
	}

	s.ResetLog()
	res = deploy(t, options(s, &out))
	if res.Change != deployaction.ChangeNone || res.Deployed || res.BindingsChanged || res.Version != 1 {
		t.Errorf("second Deploy = %+v; want unchanged, no deploy, bindings unchanged, version 1", res)
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("second Deploy wrote %v; want no writes", w)
	}
	got = ours(t, s, deployaction.DefaultName)
	if got.Versions != 1 || got.DeployedVersion != 1 {
		t.Errorf("after the second Deploy: %d versions, version %d deployed; want 1, 1", got.Versions, got.DeployedVersion)
	}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, wantBound) {
		t.Errorf("post-login bindings after the second Deploy = %v; want %v", names, wantBound)
	}
	assertNoSecretValues(t, out.String(), options(s, nil))
}

func assertNoSecretValues(t *testing.T, text string, o deployaction.Options) {
	t.Helper()
	for name, v := range o.Secrets {
		if len(v) >= 8 && strings.Contains(text, v) {
			t.Errorf("output holds the value of secret %s", name)
		}
	}
	if strings.Contains(text, o.ClientSecret) {
		t.Errorf("output holds the client secret")
	}
}

func TestDryRunOnlyReads(t *testing.T) {
	s := newTenant(t)
	s.SeedBoundAction("post-login", "before-a")

	var out bytes.Buffer
	o := options(s, &out)
	o.DryRun = true
	res := deploy(t, o)
	if !res.DryRun || res.Change != deployaction.ChangeCreate || !res.Deployed || !res.BindingsChanged || res.ActionID != "" {
		t.Errorf("dry run on an empty tenant = %+v; want create, deploy, bindings changed, no id", res)
	}
	want := []string{"before-a", deployaction.DefaultName}
	if names := resultNames(res.BindingsAfter); !slices.Equal(names, want) {
		t.Errorf("dry run BindingsAfter = %v; want %v", names, want)
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("dry run wrote %v; want only GETs", w)
	}
	if n := len(s.Actions()); n != 1 {
		t.Errorf("tenant has %d actions after a dry run; want 1 (the seeded one)", n)
	}
	for _, line := range []string{"dry run", `action "rulehook post-login": create`, "deploy: a new version",
		`post-login bindings: ["before-a"] → ["before-a", "rulehook post-login" (new)]`} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("dry run output lacks %q:\n%s", line, out.String())
		}
	}
	assertNoSecretValues(t, out.String(), o)

	// Against an installed Action, a dry run with new code plans an update and changes nothing.
	o.DryRun = false
	deploy(t, o)
	before := ours(t, s, deployaction.DefaultName)
	s.ResetLog()
	o.DryRun = true
	o.Source = actions.Source + "\n// v2\n"
	res = deploy(t, o)
	if res.Change != deployaction.ChangeUpdate || !slices.Equal(res.Reasons, []string{"code"}) || !res.Deployed || res.BindingsChanged {
		t.Errorf("dry run with new code = %+v; want update (code), deploy, bindings unchanged", res)
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("dry run wrote %v; want only GETs", w)
	}
	if after := ours(t, s, deployaction.DefaultName); after.Code != before.Code || after.Versions != before.Versions {
		t.Errorf("dry run changed the action")
	}
}

func TestNewSourceUpdatesAndRedeploysKeepingBindingPosition(t *testing.T) {
	s := newTenant(t)
	s.SeedBoundAction("post-login", "before-a")
	o := options(s, io.Discard)
	deploy(t, o)
	s.SeedBoundAction("post-login", "after-c") // bound after ours
	wantBound := []string{"before-a", deployaction.DefaultName, "after-c"}

	s.ResetLog()
	o.Source = actions.Source + "\n// a new release\n"
	res := deploy(t, o)
	if res.Change != deployaction.ChangeUpdate || !slices.Equal(res.Reasons, []string{"code"}) || !res.Deployed || res.Version != 2 {
		t.Errorf("Deploy with new code = %+v; want update (code), deployed version 2", res)
	}
	got := ours(t, s, deployaction.DefaultName)
	if !strings.HasPrefix(got.Code, o.Source) || got.DeployedVersion != 2 || !got.AllChangesDeployed {
		t.Errorf("action after the update: deployed version %d, all deployed %v, new code %v; want 2, true, true",
			got.DeployedVersion, got.AllChangesDeployed, strings.HasPrefix(got.Code, o.Source))
	}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, wantBound) {
		t.Errorf("post-login bindings = %v; want %v", names, wantBound)
	}
	if n := s.Count(http.MethodPatch, "/api/v2/actions/triggers/"); n != 0 {
		t.Errorf("bindings PATCHed %d times; want 0 (already bound once)", n)
	}
	if n := s.Count(http.MethodPost, "/api/v2/actions/actions/"+got.ID+"/deploy"); n != 1 {
		t.Errorf("deploy called %d times; want 1", n)
	}
}

func TestSecretChangesAreDetected(t *testing.T) {
	s := newTenant(t)
	o := options(s, io.Discard)
	deploy(t, o)

	o.Secrets[actions.SecretCalloutSecret] = calloutSecret + "-rotated"
	res := deploy(t, o)
	if res.Change != deployaction.ChangeUpdate || !slices.Equal(res.Reasons, []string{"secret values"}) || res.Version != 2 {
		t.Errorf("Deploy with a new secret value = %+v; want update (secret values), version 2", res)
	}
	if got := ours(t, s, deployaction.DefaultName); got.Secrets[actions.SecretCalloutSecret] != o.Secrets[actions.SecretCalloutSecret] {
		t.Errorf("CALLOUT_SECRET was not updated")
	}

	delete(o.Secrets, actions.SecretTimeoutMS)
	res = deploy(t, o)
	if res.Change != deployaction.ChangeUpdate || !slices.Equal(res.Reasons, []string{"secrets removed: TIMEOUT_MS"}) {
		t.Errorf("Deploy without TIMEOUT_MS = %+v; want update (secrets removed: TIMEOUT_MS)", res)
	}
	if _, ok := ours(t, s, deployaction.DefaultName).Secrets[actions.SecretTimeoutMS]; ok {
		t.Errorf("TIMEOUT_MS is still set on the action")
	}

	o.Force = true
	res = deploy(t, o)
	if res.Change != deployaction.ChangeUpdate || !slices.Equal(res.Reasons, []string{"forced"}) || res.Version != 4 {
		t.Errorf("forced Deploy = %+v; want update (forced), version 4", res)
	}
}

func TestWaitsForAPendingBuild(t *testing.T) {
	// Long enough that even a starved poller reads the action more than once while it builds.
	s := newTenant(t, mgmttest.WithBuildDelay(2*time.Second))
	var out bytes.Buffer
	res := deploy(t, options(s, &out))
	if !res.Deployed || res.Version != 1 {
		t.Errorf("Deploy = %+v; want deployed version 1", res)
	}
	if n := s.Count(http.MethodGet, "/api/v2/actions/actions/"+res.ActionID); n < 2 {
		t.Errorf("action read %d times while building; want polling (>= 2)", n)
	}
	if !strings.Contains(out.String(), "built in") {
		t.Errorf("output does not report the build:\n%s", out.String())
	}
}

func TestBuildTimeout(t *testing.T) {
	s := newTenant(t, mgmttest.WithBuildDelay(time.Hour))
	s.SeedBoundAction("post-login", "before-a")
	o := options(s, io.Discard)
	o.BuildTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := deployaction.Deploy(t.Context(), o)
	if !errors.Is(err, deployaction.ErrBuildTimeout) {
		t.Fatalf("Deploy = %v; want ErrBuildTimeout", err)
	}
	if d := time.Since(start); d > testkit.Within(300*time.Millisecond) {
		t.Errorf("Deploy gave up after %s; want about the 300ms build timeout", d)
	}
	if n := s.Count(http.MethodPost, "/api/v2/actions/actions/"+ours(t, s, deployaction.DefaultName).ID+"/deploy"); n != 0 {
		t.Errorf("deploy called %d times; want 0", n)
	}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, []string{"before-a"}) {
		t.Errorf("post-login bindings = %v; want [before-a] untouched", names)
	}
}

func TestRerunAfterATimeoutFinishesTheJob(t *testing.T) {
	// The first run gives up long before the build ends, however slow the machine.
	s := newTenant(t, mgmttest.WithBuildDelay(3*time.Second))
	o := options(s, io.Discard)
	o.BuildTimeout = 50 * time.Millisecond
	if _, err := deployaction.Deploy(t.Context(), o); !errors.Is(err, deployaction.ErrBuildTimeout) {
		t.Fatalf("first Deploy = %v; want ErrBuildTimeout", err)
	}
	o.BuildTimeout = testkit.Patience
	res := deploy(t, o)
	if res.Change != deployaction.ChangeNone || !res.Deployed || res.Version != 1 || !res.BindingsChanged {
		t.Errorf("second Deploy = %+v; want unchanged action, deployed version 1, bound", res)
	}
	if n := len(s.Actions()); n != 1 {
		t.Errorf("tenant has %d actions; want 1", n)
	}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, []string{deployaction.DefaultName}) {
		t.Errorf("post-login bindings = %v; want [%s]", names, deployaction.DefaultName)
	}
}

// failingBuilds is a proxy in front of s that reports every Action as failed to build: the
// emulated tenant's builds always succeed.
func failingBuilds(t *testing.T, s *mgmttest.Server) string {
	t.Helper()
	target, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		rest, ok := strings.CutPrefix(r.Request.URL.Path, "/api/v2/actions/actions/")
		if r.Request.Method != http.MethodGet || !ok || strings.Contains(rest, "/") || r.StatusCode != http.StatusOK {
			return nil
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return err
		}
		r.Body.Close()
		m["status"] = "failed"
		b, _ := json.Marshal(m)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	p := httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p.URL
}

func TestBuildFailure(t *testing.T) {
	s := newTenant(t)
	o := options(s, io.Discard)
	o.BaseURL = failingBuilds(t, s)
	_, err := deployaction.Deploy(t.Context(), o)
	if !errors.Is(err, deployaction.ErrBuildFailed) {
		t.Fatalf("Deploy = %v; want ErrBuildFailed", err)
	}
	if w := writes(s); len(w) != 1 || w[0] != "POST /api/v2/actions/actions" {
		t.Errorf("writes = %v; want only the create", w)
	}
}

func TestDuplicateBindingsCollapseToTheFirst(t *testing.T) {
	s := newTenant(t)
	a := s.SeedBoundAction("post-login", "before-a")
	res := deploy(t, options(s, io.Discard))
	b := s.SeedBoundAction("post-login", "after-b")

	// Bind ours twice, as a hand edit might: [ours, a, b, ours].
	m, err := client.New(s.Host(), option.WithInsecure(),
		option.WithClientCredentials(context.Background(), s.ClientID(), s.ClientSecret()))
	if err != nil {
		t.Fatal(err)
	}
	ref := func(id string) *management.ActionBindingWithRef {
		return &management.ActionBindingWithRef{Ref: &management.ActionBindingRef{
			Type: management.ActionBindingRefTypeEnumActionID.Ptr(), Value: management.String(id)}}
	}
	trigger := management.ActionTriggerTypeEnumPostLogin
	req := &management.UpdateActionBindingsRequestContent{}
	req.SetBindings([]*management.ActionBindingWithRef{ref(res.ActionID), ref(a.ID), ref(b.ID), ref(res.ActionID)})
	if _, err := m.Actions.Triggers.Bindings.UpdateMany(t.Context(), &trigger, req, option.WithoutRetries()); err != nil {
		t.Fatalf("binding twice: %v", err)
	}

	res = deploy(t, options(s, io.Discard))
	want := []string{deployaction.DefaultName, "before-a", "after-b"}
	if res.Change != deployaction.ChangeNone || !res.BindingsChanged {
		t.Errorf("Deploy = %+v; want unchanged action, bindings changed", res)
	}
	if names := bindingNames(s.Bindings("post-login")); !slices.Equal(names, want) {
		t.Errorf("post-login bindings = %v; want %v", names, want)
	}
}

func TestNameTakenByAnotherTrigger(t *testing.T) {
	s := newTenant(t)
	s.SeedBoundAction("credentials-exchange", deployaction.DefaultName)
	_, err := deployaction.Deploy(t.Context(), options(s, io.Discard))
	if !errors.Is(err, deployaction.ErrNameTaken) {
		t.Fatalf("Deploy = %v; want ErrNameTaken", err)
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("writes = %v; want none", w)
	}
}

func TestInvalidOptionsSendNothing(t *testing.T) {
	s := newTenant(t)
	tests := []struct {
		name   string
		edit   func(*deployaction.Options)
		reason string
	}{
		{"no callout secret", func(o *deployaction.Options) { delete(o.Secrets, actions.SecretCalloutSecret) }, "CALLOUT_SECRET is required"},
		{"short callout secret", func(o *deployaction.Options) { o.Secrets[actions.SecretCalloutSecret] = "short-secret-value" }, "at least 32 bytes"},
		{"unknown secret", func(o *deployaction.Options) { o.Secrets["RULEHOOK_ULR"] = "https://x" }, `"RULEHOOK_ULR" is not read`},
		{"http rulehook", func(o *deployaction.Options) { o.Secrets[actions.SecretRulehookURL] = "http://rulehook.example.com" }, "RULEHOOK_URL"},
		{"bad policy", func(o *deployaction.Options) { o.Secrets[actions.SecretFailurePolicy] = "maybe" }, "open or closed"},
		{"bad timeout", func(o *deployaction.Options) { o.Secrets[actions.SecretTimeoutMS] = "20000" }, "TIMEOUT_MS"},
		{"http tenant", func(o *deployaction.Options) { o.BaseURL = "http://tenant.example.com" }, "loopback"},
		{"no tenant", func(o *deployaction.Options) { o.BaseURL, o.Domain = "", "" }, "base url"},
		{"no client", func(o *deployaction.Options) { o.ClientID = "" }, "client id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(s, io.Discard)
			tt.edit(&o)
			_, err := deployaction.Deploy(t.Context(), o)
			if !errors.Is(err, deployaction.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Deploy = %v; want ErrInvalidOptions saying %q", err, tt.reason)
			}
			if err != nil {
				assertNoSecretValues(t, err.Error(), o)
			}
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("tenant got %d requests; want none", n)
	}
}

func TestRefusedTokenIsReported(t *testing.T) {
	s := newTenant(t)
	o := options(s, io.Discard)
	o.ClientSecret = "a-wrong-client-secret"
	_, err := deployaction.Deploy(t.Context(), o)
	var apiErr *deployaction.APIError
	if !errors.As(err, &apiErr) || apiErr.Op != "token" || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("Deploy = %v; want a token *APIError with status 401", err)
	}
	if !strings.Contains(err.Error(), "AUTH0_CLIENT_SECRET") {
		t.Errorf("error = %v; want it to point at the credentials", err)
	}
	assertNoSecretValues(t, err.Error(), o)
}

func TestRateLimitedCallIsRetriedAfterReset(t *testing.T) {
	s := newTenant(t)
	s.SetFault(http.MethodGet, "/api/v2/actions/actions", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: time.Now(), Times: 1})
	var out bytes.Buffer
	res := deploy(t, options(s, &out))
	if res.Change != deployaction.ChangeCreate || res.Version != 1 {
		t.Errorf("Deploy = %+v; want create, version 1", res)
	}
	if !strings.Contains(out.String(), "rate limited") {
		t.Errorf("output does not mention the 429:\n%s", out.String())
	}
}

func TestFirstRunWaitsForTheDeployBeforeBinding(t *testing.T) {
	s := newTenant(t, mgmttest.WithDeployDelay(300*time.Millisecond))
	other := s.SeedBoundAction("post-login", "before")
	var out bytes.Buffer
	res := deploy(t, options(s, &out))
	if res.Change != deployaction.ChangeCreate || !res.Deployed || res.Version != 1 {
		t.Errorf("Deploy = %+v; want create, deployed version 1", res)
	}
	got := s.Bindings("post-login")
	if len(got) != 2 || got[0].ActionID != other.ID || got[1].ActionID != res.ActionID {
		t.Errorf("bindings = %+v; want the existing one, then ours", got)
	}
	// The emulator refuses a binding before the version reads deployed: no PATCH may have been
	// answered 400.
	for _, r := range s.Requests() {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.Path, "/bindings") && r.Status != 200 {
			t.Errorf("PATCH bindings answered %d; want it sent only once deployed", r.Status)
		}
	}
	if !strings.Contains(out.String(), "deployed version 1") {
		t.Errorf("progress lacks the deploy:\n%s", out.String())
	}
}

func TestBindingRetriedWhileAuth0SaysNotDeployedYet(t *testing.T) {
	s := newTenant(t)
	s.SetFault(http.MethodPatch, "/api/v2/actions/triggers/post-login/bindings", mgmttest.Fault{
		Status: 400, Message: "Trying to create a binding for an action that has not been deployed yet", Times: 2,
	})
	var out bytes.Buffer
	res := deploy(t, options(s, &out))
	if got := s.Bindings("post-login"); len(got) != 1 || got[0].ActionID != res.ActionID {
		t.Errorf("bindings = %+v; want ours", got)
	}
	if got, want := s.Count(http.MethodPatch, "/api/v2/actions/triggers/post-login/bindings"), 3; got != want {
		t.Errorf("PATCH bindings sent %d times; want %d (two refusals, then the binding)", got, want)
	}
	if !strings.Contains(out.String(), "still deploying") {
		t.Errorf("progress does not say why it binds again:\n%s", out.String())
	}
}

func TestOtherBadRequestOnBindingIsNotRetried(t *testing.T) {
	s := newTenant(t)
	s.SetFault(http.MethodPatch, "/api/v2/actions/triggers/post-login/bindings", mgmttest.Fault{Status: 400, Message: "Payload validation error"})
	_, err := deployaction.Deploy(t.Context(), options(s, nil))
	var apiErr *deployaction.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("Deploy = %v; want the 400 as an *APIError", err)
	}
	if got := s.Count(http.MethodPatch, "/api/v2/actions/triggers/post-login/bindings"); got != 1 {
		t.Errorf("PATCH bindings sent %d times; want 1", got)
	}
}

func TestMissingActionScopesAreNamed(t *testing.T) {
	s := newTenant(t, mgmttest.WithGrantedScopes("read:users", "update:users"))
	_, err := deployaction.Deploy(t.Context(), options(s, nil))
	var apiErr *deployaction.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 403 || !strings.Contains(err.Error(), "read:actions") {
		t.Fatalf("Deploy without action scopes = %v; want a 403 naming read:actions", err)
	}
}

func TestDeployThatNeverFinishesTimesOutWithoutBinding(t *testing.T) {
	s := newTenant(t, mgmttest.WithDeployDelay(time.Hour))
	o := options(s, nil)
	o.BuildTimeout = 300 * time.Millisecond
	_, err := deployaction.Deploy(t.Context(), o)
	if !errors.Is(err, deployaction.ErrBuildTimeout) || !strings.Contains(err.Error(), "deploying") {
		t.Fatalf("Deploy = %v; want ErrBuildTimeout saying it is still deploying", err)
	}
	if got := s.Bindings("post-login"); len(got) != 0 {
		t.Errorf("bindings = %+v; want none while the version is not deployed", got)
	}
	var out bytes.Buffer
	o.DryRun, o.Progress = true, &out
	if _, err := deployaction.Deploy(t.Context(), o); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !strings.Contains(out.String(), "version 1 is still deploying") {
		t.Errorf("plan of the re-run:\n%s\nwant it to say version 1 is still deploying", out.String())
	}
}
