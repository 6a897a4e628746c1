package deployaction

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/rulehook/rulehook/metadata"
)

// Change is what Deploy does (or, in a dry run, would do) to the Action itself.
type Change string

// The changes to the Action.
const (
	ChangeCreate Change = "create"
	ChangeUpdate Change = "update"
	ChangeNone   Change = "unchanged"
)

// Result is what Deploy did, or in a dry run what it would do.
type Result struct {
	DryRun bool
	// ActionID is the Action's id; "" in a dry run that would create it.
	ActionID string
	Change   Change
	// Reasons say why an update: "code", "secret values", "secrets added: X", "runtime node18 →
	// node22", ... Never a secret value.
	Reasons []string
	// Deployed: a new version was deployed (would be, in a dry run).
	Deployed bool
	// Version is the number of the Action's deployed version after the run; 0 in a dry run that
	// deploys and when none is deployed.
	Version int
	// BindingsBefore and BindingsAfter are the post-login bindings in execution order.
	BindingsBefore, BindingsAfter []Binding
	// BindingsChanged: the bindings were (would be) replaced with BindingsAfter.
	BindingsChanged bool
}

// plan is what a run has to do, computed from reads only.
type plan struct {
	want    desired
	current *action // nil when the Action does not exist
	Result
}

// Deploy converges the tenant on the Action described by o (see the package documentation) and
// reports what it did, printing the plan and each step to o.Progress. With o.DryRun it only reads.
//
// Errors: ErrInvalidOptions (nothing sent), ErrNameTaken, ErrBuildFailed, ErrBuildTimeout (all
// wrapped), an *APIError for a refused or failed call (the token request included), or ctx's
// error. Whatever failed, running Deploy again is safe and continues from the tenant's state.
func Deploy(ctx context.Context, o Options) (Result, error) {
	c, t, p, err := start(ctx, o)
	if err != nil {
		return Result{}, err
	}
	printPlan(c, p)
	if c.DryRun {
		return p.Result, nil
	}
	res, err := apply(ctx, t, c, p)
	if err == nil {
		fmt.Fprintln(c.Progress, "done")
	}
	return res, err
}

// start checks o, connects to the tenant and reads what there is to do: the steps Deploy and
// Inspect begin with.
func start(ctx context.Context, o Options) (config, *tenant, plan, error) {
	c, err := o.withDefaults()
	if err != nil {
		return c, nil, plan{}, err
	}
	t, err := connect(ctx, c)
	if err != nil {
		return c, nil, plan{}, err
	}
	p, err := makePlan(ctx, t, c)
	return c, t, p, err
}

func makePlan(ctx context.Context, t *tenant, c config) (plan, error) {
	p := plan{want: c.desired(), Result: Result{DryRun: c.DryRun}}
	cur, err := t.findAction(ctx, c.Name)
	if err != nil {
		return p, err
	}
	if cur != nil && !supportsPostLogin(*cur) {
		return p, fmt.Errorf("%w: %q supports %s", ErrNameTaken, c.Name, triggerList(*cur))
	}
	p.current = cur
	p.Change, p.Reasons = diff(cur, p.want, c.Force)
	p.Deployed = true
	if cur != nil {
		p.ActionID = cur.ID
		// An unchanged draft still needs a deploy when it never was, or not since its last edit.
		if p.Change == ChangeNone && cur.DeployedVersion > 0 && cur.AllChangesDeployed {
			p.Deployed, p.Version = false, cur.DeployedVersion
		}
	}
	if p.BindingsBefore, err = t.bindings(ctx); err != nil {
		return p, err
	}
	p.BindingsAfter, p.BindingsChanged = planBindings(p.BindingsBefore, p.ActionID, c.Name)
	return p, nil
}

func supportsPostLogin(a action) bool {
	return slices.ContainsFunc(a.Triggers, func(t *management.ActionTrigger) bool { return string(t.ID) == TriggerID })
}

// triggersMatch: the Action supports exactly post-login v3.
func triggersMatch(a action) bool {
	return len(a.Triggers) == 1 && string(a.Triggers[0].ID) == TriggerID && a.Triggers[0].GetVersion() == TriggerVersion
}

// diff tells whether the Action must be created or updated, and why.
func diff(cur *action, want desired, force bool) (Change, []string) {
	if cur == nil {
		return ChangeCreate, nil
	}
	var why []string
	source, fp := splitCode(cur.Code)
	if source != withNewline(want.source) {
		why = append(why, "code")
	}
	if cur.Runtime != want.runtime {
		why = append(why, fmt.Sprintf("runtime %s → %s", orNone(cur.Runtime), want.runtime))
	}
	if !triggersMatch(*cur) {
		why = append(why, fmt.Sprintf("triggers %s → %s %s", triggerList(*cur), TriggerID, TriggerVersion))
	}
	if cur.Dependencies > 0 {
		why = append(why, "npm dependencies removed")
	}
	added, removed := nameDiff(cur.SecretNames, want.secrets)
	if len(added) > 0 {
		why = append(why, "secrets added: "+joinNames(added))
	}
	if len(removed) > 0 {
		why = append(why, "secrets removed: "+joinNames(removed))
	}
	switch {
	case len(added) > 0 || len(removed) > 0:
	case fp == "":
		why = append(why, "secret values (no fingerprint in the deployed code)")
	case fp != want.fingerprint:
		why = append(why, "secret values")
	}
	if cur.Status == "failed" {
		why = append(why, "its last build failed")
	}
	if force && len(why) == 0 {
		why = append(why, "forced")
	}
	if len(why) == 0 {
		return ChangeNone, nil
	}
	return ChangeUpdate, why
}

