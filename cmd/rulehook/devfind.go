package main

import (
	"errors"
	"flag"
	"fmt"
)

// stateFlag adds --state to a command that can find a running dev (audit, reconcile).
func stateFlag(fs *flag.FlagSet) *string {
	return fs.String("state", defaultDevStatePath(),
		"the state file of a running `rulehook dev`, used when the environment names no Redis")
}

// configOrDev reads a command's config with load from its environment: env's own when it names a
// Redis (REDIS_URL, a Cluster or Sentinels), else that of the running dev whose state file is at
// statePath, if any. A --state given on the command line must lead to a running dev. Choosing dev
// is said on stderr.
func configOrDev(env *environment, fs *flag.FlagSet, statePath string, load func(getenv func(string) string) (config, error)) (config, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "state" })
	for _, k := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
		if env.getenv(k) != "" && !explicit {
			return load(env.getenv)
		}
	}
	st, err := findDev(statePath)
	if errors.Is(err, errNoDev) && !explicit {
		return load(env.getenv) // the configuration's own error names what is missing
	}
	if err != nil {
		return config{}, err
	}
	fmt.Fprintf(env.stderr, "using the running rulehook dev at %s (state file %s)\n", st.RulehookURL, statePath)
	return load(st.env(env.getenv))
}
