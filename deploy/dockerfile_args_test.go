package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// testVersion is the VERSION the tests build with, as `docker build --build-arg VERSION=...`
// would pass it; TestDockerfileStampsVersion finds it in the binary.
const testVersion = "v0.0.0-deploy-test"

// buildArgs are the values `docker build` gives the build stage's ARGs here: the version, and the
// platform ARGs BuildKit sets, for the platform the tests run on.
func buildArgs() map[string]string {
	return map[string]string{
		"VERSION":    testVersion,
		"TARGETOS":   runtime.GOOS,
		"TARGETARCH": runtime.GOARCH,
	}
}

var (
	digestPinned = regexp.MustCompile(`^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$`)
	argName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// imageName is an image reference without its digest.
func imageName(image string) string {
	name, _, _ := strings.Cut(image, "@")
	return name
}

// argValues returns the stage's ARGs (each `ARG NAME[=default]` word) with their defaults,
// overridden by given, as BuildKit resolves them. An ARG neither given nor defaulted is absent,
// so expanding it is an error rather than an empty string.
func (s stage) argValues(given map[string]string) map[string]string {
	vars := map[string]string{}
	for _, in := range s.all("ARG") {
		for _, w := range strings.Fields(in.args) {
			name, def, hasDef := strings.Cut(w, "=")
			if v, ok := given[name]; ok {
				vars[name] = v
			} else if hasDef {
				vars[name] = strings.Trim(def, `"`)
			}
		}
	}
	return vars
}

// expandVar reads the $NAME or ${NAME} at s[i] and returns its value from vars and the index just
// past it.
func expandVar(s string, i int, vars map[string]string) (string, int, error) {
	j := i + 1
	var name string
	if strings.HasPrefix(s[j:], "{") {
		end := strings.IndexByte(s[j:], '}')
		if end < 0 {
			return "", 0, errors.New("unterminated ${")
		}
		name, j = s[j+1:j+end], j+end+1
	} else {
		k := j
		for k < len(s) && (s[k] == '_' || 'A' <= s[k] && s[k] <= 'Z' || 'a' <= s[k] && s[k] <= 'z' || k > j && '0' <= s[k] && s[k] <= '9') {
			k++
		}
		name, j = s[j:k], k
	}
	if !argName.MatchString(name) {
		return "", 0, fmt.Errorf("unsupported expansion at %q", s[i:])
	}
	v, ok := vars[name]
	if !ok {
		return "", 0, fmt.Errorf("$%s is not an ARG of the stage with a value", name)
	}
	return v, j, nil
}

// TestDockerfileReproducible checks what makes the image rebuildable and multi-arch: the module
// download is a layer of its own before the source, the build stage runs on the builder's
// platform and cross-compiles for TARGETOS/TARGETARCH, VERSION is stamped into main.version, and
// the image carries the OCI labels.
func TestDockerfileReproducible(t *testing.T) {
	df, err := readDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	build, final := df.stages[0], df.final()
	var order []string
	for _, in := range build.body {
		switch {
		case in.cmd == "COPY" && in.args == "go.mod go.sum ./":
			order = append(order, "copy go.mod")
		case in.cmd == "RUN" && strings.HasSuffix(in.args, "go mod download"):
			order = append(order, "go mod download")
		case in.cmd == "COPY" && in.args == ". .":
			order = append(order, "copy source")
		}
	}
	if want := []string{"copy go.mod", "go mod download", "copy source"}; !slices.Equal(order, want) {
		t.Errorf("build stage layers = %q; want %q", order, want)
	}
	raw := rawBuildLine(t, build)
	for _, want := range []string{"GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "-X main.version=${VERSION}"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the go build line lacks %s", want)
		}
	}
	if !strings.Contains(build.from, "--platform=$BUILDPLATFORM") {
		t.Errorf("build stage FROM %q: want --platform=$BUILDPLATFORM, to cross-compile natively", build.from)
	}
	labels := ociLabels(t, final)
	for _, k := range []string{"title", "description", "source", "version"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("final stage has no LABEL org.opencontainers.image.%s", k)
		}
	}
	if got := labels["org.opencontainers.image.version"]; got != testVersion {
		t.Errorf("LABEL org.opencontainers.image.version = %q with VERSION=%s; want the VERSION", got, testVersion)
	}
}

func rawBuildLine(t *testing.T, s stage) string {
	t.Helper()
	for _, in := range s.all("RUN") {
		if strings.Contains(in.args, "go build") {
			return in.args
		}
	}
	t.Fatal("the build stage has no go build")
	return ""
}

// ociLabels returns the final stage's LABELs, with its ARGs expanded.
func ociLabels(t *testing.T, s stage) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, in := range s.all("LABEL") {
		words, err := shellWords(in.args, s.argValues(buildArgs()))
		if err != nil {
			t.Fatalf("LABEL %s: %v", in.args, err)
		}
		for _, w := range words {
			k, v, _ := strings.Cut(w, "=")
			out[k] = v
		}
	}
	return out
}

// TestDockerfileStampsVersion: the binary the Dockerfile's command builds carries the VERSION it
// was given (-X main.version), which rulehook_build_info and `rulehook version` report.
func TestDockerfileStampsVersion(t *testing.T) {
	b, err := os.ReadFile(rulehookBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(testVersion)) {
		t.Errorf("the binary built with VERSION=%s does not hold that string; -X main.version did not stamp it", testVersion)
	}
}
