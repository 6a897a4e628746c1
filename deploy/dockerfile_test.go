package deploy

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	image, name string
	from        string // the FROM instruction's arguments, flags included
	body        []instruction
}

type dockerfile struct{ stages []stage }

func readDockerfile() (*dockerfile, error) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		return nil, err
	}
	return parseDockerfile(string(b))
}

// parseDockerfile reads the subset of Dockerfile syntax this repository uses: comments, `\`
// continuations (comment lines inside them are dropped, as Docker does) and one instruction per
// logical line.
func parseDockerfile(text string) (*dockerfile, error) {
	var ins []instruction
	var cur *instruction
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur == nil) {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSuffix(line, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + strings.TrimSpace(line)
		}
		if !cont {
			ins = append(ins, *cur)
			cur = nil
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("Dockerfile ends inside a continued line (line %d)", cur.line)
	}
	df := &dockerfile{}
	for _, in := range ins {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			st := stage{image: f[0], from: in.args}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			return nil, fmt.Errorf("line %d: %s before FROM", in.line, in.cmd)
		}
		last := &df.stages[len(df.stages)-1]
		last.body = append(last.body, in)
	}
	return df, nil
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// one returns the only instruction cmd of the stage.
func (s stage) one(cmd string) (instruction, error) {
	all := s.all(cmd)
	if len(all) != 1 {
		return instruction{}, fmt.Errorf("stage %s has %d %s instructions; want 1", s.image, len(all), cmd)
	}
	return all[0], nil
}

func (df *dockerfile) final() stage { return df.stages[len(df.stages)-1] }

// buildCmd is the Dockerfile's `go build`: its environment assignments and its argv.
type buildCmd struct {
	env  []string
	args []string
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// buildCommand finds the one RUN of the first stage that runs `go build` and splits it the way
// a POSIX shell would (quotes, backslashes), dropping RUN's own flags (--mount, ...).
func (df *dockerfile) buildCommand() (buildCmd, error) {
	var found []instruction
	for _, in := range df.stages[0].all("RUN") {
		if strings.Contains(in.args, "go build") {
			found = append(found, in)
		}
	}
	if len(found) != 1 {
		return buildCmd{}, fmt.Errorf("the build stage has %d RUN instructions with `go build`; want 1", len(found))
	}
	words, err := shellWords(found[0].args, df.stages[0].argValues(buildArgs()))
	if err != nil {
		return buildCmd{}, fmt.Errorf("line %d: %w", found[0].line, err)
	}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		words = words[1:]
	}
	var bc buildCmd
	for len(words) > 0 && assignment.MatchString(words[0]) {
		bc.env = append(bc.env, words[0])
		words = words[1:]
	}
	if len(words) < 3 || words[0] != "go" || words[1] != "build" {
		return buildCmd{}, fmt.Errorf("line %d: want `[VAR=value...] go build ... PACKAGE`, got %q", found[0].line, words)
	}
	bc.args = words
	return bc, nil
}

// ldflags is the value of the command's -ldflags ("" without one).
func (bc buildCmd) ldflags() string {
	for _, a := range bc.args {
		if v, ok := strings.CutPrefix(a, "-ldflags="); ok {
			return v
		}
	}
	return ""
}

// flags are the command's build flags: its arguments between `go build` and the package, less -o.
func (bc buildCmd) flags() []string {
	var out []string
	for i := 2; i < len(bc.args)-1; i++ {
		if bc.args[i] == "-o" {
			i++
			continue
		}
		out = append(out, bc.args[i])
	}
	return out
}

// output is the path the command writes the binary to (its -o).
func (bc buildCmd) output() (string, error) {
	i := slices.Index(bc.args, "-o")
	if i < 0 || i+1 >= len(bc.args) {
		return "", errors.New("the go build command has no `-o PATH`")
	}
	return bc.args[i+1], nil
}

// withOutput is the command with its -o replaced by path.
func (bc buildCmd) withOutput(path string) ([]string, error) {
	i := slices.Index(bc.args, "-o")
	if i < 0 || i+1 >= len(bc.args) {
		return nil, errors.New("the go build command has no `-o PATH`")
	}
	args := slices.Clone(bc.args)
	args[i+1] = path
	return args, nil
}

