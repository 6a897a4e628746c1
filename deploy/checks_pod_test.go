package deploy

// The checks on the pods themselves: objects present, replicas, security, resources, images,
// probes, ports and shutdown timing.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkObjects(r *rendered, spec overlaySpec) []string {
	var p []string
	if r.service(appName) == nil {
		p = append(p, "no Service named "+appName)
	}
	if r.serviceAccount(appName) == nil {
		p = append(p, "no ServiceAccount named "+appName)
	}
	for _, kind := range []string{"policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler", "networking.k8s.io/v1/NetworkPolicy", "v1/ConfigMap"} {
		if !slices.ContainsFunc(r.objects, func(o object) bool { return o.kind == kind }) {
			p = append(p, "no "+kind)
		}
	}
	if !slices.ContainsFunc(all[*corev1.Namespace](r), func(n *corev1.Namespace) bool { return n.Name == spec.namespace }) {
		p = append(p, fmt.Sprintf("no Namespace %q", spec.namespace))
	}
	for _, o := range r.objects {
		if _, isNS := o.obj.(*corev1.Namespace); isNS {
			continue
		}
		if got := o.obj.GetNamespace(); got != spec.namespace {
			p = append(p, fmt.Sprintf("%s is in namespace %q; want %q", o, got, spec.namespace))
		}
	}
	return p
}

