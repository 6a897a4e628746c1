package deployaction

import (
	"context"
	"slices"
)

// State is what Inspect found of the Action in the tenant.
type State struct {
	Found bool // an Action named Options.Name exists and supports post-login
	// Version is the number of the deployed version; 0 when none is.
	Version int
	// Deployed: that version has finished deploying (deployed_version.deployed).
	Deployed bool
	// Current: the draft holds no change since that deploy (all_changes_deployed).
	Current bool
	// Bound: the Action is bound to the post-login trigger.
	Bound bool
	// Fingerprinted: the code carries the secrets fingerprint deploy-action records;
	// SecretsMatch: it equals the fingerprint of Options.Secrets, so the Action holds exactly
	// those secret values (the same CALLOUT_SECRET among them).
	Fingerprinted, SecretsMatch bool
}

// Inspect reads (and never changes) the Action o describes: whether it exists, is deployed and
// current, is bound to post-login, and holds o.Secrets, by the fingerprint Deploy records in its
// code. It needs read:actions. Errors are Deploy's: ErrInvalidOptions, ErrNameTaken, an
// *APIError, or ctx's error.
func Inspect(ctx context.Context, o Options) (State, error) {
	o.DryRun = true
	_, _, p, err := start(ctx, o)
	if err != nil || p.current == nil {
		return State{}, err
	}
	cur := p.current
	_, fp := splitCode(cur.Code)
	return State{
		Found:         true,
		Version:       cur.DeployedVersion,
		Deployed:      cur.DeployedVersion > 0 && cur.DeployedLive,
		Current:       cur.AllChangesDeployed,
		Bound:         slices.ContainsFunc(p.BindingsBefore, func(b Binding) bool { return b.ActionID == cur.ID }),
		Fingerprinted: fp != "",
		SecretsMatch:  fp != "" && fp == p.want.fingerprint,
	}, nil
}
