package deployaction

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/core"
	"github.com/auth0/go-auth0/v3/management/option"
	"github.com/rulehook/rulehook/metadata"
)

// action is what Deploy needs of an Action, whichever go-auth0 type it came in.
type action struct {
	ID, Name, Code, Runtime string
	Status                  string // build status of the draft: pending, building, built, failed, ...
	Triggers                []*management.ActionTrigger
	SecretNames             []string // sorted
	Dependencies            int
	DeployedVersion         int // number of the deployed version; 0 when none is
	DeployedID              string
	DeployedLive            bool // the deployed version has finished deploying (deployed: true)
	AllChangesDeployed      bool
}

// actionView is the getters every go-auth0 action answer type has.
type actionView interface {
	GetID() string
	GetName() string
	GetCode() string
	GetRuntime() string
	GetStatus() management.ActionBuildStatusEnum
	GetSupportedTriggers() []*management.ActionTrigger
	GetSecrets() []*management.ActionSecretResponse
	GetDependencies() []*management.ActionVersionDependency
	GetDeployedVersion() management.ActionDeployedVersion
	GetAllChangesDeployed() bool
}

func toAction(v actionView) action {
	a := action{
		ID: v.GetID(), Name: v.GetName(), Code: v.GetCode(), Runtime: v.GetRuntime(),
		Status: string(v.GetStatus()), Triggers: v.GetSupportedTriggers(),
		Dependencies: len(v.GetDependencies()), AllChangesDeployed: v.GetAllChangesDeployed(),
	}
	for _, s := range v.GetSecrets() {
		a.SecretNames = append(a.SecretNames, s.GetName())
	}
	slices.Sort(a.SecretNames)
	if dv := v.GetDeployedVersion(); dv.GetID() != "" {
		a.DeployedVersion = max(int(dv.GetNumber()), 1) // > 0 means deployed, even without a number
		a.DeployedID, a.DeployedLive = dv.GetID(), dv.GetDeployed()
	}
	return a
}

// desired is the Action Deploy converges on.
type desired struct {
	name, source, runtime, fingerprint, code string
	secrets                                  map[string]string
}

func (c config) desired() desired {
	fp := fingerprint(c.Secrets)
	return desired{
		name: c.Name, source: c.Source, runtime: c.Runtime, fingerprint: fp,
		code: deployedCode(c.Source, fp), secrets: c.Secrets,
	}
}

func (d desired) triggers() []*management.ActionTrigger {
	return []*management.ActionTrigger{{ID: management.ActionTriggerTypeEnumPostLogin, Version: management.String(TriggerVersion)}}
}

func (d desired) secretRequests() []*management.ActionSecretRequest {
	out := make([]*management.ActionSecretRequest, 0, len(d.secrets))
	for _, name := range slices.Sorted(maps.Keys(d.secrets)) {
		out = append(out, &management.ActionSecretRequest{Name: management.String(name), Value: management.String(d.secrets[name])})
	}
	return out
}