func checkReplicas(r *rendered, spec overlaySpec) []string {
	return withApp(r, func(a app) []string {
		want := max(spec.minReplicas, 2)
		if a.d.Spec.Replicas == nil || *a.d.Spec.Replicas < want {
			return []string{fmt.Sprintf("Deployment %s replicas = %v; want >= %d", appName, deref(a.d.Spec.Replicas), want)}
		}
		return nil
	})
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func checkPodSecurity(r *rendered, _ overlaySpec) []string {
	var p []string
	for _, d := range all[*appsv1.Deployment](r) {
		ps := &d.Spec.Template.Spec
		who := "Deployment " + d.Name
		if ps.HostNetwork || ps.HostPID || ps.HostIPC {
			p = append(p, who+" shares a host namespace")
		}
		for _, v := range ps.Volumes {
			if v.HostPath != nil {
				p = append(p, fmt.Sprintf("%s mounts hostPath volume %q", who, v.Name))
			}
		}
		sa := r.serviceAccount(ps.ServiceAccountName)
		switch {
		case ps.ServiceAccountName == "" || ps.ServiceAccountName == "default":
			p = append(p, who+" runs as the namespace's default ServiceAccount; give it its own")
		case sa == nil:
			p = append(p, fmt.Sprintf("%s uses ServiceAccount %q, which is not in the render", who, ps.ServiceAccountName))
		}
		automount := ps.AutomountServiceAccountToken
		if automount == nil && sa != nil {
			automount = sa.AutomountServiceAccountToken
		}
		if automount == nil || *automount {
			p = append(p, who+" mounts a ServiceAccount token (automountServiceAccountToken must be false)")
		}
	}
	for _, pc := range allContainers(r) {
		p = append(p, containerSecurity(pc)...)
	}
	return p
}

func containerSecurity(pc podContainer) []string {
	var p []string
	who := fmt.Sprintf("%s container %s", pc.owner, pc.c.Name)
	sc := pc.c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	psc := pc.pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if !isTrue(firstSet(sc.RunAsNonRoot, psc.RunAsNonRoot)) {
		p = append(p, who+": runAsNonRoot is not true")
	}
	if uid := firstSet(sc.RunAsUser, psc.RunAsUser); uid == nil || *uid == 0 {
		p = append(p, who+": runAsUser must be a non-zero numeric user")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p = append(p, who+": allowPrivilegeEscalation is not false")
	}
	if isTrue(sc.Privileged) {
		p = append(p, who+": privileged")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		p = append(p, who+": readOnlyRootFilesystem is not true")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		p = append(p, who+": capabilities do not drop ALL")
	} else if len(sc.Capabilities.Add) > 0 {
		p = append(p, fmt.Sprintf("%s: capabilities add %v", who, sc.Capabilities.Add))
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p = append(p, who+": seccompProfile is not RuntimeDefault")
	}
	return p
}

func firstSet[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkResources(r *rendered, _ overlaySpec) []string {
	var p []string
	for _, pc := range allContainers(r) {
		who := fmt.Sprintf("%s container %s", pc.owner, pc.c.Name)
		res := pc.c.Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := res.Requests[name]
			lim, hasLim := res.Limits[name]
			switch {
			case !hasReq:
				p = append(p, fmt.Sprintf("%s: no %s request", who, name))
			case !hasLim:
				p = append(p, fmt.Sprintf("%s: no %s limit", who, name))
			case req.Cmp(lim) > 0:
				p = append(p, fmt.Sprintf("%s: %s request %s exceeds limit %s", who, name, req.String(), lim.String()))
			}
		}
	}
	return p
}

func checkImages(r *rendered, _ overlaySpec) []string {
	var p []string
	for _, pc := range allContainers(r) {
		if tag, pinned := imageTag(pc.c.Image); !pinned {
			p = append(p, fmt.Sprintf("%s container %s: image %q is not pinned (tag %q)", pc.owner, pc.c.Name, pc.c.Image, tag))
		}
	}
	return p
}

// imageTag returns an image reference's tag and whether it pins a version: a digest, or a tag
// other than latest.
func imageTag(image string) (string, bool) {
	if strings.Contains(image, "@sha256:") {
		return "", true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "" || tag == "latest" {
		return tag, false
	}
	return tag, true
}

func checkProbes(r *rendered, _ overlaySpec) []string {
	var p []string
	for _, pc := range allContainers(r) {
		if pc.c.LivenessProbe == nil || pc.c.ReadinessProbe == nil {
			p = append(p, fmt.Sprintf("%s container %s: needs a liveness and a readiness probe", pc.owner, pc.c.Name))
		}
	}
	return append(p, withPorts(r, func(a app, listen, _ int32) []string {
		var p []string
		ps := &a.d.Spec.Template.Spec
		for _, probe := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{
			{"liveness", a.c.LivenessProbe, livenessPath},
			{"readiness", a.c.ReadinessProbe, readinessPath},
			{"startup", a.c.StartupProbe, livenessPath},
		} {
			if probe.probe == nil {
				continue // a missing liveness/readiness probe is reported above
			}
			g := probe.probe.HTTPGet
			if g == nil {
				p = append(p, fmt.Sprintf("%s probe is not an httpGet on %s", probe.kind, probe.path))
				continue
			}
			if g.Path != probe.path {
				p = append(p, fmt.Sprintf("%s probe path = %q; want %q", probe.kind, g.Path, probe.path))
			}
			if port, ok := containerPort(ps, g.Port); !ok || port != listen {
				p = append(p, fmt.Sprintf("%s probe port %s resolves to %d; want LISTEN_ADDR's port %d", probe.kind, g.Port.String(), port, listen))
			}
		}
		return p
	})...)
}

func checkPorts(r *rendered, _ overlaySpec) []string {
	return withPorts(r, func(a app, listen, metrics int32) []string {
		var p []string
		http, ok := containerPort(&a.d.Spec.Template.Spec, intstr.FromString("http"))
		if !ok || http != listen {
			p = append(p, fmt.Sprintf("container port named http = %d; want LISTEN_ADDR's port %d", http, listen))
		}
		for _, cp := range a.c.Ports {
			if cp.ContainerPort != listen && cp.ContainerPort != metrics {
				p = append(p, fmt.Sprintf("container port %s (%d) is neither LISTEN_ADDR's nor METRICS_ADDR's", cp.Name, cp.ContainerPort))
			}
		}
		ann := a.d.Spec.Template.Annotations
		if v, ok := ann["prometheus.io/port"]; ok && v != fmt.Sprint(metrics) {
			p = append(p, fmt.Sprintf("annotation prometheus.io/port = %q; want %d", v, metrics))
		}
		if v, ok := ann["prometheus.io/path"]; ok && v != metricsPath {
			p = append(p, fmt.Sprintf("annotation prometheus.io/path = %q; want %q", v, metricsPath))
		}
		return p
	})
}

func checkShutdown(r *rendered, _ overlaySpec) []string {
	return withApp(r, func(a app) []string {
		shutdown, err := a.shutdownTimeout()
		if err != nil {
			return []string{"SHUTDOWN_TIMEOUT: " + err.Error()}
		}
		if a.c.Lifecycle == nil || a.c.Lifecycle.PreStop == nil || a.c.Lifecycle.PreStop.Sleep == nil {
			return []string{"container has no preStop sleep (the image has no shell, so it must be the native sleep action)"}
		}
		pause := time.Duration(a.c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		if pause < time.Second {
			return []string{fmt.Sprintf("preStop sleep = %v; want at least 1s so endpoints drain before SIGTERM", pause)}
		}
		grace := 30 * time.Second // the API server's default
		if g := a.d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		if grace <= pause+shutdown {
			return []string{fmt.Sprintf("terminationGracePeriodSeconds = %v; want more than preStop sleep %v + SHUTDOWN_TIMEOUT %v", grace, pause, shutdown)}
		}
		return nil
	})
}
