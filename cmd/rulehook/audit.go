package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

func runAudit(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "audit", envTable("environment (else a running `rulehook dev`)", redisEnv()))
	user := fs.String("user", "", "the user_id whose history to print (empty: every user's recent changes)")
	n := fs.Int("n", 50, "how many entries, newest first")
	asJSON := fs.Bool("json", false, "print JSON lines")
	shadow := fs.Bool("shadow", false, "summarise WRITE_MODE=shadow: logins seen, agreement rate, disagreements by kind")
	since := fs.String("since", "", "with --shadow: from this RFC 3339 time or this long ago (24h); default all that is kept")
	statePath := stateFlag(fs.FlagSet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > redisstore.MaxAuditRead {
		return usageErrorf("audit: --n must be between 1 and %d", redisstore.MaxAuditRead)
	}
	cfg, err := configOrDev(env, fs.FlagSet, *statePath, loadRedisConfig)
	if err != nil {
		return err
	}
	rdb, err := cfg.openRedis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	if *shadow {
		from, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		rep, err := shadowSummary(ctx, redisstore.New(rdb), from, time.Now())
		if err != nil {
			return err
		}
		return rep.print(env.stdout, *asJSON)
	}
	entries, err := redisstore.New(rdb).Audit(ctx, *user, *n)
	if err != nil {
		return fmt.Errorf("read the audit trail: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	printAudit(env.stdout, *user, entries)
	return nil
}

func printAudit(w io.Writer, user string, entries []metadata.AuditEntry) {
	if len(entries) == 0 {
		fmt.Fprintf(w, "no metadata changes recorded%s\n", map[bool]string{true: " for " + user, false: ""}[user != ""])
		return
	}
	for _, e := range entries {
		fmt.Fprintf(w, "%s  %-20s  %-9s  request %s\n", e.Time.UTC().Format(time.RFC3339), e.UserID, e.Reason, orDash(e.RequestID))
		for _, c := range e.Changes {
			fmt.Fprintf(w, "    %s.%s: %s -> %s\n", c.Object, c.Key, compactJSON(c.Before), compactJSON(c.After))
		}
	}
}

func compactJSON(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
