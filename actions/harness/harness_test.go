package harness

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	testSecret = "harness-test-callout-secret-0123456789"
	testNS     = "https://music.example.com"
	testDomain = "tenant.example.com"
)

func secrets(url string, extra ...string) map[string]string {
	s := map[string]string{
		"RULEHOOK_URL":    url,
		"CALLOUT_SECRET":  testSecret,
		"CLAIM_NAMESPACE": testNS,
		"AUTH0_DOMAIN":    testDomain,
		"TIMEOUT_MS":      "9000", // the most the Action allows: a loaded machine may be slow to answer
	}
	for i := 0; i+1 < len(extra); i += 2 {
		s[extra[i]] = extra[i+1]
	}
	return s
}

// run runs the login, skipping the test when node is not installed.
func run(t *testing.T, l Login) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	res, err := Run(ctx, l)
	if errors.Is(err, ErrNodeMissing) {
		t.Skip("node is not installed")
	}
	return res, err
}

func mustRun(t *testing.T, l Login) Result {
	t.Helper()
	res, err := run(t, l)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func checkLogsClean(t *testing.T, res Result, email string) {
	t.Helper()
	for _, line := range res.Logs {
		if strings.Contains(line, testSecret) || strings.Contains(line, "eyJ") || (email != "" && strings.Contains(line, email)) {
			t.Errorf("log line %q holds a secret, token or email", line)
		}
	}
}

func TestEditorTokenVerifiedByGo(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(map[string]int{"auth0|editor": 150}, "rulehook"))
	login := Login{
		User: User{
			ID: "auth0|editor", Email: "ed@example.com",
			AppMetadata:  map[string]any{"roles": []string{"admin"}},
			UserMetadata: map[string]any{"displayName": "Ed"},
		},
		Secrets:       secrets(rh.URL),
		TransactionID: "tx-42", ClientID: "app-1", ClientName: "Music", IP: "198.51.100.1", UserAgent: "ua/1",
	}
	for range 2 { // twice: the second callout needs a fresh jti
		res := mustRun(t, login)
		if got := rh.Rejected(); len(got) > 0 {
			t.Fatalf("rulehook rejected the Action's callout: %v", got)
		}
		want := []any{"admin", "playlist_editor"}
		claim := testNS + "/roles"
		if got := res.IDTokenClaims[claim]; !reflect.DeepEqual(got, want) {
			t.Errorf("ID token %s = %v; want %v", claim, got, want)
		}
		if got := res.AccessTokenClaims[claim]; !reflect.DeepEqual(got, want) {
			t.Errorf("access token %s = %v; want %v", claim, got, want)
		}
		if roles, ok := res.Roles(testNS + "/"); !ok || !slices.Equal(roles, []string{"admin", "playlist_editor"}) {
			t.Errorf("Roles() = %v, %v; want [admin playlist_editor], true", roles, ok)
		}
		if len(res.AppMetadataSet)+len(res.UserMetadataSet) > 0 || res.Denied {
			t.Errorf("metadata set %v %v, denied %v; want nothing set, not denied", res.AppMetadataSet, res.UserMetadataSet, res.Denied)
		}
		checkLogsClean(t, res, "ed@example.com")
	}
	b := rh.bodies[0]
	if b.Transaction["id"] != "tx-42" || b.Client["client_id"] != "app-1" || b.Client["name"] != "Music" ||
		b.Request["ip"] != "198.51.100.1" || b.Request["user_agent"] != "ua/1" || b.User.Email != "ed@example.com" {
		t.Errorf("callout body = %+v; want the login's transaction, client, request and email", b)
	}
}

func TestNonEditorClaims(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(map[string]int{"auth0|fan": 99}, "rulehook"))
	res := mustRun(t, Login{
		User:    User{ID: "auth0|fan", AppMetadata: map[string]any{"roles": []string{"playlist_editor", "beta"}}},
		Secrets: secrets(rh.URL),
	})
	if got := rh.Rejected(); len(got) > 0 {
		t.Fatalf("rejected: %v", got)
	}
	if roles, _ := res.Roles(testNS); !slices.Equal(roles, []string{"beta"}) {
		t.Errorf("roles = %v; want [beta]", roles)
	}
}

