package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is stamped by the image build: go build -ldflags="-X main.version=0.1.0".
var version string

// buildVersion is what `rulehook version` and rulehook_build_info report: the stamped version,
// else the module version (go install ...@v0.1.0), else the VCS revision the binary was built
// from (with "-dirty" for uncommitted changes), else "(devel)".
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev != "" {
		return rev + dirty
	}
	return "(devel)"
}

func runVersion(_ context.Context, args []string, env *environment) error {
	if err := parseFlags(newFlagSet(env, "version"), args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "rulehook %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
