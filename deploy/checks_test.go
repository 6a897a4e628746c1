package deploy

import (
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// overlaySpec is what an overlay promises beyond the base.
type overlaySpec struct {
	name        string
	namespace   string
	minReplicas int32  // of the rulehook Deployment and the floor of its HPA
	redis       string // the Redis topology: "url", "sentinel" or "cluster"
}

var overlays = []overlaySpec{
	{name: "dev", namespace: "rulehook-dev", minReplicas: 2, redis: "url"},
	{name: "production", namespace: "rulehook", minReplicas: 3, redis: "sentinel"},
}

// The names the checks look for: the service's Deployment, container, Service and ServiceAccount
// are all called rulehook.
const appName = "rulehook"

// check is one rule the rendered manifests must follow; it returns the problems it finds.
type check struct {
	name string
	fn   func(r *rendered, spec overlaySpec) []string
}

var checks = []check{
	{"objects", checkObjects},
	{"replicas", checkReplicas},
	{"pod security", checkPodSecurity},
	{"pod security standard", checkPodSecurityStandard},
	{"resources", checkResources},
	{"images", checkImages},
	{"probes", checkProbes},
	{"ports", checkPorts},
	{"shutdown", checkShutdown},
	{"selectors", checkSelectors},
	{"network policy", checkNetworkPolicy},
	{"secrets", checkSecrets},
	{"metrics", checkMetrics},
	{"redis", checkRedis},
}

func runChecks(r *rendered, spec overlaySpec) []string {
	var all []string
	for _, c := range checks {
		for _, p := range c.fn(r, spec) {
			all = append(all, c.name+": "+p)
		}
	}
	return all
}

// app is the rulehook Deployment, its container and the environment that container gets
// (optional secrets left out, as on a cluster where they are not created).
type app struct {
	d   *appsv1.Deployment
	c   *corev1.Container
	env map[string]string
}

func findApp(r *rendered) (app, []string) {
	d := r.deployment(appName)
	if d == nil {
		return app{}, []string{"no Deployment named " + appName}
	}
	cs := d.Spec.Template.Spec.Containers
	i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == appName })
	if i < 0 {
		return app{}, []string{"Deployment " + appName + " has no container named " + appName}
	}
	env, problems := podEnv(r, &cs[i])
	return app{d: d, c: &cs[i], env: env}, problems
}

func (a app) listenPort() (int32, error) {
	addr := a.env["LISTEN_ADDR"]
	if addr == "" {
		addr = defaultListenAddr
	}
	return addrPort(addr)
}

// metricsPort is where /metrics is served: METRICS_ADDR's port when set, else LISTEN_ADDR's.
func (a app) metricsPort() (int32, error) {
	if addr := a.env["METRICS_ADDR"]; addr != "" {
		return addrPort(addr)
	}
	return a.listenPort()
}

func (a app) shutdownTimeout() (time.Duration, error) {
	v := a.env["SHUTDOWN_TIMEOUT"]
	if v == "" {
		return defaultShutdownTimeout, nil
	}
	return time.ParseDuration(v)
}

func (a app) podLabels() map[string]string { return a.d.Spec.Template.Labels }

// withApp runs fn on the rulehook app, or reports why there is none.
func withApp(r *rendered, fn func(a app) []string) []string {
	a, problems := findApp(r)
	if a.d == nil {
		return problems
	}
	return append(problems, fn(a)...)
}

// withPorts runs fn on the rulehook app and the ports it serves on: LISTEN_ADDR's, and where
// /metrics is (metricsPort). It reports instead why there is no app or a port does not parse.
func withPorts(r *rendered, fn func(a app, listen, metrics int32) []string) []string {
	return withApp(r, func(a app) []string {
		listen, err := a.listenPort()
		if err != nil {
			return []string{"LISTEN_ADDR: " + err.Error()}
		}
		metrics, err := a.metricsPort()
		if err != nil {
			return []string{"METRICS_ADDR: " + err.Error()}
		}
		return fn(a, listen, metrics)
	})
}

// allContainers lists every container (init ones too) of every workload, with its pod spec.
type podContainer struct {
	owner string
	pod   *corev1.PodSpec
	c     *corev1.Container
}

func allContainers(r *rendered) []podContainer {
	var out []podContainer
	for _, d := range all[*appsv1.Deployment](r) {
		ps := &d.Spec.Template.Spec
		for i := range ps.InitContainers {
			out = append(out, podContainer{"Deployment " + d.Name, ps, &ps.InitContainers[i]})
		}
		for i := range ps.Containers {
			out = append(out, podContainer{"Deployment " + d.Name, ps, &ps.Containers[i]})
		}
	}
	return out
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(podLabels))
}

// selectedDeployments lists the Deployments whose pods sel matches.
func selectedDeployments(r *rendered, match func(map[string]string) bool) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range all[*appsv1.Deployment](r) {
		if match(d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

func names(ds []*appsv1.Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}

// containerPort resolves a named or numbered port against the ports the pod's containers declare.
func containerPort(ps *corev1.PodSpec, p intstr.IntOrString) (int32, bool) {
	for _, c := range ps.Containers {
		for _, cp := range c.Ports {
			if p.Type == intstr.String && cp.Name == p.StrVal {
				return cp.ContainerPort, true
			}
			if p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}