func TestActionWriteModeSetsMetadata(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(map[string]int{"auth0|new": 100}, "action"))
	res := mustRun(t, Login{User: User{ID: "auth0|new"}, Secrets: secrets(rh.URL)})
	if got := rh.Rejected(); len(got) > 0 {
		t.Fatalf("rejected: %v", got)
	}
	if got, want := res.AppMetadataSet, map[string]any{"roles": []any{"playlist_editor"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("AppMetadataSet = %v; want %v", got, want)
	}
	if got, want := res.UserMetadataSet, map[string]any{"displayName": "user"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UserMetadataSet = %v; want %v", got, want)
	}
}

func TestIssuerFromHostnameWithoutAuth0Domain(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(nil, "rulehook"))
	rh.issuer = "https://login.example.com/"
	s := secrets(rh.URL)
	delete(s, "AUTH0_DOMAIN")
	mustRun(t, Login{User: User{ID: "auth0|1"}, Secrets: s, Hostname: "login.example.com"})
	if got := rh.Rejected(); len(got) > 0 {
		t.Fatalf("rejected: %v", got)
	}
	if len(rh.bodies) != 1 {
		t.Fatalf("callouts = %d; want 1", len(rh.bodies))
	}
}

// TestVerifierRejectsWrongSecret is the negative control: a token signed with another key is
// refused, and the Action then fails open with the user's current roles.
func TestVerifierRejectsWrongSecret(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(map[string]int{"auth0|1": 500}, "rulehook"))
	res := mustRun(t, Login{
		User:    User{ID: "auth0|1", AppMetadata: map[string]any{"roles": []string{"admin"}}},
		Secrets: secrets(rh.URL, "CALLOUT_SECRET", strings.Repeat("x", 40)),
	})
	if got := rh.Rejected(); len(got) != 1 || !strings.Contains(got[0], "signature") {
		t.Errorf("rejections = %q; want one bad signature", got)
	}
	if roles, _ := res.Roles(testNS); !slices.Equal(roles, []string{"admin"}) || res.Denied {
		t.Errorf("roles = %v, denied %v; want [admin] (fail-open), not denied", roles, res.Denied)
	}
}

func TestRulehookDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	user := User{ID: "auth0|1", Email: "jo@example.com", AppMetadata: map[string]any{"roles": []string{"admin", "playlist_editor"}}}

	open := mustRun(t, Login{User: user, Secrets: secrets(url)})
	if roles, _ := open.Roles(testNS); !slices.Equal(roles, []string{"admin", "playlist_editor"}) || open.Denied {
		t.Errorf("open: roles = %v, denied %v; want current roles, not denied", roles, open.Denied)
	}
	checkLogsClean(t, open, user.Email)

	closed := mustRun(t, Login{User: user, Secrets: secrets(url, "FAILURE_POLICY", "closed")})
	if !closed.Denied || closed.DenyReason == "" || len(closed.IDTokenClaims) > 0 {
		t.Errorf("closed: denied %v (%q), claims %v; want denied with a reason, no claims", closed.Denied, closed.DenyReason, closed.IDTokenClaims)
	}
}

