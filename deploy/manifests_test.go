package deploy

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestOverlays(t *testing.T) {
	for _, spec := range overlays {
		t.Run(spec.name, func(t *testing.T) {
			r := renderCached(t, overlayDir(spec.name))
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					for _, p := range c.fn(r, spec) {
						t.Error(p)
					}
				})
			}
		})
	}
}

func TestProductionScalesBeyondDev(t *testing.T) {
	dev := renderCached(t, overlayDir("dev"))
	prod := renderCached(t, overlayDir("production"))
	devHPAs, prodHPAs := all[*autoscalingv2.HorizontalPodAutoscaler](dev), all[*autoscalingv2.HorizontalPodAutoscaler](prod)
	if len(devHPAs) != 1 || len(prodHPAs) != 1 {
		t.Fatalf("HPAs: dev %d, production %d; want 1 each", len(devHPAs), len(prodHPAs))
	}
	if got, want := prodHPAs[0].Spec.MaxReplicas, devHPAs[0].Spec.MaxReplicas; got <= want {
		t.Errorf("production maxReplicas = %d; want more than dev's %d", got, want)
	}
	if got := *prod.deployment(appName).Spec.Replicas; got < 3 {
		t.Errorf("production replicas = %d; want >= 3", got)
	}
}

// TestChecksCatchBrokenManifests breaks a fresh dev render one way at a time and expects the
// checks to say so: a check that never fails proves nothing.
func TestChecksCatchBrokenManifests(t *testing.T) {
	spec := overlays[0]
	container := func(r *rendered) *corev1.Container {
		a, _ := findApp(r)
		return a.c
	}
	setConfig := func(r *rendered, k, v string) {
		a, _ := findApp(r)
		for _, cm := range all[*corev1.ConfigMap](r) {
			if cm.Name == a.c.EnvFrom[0].ConfigMapRef.Name {
				cm.Data[k] = v
			}
		}
	}
	tests := []struct {
		name   string
		breakR func(r *rendered)
		want   string
	}{
		{"grace period too short", func(r *rendered) {
			g := int64(20)
			r.deployment(appName).Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds"},
		{"shutdown timeout raised", func(r *rendered) { setConfig(r, "SHUTDOWN_TIMEOUT", "60s") }, "terminationGracePeriodSeconds"},
		{"preStop exec", func(r *rendered) {
			container(r).Lifecycle.PreStop = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "5"}}}
		}, "preStop sleep"},
		{"liveness on a made-up path", func(r *rendered) { container(r).LivenessProbe.HTTPGet.Path = "/health" }, "liveness probe path"},
		{"readiness on liveness path", func(r *rendered) { container(r).ReadinessProbe.HTTPGet.Path = "/healthz" }, "readiness probe path"},
		{"listen port moved", func(r *rendered) { setConfig(r, "LISTEN_ADDR", ":9000") }, "LISTEN_ADDR's port"},
		{"PDB selector typo", func(r *rendered) {
			all[*policyv1.PodDisruptionBudget](r)[0].Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "rulehoook"
		}, "PodDisruptionBudgets select"},
		{"HPA targets nothing", func(r *rendered) {
			all[*autoscalingv2.HorizontalPodAutoscaler](r)[0].Spec.ScaleTargetRef.Name = "rule-hook"
		}, "HorizontalPodAutoscaler"},
		{"Service selector matches no pods", func(r *rendered) {
			r.service(appName).Spec.Selector = map[string]string{"app.kubernetes.io/managed-by": "kustomize"}
		}, "selects no pods"},
		{"capabilities kept", func(r *rendered) { container(r).SecurityContext.Capabilities = nil }, "drop ALL"},
		{"writable root", func(r *rendered) { f := false; container(r).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem"},
		{"token mounted", func(r *rendered) {
			r.deployment(appName).Spec.Template.Spec.AutomountServiceAccountToken = nil
			tr := true
			r.serviceAccount(appName).AutomountServiceAccountToken = &tr
		}, "ServiceAccount token"},
		{"image latest", func(r *rendered) { container(r).Image = "rulehook:latest" }, "not pinned"},
		{"image untagged", func(r *rendered) { container(r).Image = "ghcr.io/rulehook/rulehook" }, "not pinned"},
		{"no memory limit", func(r *rendered) { delete(container(r).Resources.Limits, corev1.ResourceMemory) }, "no memory limit"},
		{"secret value inline", func(r *rendered) {
			c := container(r)
			i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "CALLOUT_SECRET" })
			c.Env[i] = corev1.EnvVar{Name: "CALLOUT_SECRET", Value: "0123456789abcdef0123456789abcdef"}
		}, "secretKeyRef"},
		{"secret in ConfigMap", func(r *rendered) { setConfig(r, "AUTH0_CLIENT_SECRET", "x") }, "secretKeyRef"},
		{"Redis password in ConfigMap", func(r *rendered) { setConfig(r, "REDIS_URL", "redis://:hunter2@redis:6379/0") }, "credentials"},
		{"Secret with data", func(r *rendered) {
			r.add(object{kind: "v1/Secret", obj: &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: secretsSecretName, Namespace: spec.namespace},
				StringData: map[string]string{"CALLOUT_SECRET": "x"},
			}})
		}, "carries data"},
		{"ingress on every port", func(r *rendered) { all[*networkingv1.NetworkPolicy](r)[0].Spec.Ingress[0].Ports = nil }, "admits every port"},
		{"ingress to ssh", func(r *rendered) {
			p := intstr.FromInt32(22)
			np := all[*networkingv1.NetworkPolicy](r)[0]
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{{Port: &p}}})
		}, "admits ingress to 22"},
		{"egress anywhere", func(r *rendered) {
			np := all[*networkingv1.NetworkPolicy](r)[0]
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
		}, "allows every port"},
		{"Redis on a port egress forbids", func(r *rendered) { setConfig(r, "REDIS_URL", "redis://redis:6380/0") }, "6380/TCP"},
		{"Redis policy shuts rulehook out", func(r *rendered) {
			for _, np := range all[*networkingv1.NetworkPolicy](r) {
				if np.Name == "redis" {
					np.Spec.Ingress[0].From[0].PodSelector.MatchLabels["app.kubernetes.io/name"] = "other"
				}
			}
		}, "keeps the rulehook pods from Redis"},
		{"two Redis topologies", func(r *rendered) { setConfig(r, "REDIS_CLUSTER_ADDRS", "redis:6379") }, "topology cluster"},
		{"metrics port missing", func(r *rendered) {
			s := r.service(appName)
			s.Spec.Ports = slices.DeleteFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" })
		}, "no port named metrics"},
		{"too few replicas", func(r *rendered) { one := int32(1); r.deployment(appName).Spec.Replicas = &one }, "replicas"},
		{"object in another namespace", func(r *rendered) { r.service(appName).Namespace = "default" }, "in namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := renderDir(overlayDir(spec.name))
			if err != nil {
				t.Fatal(err)
			}
			if got := runChecks(r, spec); len(got) > 0 {
				t.Fatalf("checks on the unbroken render = %q; want none", got)
			}
			tt.breakR(r)
			got := runChecks(r, spec)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("checks after %s = %q; want a problem containing %q", tt.name, got, tt.want)
			}
		})
	}
}

// TestKubectlKustomizeAgrees renders each overlay with the kubectl on PATH (the acceptance
// command, `kubectl kustomize deploy/overlays/<name>`) and expects the same objects as the
// kustomize library the other tests use.
func TestKubectlKustomizeAgrees(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; the kustomize library rendering in TestOverlays stands in for it")
	}
	for _, spec := range overlays {
		t.Run(spec.name, func(t *testing.T) {
			got := kubectlIDs(t, kubectl, overlayDir(spec.name))
			want := renderCached(t, overlayDir(spec.name)).ids()
			if !slices.Equal(got, want) {
				t.Errorf("kubectl kustomize %s objects = %q; want %q", spec.name, got, want)
			}
		})
	}
}
