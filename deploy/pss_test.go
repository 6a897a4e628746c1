package deploy

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// pssEvaluator runs the upstream Pod Security Standards checks, the ones the API server's
// PodSecurity admission runs.
var pssEvaluator = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// checkPodSecurityStandard evaluates every pod template against the level and version its
// namespace enforces (the namespace must enforce restricted), as admission would, so that a
// cluster enforcing it admits the pods.
func checkPodSecurityStandard(r *rendered, spec overlaySpec) []string {
	var p []string
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	for _, ns := range all[*corev1.Namespace](r) {
		if ns.Name != spec.namespace {
			continue
		}
		pol, errs := psapi.PolicyToEvaluate(ns.Labels, psapi.Policy{}) // no label: enforces nothing
		switch got := pol.Enforce; {
		case len(errs) > 0:
			p = append(p, fmt.Sprintf("Namespace %s: %v", ns.Name, errs.ToAggregate()))
		case got.Level != psapi.LevelRestricted:
			p = append(p, fmt.Sprintf("Namespace %s enforces Pod Security %q; want restricted", ns.Name, got.Level))
		default:
			lv = got
		}
	}
	for _, d := range all[*appsv1.Deployment](r) {
		res := policy.AggregateCheckResults(pssEvaluator.EvaluatePod(lv, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec))
		if !res.Allowed {
			p = append(p, fmt.Sprintf("Deployment %s violates Pod Security %s:%s: %s", d.Name, lv.Level, lv.Version, res.ForbiddenDetail()))
		}
	}
	return p
}

// TestPodSecurityStandardCatches breaks the dev render in ways the hand-written pod checks do
// not look for, and expects the upstream restricted checks to refuse each.
func TestPodSecurityStandardCatches(t *testing.T) {
	tests := []struct {
		name   string
		breakR func(ps *corev1.PodSpec, c *corev1.Container)
		want   string
	}{
		{"host port", func(_ *corev1.PodSpec, c *corev1.Container) { c.Ports[0].HostPort = 8080 }, "hostPort"},
		{"unsafe sysctl", func(ps *corev1.PodSpec, _ *corev1.Container) {
			ps.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}
		}, "forbidden sysctls"},
		{"unconfined AppArmor", func(_ *corev1.PodSpec, c *corev1.Container) {
			c.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}, "AppArmor profile"},
		{"privileged init container", func(ps *corev1.PodSpec, _ *corev1.Container) {
			yes := true
			ps.InitContainers = append(ps.InitContainers, corev1.Container{Name: "init", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: &yes}})
		}, "privileged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := renderDir(overlayDir("dev"))
			if err != nil {
				t.Fatal(err)
			}
			if got := checkPodSecurityStandard(r, overlays[0]); len(got) > 0 {
				t.Fatalf("Pod Security on the unbroken render = %q; want none", got)
			}
			a, _ := findApp(r)
			tt.breakR(&a.d.Spec.Template.Spec, a.c)
			got := strings.Join(checkPodSecurityStandard(r, overlays[0]), "; ")
			if !strings.Contains(got, tt.want) {
				t.Errorf("Pod Security after %s = %q; want a problem naming %q", tt.name, got, tt.want)
			}
		})
	}
}