func TestRunnerEvent(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
  console.log('hello', 42);
  api.idToken.setCustomClaim('https://t.example.com/event', {
    user: event.user, secrets: event.secrets, transaction: event.transaction,
    client: event.client, request: event.request, tenant: event.tenant,
  });
  api.accessToken.setCustomClaim('https://t.example.com/undef', undefined);
  api.user.setAppMetadata('gone', null);
  api.user.setUserMetadata('displayName', 'x');
  api.access.deny('nope');
};`
	res := mustRun(t, Login{User: User{ID: "auth0|1"}, Secrets: map[string]string{"A": "b"}, Source: src})
	ev, _ := res.IDTokenClaims["https://t.example.com/event"].(map[string]any)
	var got struct {
		User        User              `json:"user"`
		Secrets     map[string]string `json:"secrets"`
		Transaction struct{ ID string }
		Client      struct {
			ClientID string `json:"client_id"`
		}
		Request struct{ IP, Hostname string }
		Tenant  struct{ ID string }
	}
	raw, _ := json.Marshal(ev)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.User.ID != "auth0|1" || got.User.AppMetadata == nil || got.User.UserMetadata == nil {
		t.Errorf("event.user = %+v; want user_id and {} metadata", got.User)
	}
	if got.Secrets["A"] != "b" || got.Transaction.ID == "" || got.Client.ClientID != "rulehook-harness" ||
		got.Request.IP != "127.0.0.1" || got.Request.Hostname != "rulehook-dev.local" || got.Tenant.ID == "" {
		t.Errorf("event = %s; want the defaults", raw)
	}
	if v, ok := res.AccessTokenClaims["https://t.example.com/undef"]; !ok || v != nil {
		t.Errorf("undefined claim = %v, %v; want nil, true", v, ok)
	}
	if v, ok := res.AppMetadataSet["gone"]; !ok || v != nil {
		t.Errorf("AppMetadataSet[gone] = %v, %v; want nil, true", v, ok)
	}
	if res.UserMetadataSet["displayName"] != "x" || !res.Denied || res.DenyReason != "nope" {
		t.Errorf("result = %+v; want displayName x, denied nope", res)
	}
	if want := []string{"hello 42"}; !slices.Equal(res.Logs, want) {
		t.Errorf("Logs = %q; want %q", res.Logs, want)
	}
}

func TestActionThrew(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://t.example.com/before', 1);
  throw new Error('boom');
};`
	res, err := run(t, Login{User: User{ID: "auth0|1"}, Source: src})
	if !errors.Is(err, ErrActionThrew) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run error = %v; want ErrActionThrew with the message", err)
	}
	if res.IDTokenClaims["https://t.example.com/before"] != float64(1) {
		t.Errorf("IDTokenClaims = %v; want the claim set before the throw", res.IDTokenClaims)
	}
}

func TestRunnerFailure(t *testing.T) {
	_, err := run(t, Login{User: User{ID: "auth0|1"}, Source: "this is not javascript"})
	if err == nil || errors.Is(err, ErrActionThrew) || !strings.Contains(err.Error(), "SyntaxError") {
		t.Errorf("Run error = %v; want a runner failure naming the SyntaxError", err)
	}
}

func TestNodeMissing(t *testing.T) {
	_, err := Run(t.Context(), Login{User: User{ID: "auth0|1"}, Node: "no-such-node-binary-rulehook"})
	if !errors.Is(err, ErrNodeMissing) {
		t.Errorf("Run error = %v; want ErrNodeMissing", err)
	}
}

func TestContextEnds(t *testing.T) {
	src := `exports.onExecutePostLogin = () => new Promise(() => setInterval(() => {}, 1000));`
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Login{User: User{ID: "auth0|1"}, Source: src})
	if errors.Is(err, ErrNodeMissing) {
		t.Skip("node is not installed")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v; want context.DeadlineExceeded", err)
	}
}

