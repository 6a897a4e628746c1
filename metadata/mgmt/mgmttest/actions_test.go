package mgmttest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/client"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

var postLogin = management.ActionTriggerTypeEnumPostLogin.Ptr()

func refByID(id string) *management.ActionBindingWithRef {
	return &management.ActionBindingWithRef{Ref: &management.ActionBindingRef{
		Type: management.ActionBindingRefTypeEnumActionID.Ptr(), Value: management.String(id)}}
}

func refByName(name string) *management.ActionBindingWithRef {
	return &management.ActionBindingWithRef{Ref: &management.ActionBindingRef{
		Type: management.ActionBindingRefTypeEnumActionName.Ptr(), Value: management.String(name)},
		DisplayName: management.String(name)}
}

// createAction creates a post-login Action named name whose code does nothing.
func createAction(m *client.Management, name string) (*management.CreateActionResponseContent, error) {
	return m.Actions.Create(context.Background(), &management.CreateActionRequestContent{
		Name:              name,
		SupportedTriggers: []*management.ActionTrigger{{ID: management.ActionTriggerTypeEnumPostLogin, Version: management.String("v3")}},
		Code:              management.String("exports.onExecutePostLogin = async () => {};"),
	})
}

// waitBuilt polls the action until its status is "built", as a deploy command must.
func waitBuilt(t *testing.T, m *client.Management, id string) {
	t.Helper()
	testkit.WaitUntil(t, "the action to build", func() bool {
		a, err := m.Actions.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Actions.Get: %v", err)
		}
		return a.GetStatus() == management.ActionBuildStatusEnumBuilt
	})
}