// shellWords splits a command line as sh would, for a line without operators (an error: the
// tests could not run the line as the image build does). $NAME and ${NAME} expand from vars, as
// the Dockerfile's ARGs do; a name without a value is an error.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
					i++
				case s[i] == '$':
					v, end, err := expandVar(s, i, vars)
					if err != nil {
						return nil, err
					}
					w.WriteString(v)
					i = end - 1 // the loop's i++ moves past the expansion
					continue
				case s[i] == '`':
					return nil, errors.New("command substitution is not supported")
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 < len(s) {
				i++
				w.WriteByte(s[i])
				inWord = true
			}
		case c == '$':
			v, end, err := expandVar(s, i, vars)
			if err != nil {
				return nil, err
			}
			w.WriteString(v)
			i, inWord = end-1, true
		case strings.IndexByte("&|;<>()`*?[~#", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q: keep the build a single plain command", c)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`CGO_ENABLED=0 go build -ldflags="-s -w" -o /out/x ./cmd/x`, []string{"CGO_ENABLED=0", "go", "build", "-ldflags=-s -w", "-o", "/out/x", "./cmd/x"}},
		{`a 'b c' "d\"e" f\ g`, []string{"a", "b c", `d"e`, "f g"}},
		{`GOOS=${OS} go build -ldflags="-X main.version=${V}" $V '$V'`, []string{"GOOS=linux", "go", "build", "-ldflags=-X main.version=1.2", "1.2", "$V"}},
	}
	vars := map[string]string{"OS": "linux", "V": "1.2"}
	for _, tt := range tests {
		got, err := shellWords(tt.in, vars)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"go build && echo", "go build $X", `go build "${X}"`, "go build ${V", "echo `id`", "a 'b", `a "b`} {
		if got, err := shellWords(bad, vars); err == nil {
			t.Errorf("shellWords(%q) = %q, nil; want an error", bad, got)
		}
	}
}

// TestDockerfile holds the Dockerfile to the manifests and the contract, without a Docker engine.
func TestDockerfile(t *testing.T) {
	df, err := readDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(df.stages); got != 2 {
		t.Fatalf("Dockerfile has %d stages; want 2 (build, final)", got)
	}
	build, final := df.stages[0], df.final()
	if got, want := imageName(build.image), "golang:1.26"; got != want {
		t.Errorf("build stage image = %q; want %q", got, want)
	}
	if got, want := imageName(final.image), "gcr.io/distroless/static-debian12:nonroot"; got != want {
		t.Errorf("final image = %q; want %q", got, want)
	}
	for _, st := range df.stages {
		if !digestPinned.MatchString(st.image) {
			t.Errorf("stage image %q is not pinned by digest (name:tag@sha256:<64 hex>)", st.image)
		}
	}

	bc, err := df.buildCommand()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bc.env, "CGO_ENABLED=0") {
		t.Errorf("build command environment = %q; want CGO_ENABLED=0", bc.env)
	}
	if !slices.Contains(bc.args, "-trimpath") {
		t.Errorf("build command %q lacks -trimpath", bc.args)
	}
	ld := " " + bc.ldflags() + " "
	for _, flag := range []string{" -s ", " -w ", " -X main.version="} {
		if !strings.Contains(ld, flag) {
			t.Errorf("build command -ldflags %q lack %q (strip, and stamp the version)", bc.ldflags(), strings.TrimSpace(flag))
		}
	}
	out, err := bc.output()
	if err != nil {
		t.Fatal(err)
	}

	// The final stage copies the build's output to the entrypoint and runs `serve` as nonroot.
	copyIn, err := final.one("COPY")
	if err != nil {
		t.Fatal(err)
	}
	entry := execForm(t, final, "ENTRYPOINT")
	cmd := execForm(t, final, "CMD")
	if got, want := copyIn.args, fmt.Sprintf("--from=%s %s %s", build.name, out, firstOr(entry, "")); got != want {
		t.Errorf("final COPY = %q; want %q", got, want)
	}
	if want := []string{"/rulehook"}; !slices.Equal(entry, want) {
		t.Errorf("ENTRYPOINT = %q; want %q", entry, want)
	}
	if want := []string{"serve"}; !slices.Equal(cmd, want) {
		t.Errorf("CMD = %q; want %q", cmd, want)
	}
	user, err := final.one("USER")
	if err != nil {
		t.Fatal(err)
	}
	expose, err := final.one("EXPOSE")
	if err != nil {
		t.Fatal(err)
	}

	// The image and the Deployment agree: same user, same port, same command.
	for _, spec := range overlays {
		r := renderCached(t, overlayDir(spec.name))
		a, problems := findApp(r)
		if a.d == nil {
			t.Fatalf("%s: %v", spec.name, problems)
		}
		ps, sc := a.d.Spec.Template.Spec.SecurityContext, a.c.SecurityContext
		uid, gid := firstSet(sc.RunAsUser, ps.RunAsUser), firstSet(sc.RunAsGroup, ps.RunAsGroup)
		if uid == nil || gid == nil || user.args != fmt.Sprintf("%d:%d", *uid, *gid) {
			t.Errorf("%s: Dockerfile USER %s; the pod runs as %v:%v", spec.name, user.args, deref(uid), deref(gid))
		}
		listen, err := a.listenPort()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(expose.args, "/tcp"); got != strconv.Itoa(int(listen)) {
			t.Errorf("%s: Dockerfile EXPOSE %s; LISTEN_ADDR listens on %d", spec.name, expose.args, listen)
		}
		if len(a.c.Command) > 0 && !slices.Equal(a.c.Command, entry) {
			t.Errorf("%s: container command %q overrides ENTRYPOINT %q", spec.name, a.c.Command, entry)
		}
		if args := a.c.Args; len(args) > 0 && !slices.Equal(args, cmd) {
			t.Errorf("%s: container args = %q; want %q (the image's CMD)", spec.name, args, cmd)
		}
	}
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}

