// Command rulehook replaces the Auth0 Rules of the music-app sample: an Auth0 post-login Action
// calls it on every login, it decides the user's roles and default display name from the play
// counts in Redis, and writes only what changed through the Management API. It also serves the
// sample's app API.
//
// `rulehook serve` runs in production; `rulehook dev` runs with embedded Redis and an emulated
// tenant. `rulehook help` lists every command. This package wires the others together by hand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries a process exit code other than 1 for an error; exitCode prints its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// exitCode prints err (if any) and returns the process exit code: 0, 2 for usage and
// configuration errors, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelpShown) {
		return 0
	}
	fmt.Fprintln(stderr, "rulehook:", err)
	var ce *configError
	var ee *exitError
	switch {
	case errors.As(err, &ce):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env *environment) error
}

// environment is what every command gets from the process.
type environment struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run in production, configured by the environment (see README)", runServe},
		{"dev", "run with embedded Redis and an emulated Auth0 tenant; not for production", runDev},
		{"check-config", "validate the environment of serve and exit (0 valid, 2 invalid)", runCheckConfig},
		{"reconcile", "bring every user of the tenant in line with the rules, writing only who differs", runReconcile},
		{"import", "load play counts, genres and songs from the old app (PostgreSQL or CSV) into Redis", runImport},
		{"audit", "print the metadata changes rulehook made (a user's history with --user)", runAudit},
		{"bench", "load-test the callout (self-started stack, or --url) and print throughput and latency", runBench},
		{"bench-budget", "measure logins and a reconcile sharing the emulated free tier's rate limit: 429s, changes landed", runBenchBudget},
		{"deploy-action", "install the post-login Action into the tenant and bind it (idempotent; --dry-run)", runDeployAction},
		{"login", "perform one login through the real Action (node) against `rulehook dev`", runLogin},
		{"doctor", "check Redis, the Management API token and scopes, and the Action, with serve's environment", runDoctor},
		{"token", "print an app API access token for a user of `rulehook dev`'s emulated tenant", runToken},
		{"version", "print the version of rulehook and of Go it was built with", runVersion},
	}
}

// run is main without the process: it parses args and runs one command until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := &environment{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		return runVersion(ctx, args[1:], env)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return usageErrorf("no command given")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if err := c.run(ctx, args[1:], env); !errors.Is(err, errHelpShown) {
				return err
			}
			return nil
		}
	}
	printUsage(stderr)
	return usageErrorf("unknown command %q", args[0])
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: rulehook <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-14s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun `rulehook <command> -h` for a command's flags.\n")
	io.WriteString(w, b.String())
}

func runCheckConfig(_ context.Context, args []string, env *environment) error {
	if err := parseFlags(newFlagSet(env, "check-config", serveEnvTable()), args); err != nil {
		return err
	}
	if _, err := loadConfig(env.getenv); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "configuration is valid")
	return nil
}