func TestDeployActionFlow(t *testing.T) {
	s := newServer(t)
	other := s.SeedBoundAction("post-login", "someone-elses-action")
	otherBinding := s.Bindings("post-login")[0]
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()

	page, err := m.Actions.List(ctx, &management.ListActionsRequestParameters{ActionName: management.String("rulehook")})
	if err != nil || len(page.Results) != 0 {
		t.Fatalf("Actions.List(rulehook) = %v, %v; want no action yet", page, err)
	}
	created, err := m.Actions.Create(ctx, &management.CreateActionRequestContent{
		Name:              "rulehook",
		SupportedTriggers: []*management.ActionTrigger{{ID: management.ActionTriggerTypeEnumPostLogin, Version: management.String("v3")}},
		Code:              management.String("exports.onExecutePostLogin = async (event, api) => {};"),
		Runtime:           management.String("node22"),
		Secrets: []*management.ActionSecretRequest{
			{Name: management.String("CALLOUT_SECRET"), Value: management.String("s3cret")},
			{Name: management.String("RULEHOOK_URL"), Value: management.String("https://rulehook.example")},
		},
	})
	if err != nil {
		t.Fatalf("Actions.Create: %v", err)
	}
	id := created.GetID()
	if created.GetStatus() != management.ActionBuildStatusEnumPending || len(created.Secrets) != 2 {
		t.Errorf("created = status %q, %d secrets; want pending with 2 secrets", created.GetStatus(), len(created.Secrets))
	}
	waitBuilt(t, m, id)
	v1, err := m.Actions.Deploy(ctx, id)
	if err != nil || v1.GetNumber() != 1 || v1.GetDeployed() || v1.GetStatus() != management.ActionVersionBuildStatusEnumBuilt {
		t.Fatalf("Actions.Deploy = %+v, %v; want version 1 built, not deployed yet (as Auth0 answers)", v1, err)
	}
	// Binding before anyone saw the version deployed is Auth0's 400.
	_, err = m.Actions.Triggers.Bindings.UpdateMany(ctx, postLogin, &management.UpdateActionBindingsRequestContent{
		Bindings: []*management.ActionBindingWithRef{refByID(other.ID), refByName("rulehook")},
	})
	if statusOf(err) != 400 || !strings.Contains(err.Error(), "has not been deployed yet") {
		t.Fatalf("binding at once after the deploy: %v; want 400 not deployed yet", err)
	}
	if a, err := m.Actions.Get(ctx, id); err != nil || !a.DeployedVersion.GetDeployed() {
		t.Fatalf("Actions.Get after the deploy = %+v, %v; want deployed_version.deployed", a, err)
	}

	bindings, err := m.Actions.Triggers.Bindings.List(ctx, postLogin, nil)
	if err != nil || len(bindings.Results) != 1 || bindings.Results[0].Action.GetID() != other.ID {
		t.Fatalf("Bindings.List = %+v, %v; want the other team's binding only", bindings, err)
	}
	// Auth0 replaces the whole list: keep the existing binding first, add ours after it.
	updated, err := m.Actions.Triggers.Bindings.UpdateMany(ctx, postLogin, &management.UpdateActionBindingsRequestContent{
		Bindings: []*management.ActionBindingWithRef{refByID(other.ID), refByName("rulehook")},
	})
	if err != nil || len(updated.Bindings) != 2 {
		t.Fatalf("Bindings.UpdateMany = %+v, %v; want 2 bindings", updated, err)
	}
	got := s.Bindings("post-login")
	if got[0] != otherBinding || got[1].ActionID != id || got[1].DisplayName != "rulehook" {
		t.Errorf("bindings = %+v; want %+v untouched, then rulehook", got, otherBinding)
	}

	// A second deploy: update the draft, wait for the build, deploy version 2.
	upd, err := m.Actions.Update(ctx, id, &management.UpdateActionRequestContent{
		Code:    management.String("exports.onExecutePostLogin = async () => { /* v2 */ };"),
		Secrets: []*management.ActionSecretRequest{{Name: management.String("CALLOUT_SECRET"), Value: management.String("rotated")}},
	})
	if err != nil || upd.GetAllChangesDeployed() || upd.GetStatus() != management.ActionBuildStatusEnumPending {
		t.Fatalf("Actions.Update = all_changes_deployed %v status %q, %v; want false, pending", upd.GetAllChangesDeployed(), upd.GetStatus(), err)
	}
	waitBuilt(t, m, id)
	if v2, err := m.Actions.Deploy(ctx, id); err != nil || v2.GetNumber() != 2 {
		t.Fatalf("second Actions.Deploy = %+v, %v; want version 2", v2, err)
	}
	versions, err := m.Actions.Versions.List(ctx, id, nil)
	if err != nil || versions.Response.GetTotal() != 2 || versions.Results[0].GetNumber() != 2 || versions.Results[1].GetDeployed() {
		t.Fatalf("Versions.List = %+v, %v; want 2 versions, newest first, only it deployed", versions, err)
	}
	got2, err := m.Actions.Get(ctx, id)
	if err != nil || !got2.GetAllChangesDeployed() || got2.DeployedVersion.GetNumber() != 2 {
		t.Errorf("Actions.Get after deploy = %+v, %v; want all changes deployed at version 2", got2, err)
	}

	actions := s.Actions()
	if len(actions) != 2 || actions[0].Name != "rulehook" {
		t.Fatalf("actions = %+v; want rulehook and the other one", actions)
	}
	if a := actions[0]; a.DeployedVersion != 2 || a.Versions != 2 || a.Runtime != "node22" ||
		!slices.Equal(a.Triggers, []string{"post-login"}) || len(a.Secrets) != 1 || a.Secrets["CALLOUT_SECRET"] != "rotated" {
		t.Errorf("rulehook action = %+v; want version 2 deployed with the rotated secret only", a)
	}
	if got := s.Bindings("post-login"); len(got) != 2 || got[1].ID != updated.Bindings[1].GetID() {
		t.Errorf("bindings after redeploy = %+v; want the same two", got)
	}
}

