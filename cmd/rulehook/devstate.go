package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// devState is what `rulehook dev` writes for login, token, audit and reconcile to find it. It
// holds throwaway secrets, so the file is private to the user.
type devState struct {
	RulehookURL        string `json:"rulehook_url"`
	RedisURL           string `json:"redis_url"`
	TenantURL          string `json:"tenant_url"`
	Domain             string `json:"domain"`
	ClientID           string `json:"client_id"`
	ClientSecret       string `json:"client_secret"`
	CalloutSecret      string `json:"callout_secret"`
	Audience           string `json:"audience"`
	Issuer             string `json:"issuer"`
	ClaimNamespace     string `json:"claim_namespace"`
	APIAudience        string `json:"api_audience"`
	UserPassword       string `json:"user_password"` // of the users login creates, for `rulehook token`
	WriteMode          string `json:"write_mode"`
	FailurePolicy      string `json:"failure_policy"`
	Threshold          int64  `json:"threshold"`
	DefaultDisplayName string `json:"default_display_name"`
}

// errNoDev means no state file: no `rulehook dev` was started with that path.
var errNoDev = errors.New("no running rulehook dev")

func defaultDevStatePath() string { return filepath.Join(os.TempDir(), "rulehook-dev.json") }

func newDevState(rulehookURL, redisURL string, tenant *mgmttest.Server) devState {
	return devState{
		RulehookURL:    rulehookURL,
		RedisURL:       redisURL,
		TenantURL:      tenant.URL(),
		Domain:         tenant.Domain(),
		ClientID:       tenant.ClientID(),
		ClientSecret:   tenant.ClientSecret(),
		CalloutSecret:  randomSecret(),
		Audience:       rulehookURL,
		Issuer:         tenant.Issuer(),
		ClaimNamespace: devNamespace,
		APIAudience:    devAPIAudience,
		UserPassword:   randomSecret(),
	}
}

// writeDevState writes st to path with mode 0600, through a temporary file in the same directory
// renamed over path: a file already at path (of any mode) is replaced whole, never rewritten in
// place, and a reader never sees half a file.
func writeDevState(path string, st devState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".rulehook-dev-*.json") // created 0600
	if err != nil {
		return fmt.Errorf("write dev state: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Chmod(0o600), f.Close()); err != nil {
		return fmt.Errorf("write dev state: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write dev state: %w", err)
	}
	return nil
}

// readDevState reads a state file; the error wraps errNoDev when there is none.
func readDevState(path string) (devState, error) {
	var st devState
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("%w: %s does not exist; start `rulehook dev`, or pass --state with the file it wrote", errNoDev, path)
	}
	if err != nil {
		return st, fmt.Errorf("read the dev state file: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read the dev state file %s: %w", path, err)
	}
	return st, nil
}

// findDev returns the state of the running dev that wrote path. A file left by a dev that was
// killed (its rulehook no longer answers) is an error that says so.
func findDev(path string) (devState, error) {
	st, err := readDevState(path)
	if err != nil {
		return st, err
	}
	if !devAnswers(st) {
		return st, fmt.Errorf("%s is stale: the rulehook dev that wrote it (%s) no longer answers; start `rulehook dev` again", path, st.RulehookURL)
	}
	return st, nil
}

// devAnswers reports whether the rulehook of a state file answers /healthz.
func devAnswers(st devState) bool {
	if st.RulehookURL == "" {
		return false
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(st.RulehookURL + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// env is the environment of serve that points at this dev (Redis, tenant, rules), over getenv.
func (st devState) env(getenv func(string) string) func(string) string {
	m := map[string]string{
		"REDIS_URL":            st.RedisURL,
		"AUTH0_DOMAIN":         st.Domain,
		"AUTH0_MANAGEMENT_URL": st.TenantURL,
		"AUTH0_CLIENT_ID":      st.ClientID,
		"AUTH0_CLIENT_SECRET":  st.ClientSecret,
		"DEFAULT_DISPLAY_NAME": st.DefaultDisplayName,
	}
	if st.Threshold > 0 {
		m["PLAYLIST_EDITOR_THRESHOLD"] = strconv.FormatInt(st.Threshold, 10)
	}
	return func(k string) string {
		if v := m[k]; v != "" {
			return v
		}
		return getenv(k)
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