// planBindings is before with the Action bound exactly once: at its first position when it is
// bound already (later duplicates dropped), else appended. Every other binding keeps its order.
func planBindings(before []Binding, actionID, name string) (after []Binding, changed bool) {
	bound := false
	for _, b := range before {
		if actionID != "" && b.ActionID == actionID {
			if bound {
				changed = true
				continue
			}
			bound = true
		}
		after = append(after, b)
	}
	if !bound {
		after = append(after, Binding{ActionID: actionID, ActionName: name, DisplayName: name})
		changed = true
	}
	return after, changed
}

// apply carries out p. Between steps it re-reads what someone else may have changed meanwhile.
func apply(ctx context.Context, t *tenant, c config, p plan) (Result, error) {
	res := p.Result
	var cur action
	var err error
	switch p.Change {
	case ChangeCreate:
		cur, err = t.createAction(ctx, p.want)
		if err == nil {
			fmt.Fprintf(c.Progress, "created action %s\n", cur.ID)
		}
	case ChangeUpdate:
		cur, err = t.updateAction(ctx, *p.current, p.want)
		if err == nil {
			fmt.Fprintf(c.Progress, "updated action %s\n", cur.ID)
		}
	default:
		cur = *p.current
	}
	if err != nil {
		return res, err
	}
	res.ActionID = cur.ID

	deadline := time.Now().Add(c.BuildTimeout)
	if res.Deployed {
		v, err := deployBuilt(ctx, t, c, cur, deadline)
		if err != nil {
			return res, err
		}
		res.Version = v.Number
	} else if !cur.DeployedLive {
		// An earlier run deployed and stopped before the deploy finished.
		fmt.Fprintf(c.Progress, "version %d is still deploying; waiting until Auth0 reports it deployed\n", cur.DeployedVersion)
		if err := waitDeployed(ctx, t, c, cur.ID, cur.DeployedID, deadline); err != nil {
			return res, err
		}
	}

	// The build may have taken minutes: bind against the bindings as they are now.
	before, err := t.bindings(ctx)
	if err != nil {
		return res, err
	}
	res.BindingsAfter, res.BindingsChanged = planBindings(before, cur.ID, c.Name)
	if !res.BindingsChanged {
		if p.BindingsChanged {
			fmt.Fprintf(c.Progress, "%s bindings: already as planned, not updated\n", TriggerID)
		}
		return res, nil
	}
	if err := t.setBindings(ctx, res.BindingsAfter, deadline); err != nil {
		return res, err
	}
	fmt.Fprintf(c.Progress, "%s bindings updated: %s\n", TriggerID, bindingList(res.BindingsAfter))
	return res, nil
}

// deployBuilt waits for the draft to be built, deploys it, and waits for the new version to be
// built and deployed too: Auth0 answers the deploy with a version that is "built" but
// deployed: false, and refuses to bind it until it is deployed.
func deployBuilt(ctx context.Context, t *tenant, c config, cur action, deadline time.Time) (version, error) {
	start := time.Now()
	if cur.Status != "built" {
		fmt.Fprintf(c.Progress, "waiting for the build (up to %s)\n", c.BuildTimeout)
	}
	err := waitStatus(ctx, deadline, "action "+quote(c.Name), cur.Status, "built", func() (string, error) {
		a, err := t.getAction(ctx, cur.ID)
		return a.Status, err
	})
	if err != nil {
		return version{}, err
	}
	if cur.Status != "built" {
		fmt.Fprintf(c.Progress, "built in %s\n", time.Since(start).Round(100*time.Millisecond))
	}
	v, err := t.deployAction(ctx, cur.ID)
	if err != nil {
		return v, err
	}
	err = waitStatus(ctx, deadline, fmt.Sprintf("version %d of action %s", v.Number, quote(c.Name)), v.Status, "built", func() (string, error) {
		got, err := t.getVersion(ctx, cur.ID, v.ID)
		return got.Status, err
	})
	if err != nil {
		return v, err
	}
	fmt.Fprintf(c.Progress, "version %d built; waiting until Auth0 reports it deployed\n", v.Number)
	if err := waitDeployed(ctx, t, c, cur.ID, v.ID, deadline); err != nil {
		return v, err
	}
	fmt.Fprintf(c.Progress, "deployed version %d\n", v.Number)
	return v, nil
}

// waitDeployed polls the Action until versionID is its deployed version and reads deployed: true
// (as Terraform's auth0_action does before anything binds it).
func waitDeployed(ctx context.Context, t *tenant, c config, actionID, versionID string, deadline time.Time) error {
	what := "the deployed version of action " + quote(c.Name)
	return waitStatus(ctx, deadline, what, "deploying", "deployed", func() (string, error) {
		a, err := t.getAction(ctx, actionID)
		if err != nil || a.DeployedID != versionID || !a.DeployedLive {
			return "deploying", err
		}
		return "deployed", nil
	})
}

// Build polling: the first read after firstPoll, then backing off to maxPoll.
var (
	firstPoll = 100 * time.Millisecond
	maxPoll   = 2 * time.Second
)

// waitStatus polls status until it says want, "failed" (ErrBuildFailed) or the deadline passes
// (ErrBuildTimeout), backing off from firstPoll to maxPoll. status is the state already known.
func waitStatus(ctx context.Context, deadline time.Time, what, status, want string, poll func() (string, error)) error {
	interval := firstPoll
	for {
		switch status {
		case want:
			return nil
		case "failed":
			return fmt.Errorf("%w: %s: status failed (see the Action's errors in the Auth0 dashboard)", ErrBuildFailed, what)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %s is still %s", ErrBuildTimeout, what, orNone(status))
		}
		if err := metadata.Sleep(ctx, min(interval, left)); err != nil {
			return err
		}
		interval = min(interval*2, maxPoll)
		var err error
		if status, err = poll(); err != nil {
			return err
		}
	}
}