func TestActionBuildDelayAndRefusals(t *testing.T) {
	s := newServer(t, mgmttest.WithBuildDelay(150*time.Millisecond))
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	a, err := createAction(m, "slow")
	if err != nil {
		t.Fatalf("Actions.Create: %v", err)
	}
	if got, err := m.Actions.Get(ctx, a.GetID()); err != nil || got.GetStatus() != management.ActionBuildStatusEnumPending {
		t.Errorf("status right after create = %q, %v; want pending", got.GetStatus(), err)
	}
	if _, err := m.Actions.Deploy(ctx, a.GetID()); statusOf(err) != 400 {
		t.Errorf("Deploy before the build: %v; want 400", err)
	}
	_, err = m.Actions.Triggers.Bindings.UpdateMany(ctx, postLogin, &management.UpdateActionBindingsRequestContent{
		Bindings: []*management.ActionBindingWithRef{refByName("slow")}})
	if statusOf(err) != 400 {
		t.Errorf("binding an undeployed action: %v; want 400", err)
	}
	_, err = createAction(m, "slow")
	var conflict *management.ConflictError
	if !errors.As(err, &conflict) {
		t.Errorf("creating a second action named slow: %v; want 409", err)
	}
	_, err = m.Actions.Triggers.Bindings.UpdateMany(ctx, postLogin, &management.UpdateActionBindingsRequestContent{
		Bindings: []*management.ActionBindingWithRef{refByName("missing")}})
	if statusOf(err) != 404 {
		t.Errorf("binding an unknown action: %v; want 404", err)
	}
	waitBuilt(t, m, a.GetID())
	if _, err := m.Actions.Deploy(ctx, a.GetID()); err != nil {
		t.Errorf("Deploy once built: %v", err)
	}
}

// deployNew creates, builds and deploys an Action named name and returns its id and a function
// that binds it alone to post-login.
func deployNew(t *testing.T, m *client.Management, name string) (string, func() error) {
	t.Helper()
	ctx := context.Background()
	created, err := createAction(m, name)
	if err != nil {
		t.Fatalf("Actions.Create: %v", err)
	}
	waitBuilt(t, m, created.GetID())
	if v, err := m.Actions.Deploy(ctx, created.GetID()); err != nil || v.GetDeployed() {
		t.Fatalf("Actions.Deploy = deployed %v, %v; want not deployed yet", v.GetDeployed(), err)
	}
	return created.GetID(), func() error {
		_, err := m.Actions.Triggers.Bindings.UpdateMany(ctx, postLogin, &management.UpdateActionBindingsRequestContent{
			Bindings: []*management.ActionBindingWithRef{refByName(name)},
		})
		return err
	}
}

func TestDeployDelayRefusesBindingWhileDeploying(t *testing.T) {
	s := newServer(t, mgmttest.WithDeployDelay(time.Hour))
	m := newClient(t, s, 2*time.Second)
	id, bind := deployNew(t, m, "rulehook")
	if a, err := m.Actions.Get(context.Background(), id); err != nil || a.DeployedVersion.GetDeployed() {
		t.Fatalf("Actions.Get = deployed %v, %v; want deployed_version.deployed false", a.DeployedVersion.GetDeployed(), err)
	}
	err := bind()
	if statusOf(err) != 400 || !strings.Contains(err.Error(), "Trying to create a binding for an action that has not been deployed yet") {
		t.Fatalf("binding while deploying: %v; want Auth0's 400", err)
	}
	if got := s.Bindings("post-login"); len(got) != 0 {
		t.Errorf("bindings = %+v; want none", got)
	}
}

func TestDeployDelayEnds(t *testing.T) {
	s := newServer(t, mgmttest.WithDeployDelay(time.Millisecond))
	m := newClient(t, s, 2*time.Second)
	id, bind := deployNew(t, m, "rulehook")
	testkit.WaitUntil(t, "deployed_version.deployed", func() bool {
		a, err := m.Actions.Get(context.Background(), id)
		return err == nil && a.DeployedVersion.GetDeployed()
	})
	if err := bind(); err != nil {
		t.Fatalf("binding once deployed: %v", err)
	}
	if got := s.Bindings("post-login"); len(got) != 1 || got[0].ActionID != id {
		t.Errorf("bindings = %+v; want rulehook bound", got)
	}
}