// findAction returns the Action named name, or nil when the tenant has none. The list is filtered
// by name only (not by trigger), so that a name taken by another trigger's Action is noticed.
func (t *tenant) findAction(ctx context.Context, name string) (*action, error) {
	var found []*management.Action
	err := t.do(ctx, "list actions", func(opts ...option.RequestOption) error {
		page, err := t.conn.API.Actions.List(ctx, &management.ListActionsRequestParameters{ActionName: &name}, opts...)
		if err == nil {
			found = page.Results
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var id string
	for _, a := range found {
		if a.GetName() != name {
			continue // the filter is exact on Auth0; keep it exact here whatever a tenant does
		}
		if id != "" {
			return nil, fmt.Errorf("deployaction: the tenant lists two actions named %q", name)
		}
		id = a.GetID()
	}
	if id == "" {
		return nil, nil
	}
	a, err := t.getAction(ctx, id) // the list may abbreviate; the action itself is complete
	return &a, err
}

// actionCall makes one Actions call through t.do and converts the Action it answers.
func actionCall[V actionView](ctx context.Context, t *tenant, op string, call func(...option.RequestOption) (V, error)) (action, error) {
	var out action
	err := t.do(ctx, op, func(opts ...option.RequestOption) error {
		a, err := call(opts...)
		if err == nil {
			out = toAction(a)
		}
		return err
	})
	return out, err
}

func (t *tenant) getAction(ctx context.Context, id string) (action, error) {
	return actionCall(ctx, t, "get action", func(opts ...option.RequestOption) (*management.GetActionResponseContent, error) {
		return t.conn.API.Actions.Get(ctx, id, opts...)
	})
}

func (t *tenant) createAction(ctx context.Context, d desired) (action, error) {
	req := &management.CreateActionRequestContent{
		Name: d.name, SupportedTriggers: d.triggers(), Code: &d.code, Runtime: &d.runtime,
		Secrets: d.secretRequests(),
	}
	return actionCall(ctx, t, "create action", func(opts ...option.RequestOption) (*management.CreateActionResponseContent, error) {
		return t.conn.API.Actions.Create(ctx, req, opts...)
	})
}

// updateAction sends the desired code, runtime and every secret with its value (Auth0 replaces the
// list; a name not sent is removed); the trigger and an empty dependency list only when cur's
// differ, so that a bound Action is not asked to change what it already has.
func (t *tenant) updateAction(ctx context.Context, cur action, d desired) (action, error) {
	id := cur.ID
	req := &management.UpdateActionRequestContent{Code: &d.code, Runtime: &d.runtime, Secrets: d.secretRequests()}
	if !triggersMatch(cur) {
		req.SupportedTriggers = d.triggers()
	}
	if cur.Dependencies > 0 {
		req.SetDependencies([]*management.ActionVersionDependency{})
	}
	return actionCall(ctx, t, "update action", func(opts ...option.RequestOption) (*management.UpdateActionResponseContent, error) {
		return t.conn.API.Actions.Update(ctx, id, req, opts...)
	})
}

// version is a deployed version of an Action.
type version struct {
	ID     string
	Number int
	Status string
}

func (t *tenant) deployAction(ctx context.Context, id string) (version, error) {
	var out version
	err := t.do(ctx, "deploy action", func(opts ...option.RequestOption) error {
		v, err := t.conn.API.Actions.Deploy(ctx, id, opts...)
		if err == nil {
			out = version{ID: v.GetID(), Number: int(v.GetNumber()), Status: string(v.GetStatus())}
		}
		return err
	})
	return out, err
}

func (t *tenant) getVersion(ctx context.Context, actionID, versionID string) (version, error) {
	var out version
	err := t.do(ctx, "get action version", func(opts ...option.RequestOption) error {
		v, err := t.conn.API.Actions.Versions.Get(ctx, actionID, versionID, opts...)
		if err == nil {
			out = version{ID: v.GetID(), Number: int(v.GetNumber()), Status: string(v.GetStatus())}
		}
		return err
	})
	return out, err
}

// Binding is one Action bound to the post-login trigger.
type Binding struct {
	ActionID    string // "" for the Action a dry run would create
	ActionName  string
	DisplayName string
}

// maxBindingPages bounds the paging through a trigger's bindings.
const maxBindingPages = 100

// bindings returns the post-login bindings in execution order, every page of them. A binding
// without its action is an error: it could not be sent back, and dropping it is not Deploy's call.
func (t *tenant) bindings(ctx context.Context) ([]Binding, error) {
	trigger := management.ActionTriggerTypeEnumPostLogin
	var page *core.Page[*int, *management.ActionBinding, *management.ListActionBindingsPaginatedResponseContent]
	err := t.do(ctx, "list post-login bindings", func(opts ...option.RequestOption) error {
		var err error
		page, err = t.conn.API.Actions.Triggers.Bindings.List(ctx, &trigger, &management.ListActionTriggerBindingsRequestParameters{}, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Binding
	for n := 1; ; n++ {
		for _, b := range page.Results {
			a := b.GetAction()
			if a.GetID() == "" {
				return nil, fmt.Errorf("deployaction: post-login binding %q has no action id; refusing to rewrite the bindings", b.GetDisplayName())
			}
			out = append(out, Binding{ActionID: a.GetID(), ActionName: a.GetName(), DisplayName: b.GetDisplayName()})
		}
		total := int(page.Response.GetTotal())
		if len(page.Results) == 0 || (total > 0 && len(out) >= total) || n == maxBindingPages {
			return out, nil
		}
		next, done := page, false
		err := t.do(ctx, "list post-login bindings", func(...option.RequestOption) error {
			p, err := page.GetNextPage(ctx) // keeps the first call's options, WithoutRetries included
			if errors.Is(err, core.ErrNoPages) {
				done = true
				return nil
			}
			next = p
			return err
		})
		if err != nil {
			return nil, err
		}
		if done {
			return out, nil
		}
		page = next
	}
}

// setBindings replaces the post-login bindings with list, in its order. Every entry names its
// action by id and carries its display name, so kept bindings stay as they were. Auth0's 400 for
// an Action still deploying (see notDeployedYet) is retried with backoff until deadline.
func (t *tenant) setBindings(ctx context.Context, list []Binding, deadline time.Time) error {
	interval := firstPoll
	for {
		err := t.putBindings(ctx, list)
		if !notDeployedYet(err) || time.Until(deadline) <= 0 {
			return err
		}
		fmt.Fprintf(t.progress, "  the action is still deploying; binding again in %s\n", interval)
		if err := metadata.Sleep(ctx, min(interval, time.Until(deadline))); err != nil {
			return err
		}
		interval = min(interval*2, maxPoll)
	}
}

// notDeployedYet is Auth0's 400 for a binding made before the deploy finished (auth0-deploy-cli
// issue 385).
func notDeployedYet(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest &&
		strings.Contains(apiErr.Message, "has not been deployed yet")
}

func (t *tenant) putBindings(ctx context.Context, list []Binding) error {
	trigger := management.ActionTriggerTypeEnumPostLogin
	refs := make([]*management.ActionBindingWithRef, 0, len(list))
	for _, b := range list {
		refs = append(refs, &management.ActionBindingWithRef{
			Ref: &management.ActionBindingRef{
				Type:  management.ActionBindingRefTypeEnumActionID.Ptr(),
				Value: management.String(b.ActionID),
			},
			DisplayName: management.String(b.DisplayName),
		})
	}
	req := &management.UpdateActionBindingsRequestContent{}
	req.SetBindings(refs)
	return t.do(ctx, "update post-login bindings", func(opts ...option.RequestOption) error {
		_, err := t.conn.API.Actions.Triggers.Bindings.UpdateMany(ctx, &trigger, req, opts...)
		return err
	})
}