// execForm returns the JSON (exec) form of the stage's only ENTRYPOINT or CMD: with no shell in
// the image, the shell form could not run.
func execForm(t *testing.T, s stage, cmd string) []string {
	t.Helper()
	in, err := s.one(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("%s %s is not the exec (JSON) form: %v", cmd, in.args, err)
	}
	return argv
}

// TestDockerfileBuildIsStatic checks that the Dockerfile's `go build` makes a binary that needs
// nothing from the distroless image (no dynamic loader, no shared libraries), without compiling
// it in the Dockerfile's configuration (see cacheKeyed): with CGO_ENABLED=0 the Go linker links
// internally and statically unless asked otherwise, so what matters is that every dependency
// builds without cgo under the Dockerfile's own environment and flags, and that -ldflags neither
// asks for the external linker nor keeps the symbol table. The built binary shows -s took effect.
func TestDockerfileBuildIsStatic(t *testing.T) {
	bc, err := dockerfileBuild()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bc.env, "CGO_ENABLED=0") {
		t.Fatalf("build command environment = %q; want CGO_ENABLED=0", bc.env)
	}
	ldflags := strings.Fields(bc.ldflags())
	if slices.ContainsFunc(ldflags, func(f string) bool { return strings.HasPrefix(f, "-linkmode") }) {
		t.Errorf("-ldflags %q choose a link mode; want the internal (static) linker", ldflags)
	}
	args := []string{"list", "-deps", "-e", "-f", "{{.ImportPath}}\t{{join .CgoFiles \",\"}}\t{{with .Error}}{{.}}{{end}}"}
	args = append(args, bc.flags()...)
	cmd := exec.Command("go", append(args, bc.args[len(bc.args)-1])...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), bc.env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	pkgs := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, line := range pkgs {
		path, rest, _ := strings.Cut(line, "\t")
		cgo, pkgErr, _ := strings.Cut(rest, "\t")
		if path == "runtime/cgo" || cgo != "" || pkgErr != "" {
			t.Errorf("with the Dockerfile's environment, %s needs cgo or does not build: %q %q", path, cgo, pkgErr)
		}
	}
	if len(pkgs) < 50 {
		t.Errorf("go list found %d packages; want the whole dependency tree of the binary", len(pkgs))
	}

	f, err := elf.Open(rulehookBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table; -ldflags=-s should strip it")
	}
}