func TestClaimsAuth0WouldDropAreNotRecorded(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('roles', ['a']);
  api.accessToken.setCustomClaim('https://tenant.auth0.com/roles', ['a']);
  api.idToken.setCustomClaim('https://x.webtask.io/roles', ['a']);
  api.idToken.setCustomClaim('https://webtask.run/roles', ['a']);
  api.idToken.setCustomClaim('urn:music:roles', ['a']);
  api.idToken.setCustomClaim('https://music.example.com/roles', ['a']);
};`
	res := mustRun(t, Login{User: User{ID: "auth0|1"}, Source: src})
	if want := map[string]any{"https://music.example.com/roles": []any{"a"}}; !reflect.DeepEqual(res.IDTokenClaims, want) {
		t.Errorf("IDTokenClaims = %v; want only the namespaced claim %v", res.IDTokenClaims, want)
	}
	if len(res.AccessTokenClaims) != 0 {
		t.Errorf("AccessTokenClaims = %v; want none (auth0.com namespace)", res.AccessTokenClaims)
	}
	want := []string{
		"id_token roles: not namespaced",
		"access_token https://tenant.auth0.com/roles: namespace on tenant.auth0.com",
		"id_token https://x.webtask.io/roles: namespace on x.webtask.io",
		"id_token https://webtask.run/roles: namespace on webtask.run",
		"id_token urn:music:roles: not namespaced",
	}
	if !slices.Equal(res.DroppedClaims, want) {
		t.Errorf("DroppedClaims = %q; want %q", res.DroppedClaims, want)
	}
}

func TestEventShapes(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim('https://t.example.com/event', {
    transaction: event.transaction === undefined ? 'absent' : event.transaction,
    request: event.request,
  });
};`
	ev := func(res Result) map[string]any {
		m, _ := res.IDTokenClaims["https://t.example.com/event"].(map[string]any)
		return m
	}
	refresh := ev(mustRun(t, Login{User: User{ID: "auth0|1"}, Source: src, Protocol: ProtocolRefreshToken}))
	tx, _ := refresh["transaction"].(map[string]any)
	req, _ := refresh["request"].(map[string]any)
	body, _ := req["body"].(map[string]any)
	if tx["protocol"] != ProtocolRefreshToken || req["method"] != "POST" || body["grant_type"] != "refresh_token" {
		t.Errorf("refresh event = %v; want protocol %s, a POST with grant_type refresh_token", refresh, ProtocolRefreshToken)
	}
	bare := ev(mustRun(t, Login{User: User{ID: "auth0|1"}, Source: src, Omit: []string{"transaction.id", "request.hostname"}}))
	tx, _ = bare["transaction"].(map[string]any)
	req, _ = bare["request"].(map[string]any)
	if _, has := tx["id"]; has || tx["protocol"] == nil {
		t.Errorf("transaction = %v; want no id, the protocol kept", tx)
	}
	if _, has := req["hostname"]; has || req["ip"] == nil {
		t.Errorf("request = %v; want no hostname, the ip kept", req)
	}
	none := ev(mustRun(t, Login{User: User{ID: "auth0|1"}, Source: src, Omit: []string{"transaction"}}))
	if none["transaction"] != "absent" {
		t.Errorf("transaction = %v; want it absent", none["transaction"])
	}
}

func TestRefreshTokenExchangeThroughTheAction(t *testing.T) {
	rh := newFakeRulehook(t, decideByPlays(map[string]int{"auth0|ed": 150}, "rulehook"))
	res := mustRun(t, Login{
		User: User{ID: "auth0|ed", AppMetadata: map[string]any{"roles": []string{"admin", "playlist_editor"}},
			UserMetadata: map[string]any{"displayName": "Ed"}},
		Secrets: secrets(rh.URL), Protocol: ProtocolRefreshToken, Omit: []string{"transaction.id", "request.hostname"},
	})
	if got := rh.Rejected(); len(got) > 0 {
		t.Fatalf("rulehook rejected the refresh callout: %v", got)
	}
	if roles, ok := res.Roles(testNS); !ok || !slices.Equal(roles, []string{"admin", "playlist_editor"}) {
		t.Errorf("roles after refresh = %v, %v; want [admin playlist_editor]", roles, ok)
	}
	if len(res.DroppedClaims) > 0 || res.Denied {
		t.Errorf("dropped %v, denied %v; want neither", res.DroppedClaims, res.Denied)
	}
	if b := rh.bodies[0]; b.Transaction["id"] != "" || b.User.ID != "auth0|ed" {
		t.Errorf("callout body = %+v; want no transaction id, the user", b)
	}
}
