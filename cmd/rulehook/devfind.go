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

// envOrDev is the environment a command reads: env's own when it names a Redis (REDIS_URL, a
// Cluster or Sentinels), else that of the running dev whose state file is at statePath, if any.
// A --state given on the command line must lead to a running dev. Choosing dev is said on stderr.
func envOrDev(env *environment, fs *flag.FlagSet, statePath string) (func(string) string, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "state" })
	for _, k := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"} {
		if env.getenv(k) != "" && !explicit {
			return env.getenv, nil
		}
	}
	st, err := findDev(statePath)
	if errors.Is(err, errNoDev) && !explicit {
		return env.getenv, nil // the configuration's own error names what is missing
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.stderr, "using the running rulehook dev at %s (state file %s)\n", st.RulehookURL, statePath)
	return st.env(env.getenv), nil
}
