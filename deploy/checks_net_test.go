package deploy

// The checks that tie objects together: selectors, NetworkPolicy, metrics and Redis reachability.

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkSelectors(r *rendered, spec overlaySpec) []string {
	var p []string
	for _, d := range all[*appsv1.Deployment](r) {
		if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
			p = append(p, fmt.Sprintf("Deployment %s selector does not match its own pods", d.Name))
		}
		for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
			if !selects(tsc.LabelSelector, d.Spec.Template.Labels) {
				p = append(p, fmt.Sprintf("Deployment %s topology spread on %s does not select its own pods", d.Name, tsc.TopologyKey))
			}
		}
	}
	for _, s := range all[*corev1.Service](r) {
		p = append(p, serviceSelects(r, s)...)
	}
	return append(p, withApp(r, func(a app) []string {
		var p []string
		own := a.podLabels()
		onlyApp := func(kind, name string, match func(map[string]string) bool) {
			got := selectedDeployments(r, match)
			if len(got) != 1 || got[0] != a.d {
				p = append(p, fmt.Sprintf("%s %s selects the pods of %v; want exactly [%s]", kind, name, names(got), appName))
			}
		}
		if s := r.service(appName); s != nil {
			onlyApp("Service", s.Name, func(l map[string]string) bool {
				return labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(l)) && len(s.Spec.Selector) > 0
			})
		}
		appPDBs := 0
		for _, pdb := range all[*policyv1.PodDisruptionBudget](r) {
			if !selects(pdb.Spec.Selector, own) {
				continue
			}
			appPDBs++
			onlyApp("PodDisruptionBudget", pdb.Name, func(l map[string]string) bool { return selects(pdb.Spec.Selector, l) })
			if mu := pdb.Spec.MinAvailable; mu != nil && mu.Type == intstr.Int && a.d.Spec.Replicas != nil && mu.IntVal >= *a.d.Spec.Replicas {
				p = append(p, fmt.Sprintf("PodDisruptionBudget %s minAvailable %d blocks every drain at %d replicas", pdb.Name, mu.IntVal, *a.d.Spec.Replicas))
			}
		}
		if appPDBs != 1 {
			p = append(p, fmt.Sprintf("%d PodDisruptionBudgets select the %s pods; want 1", appPDBs, appName))
		}
		appHPAs := 0
		for _, h := range all[*autoscalingv2.HorizontalPodAutoscaler](r) {
			ref := h.Spec.ScaleTargetRef
			target := r.deployment(ref.Name)
			if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || target == nil {
				p = append(p, fmt.Sprintf("HorizontalPodAutoscaler %s targets %s %s %q, which is not a Deployment in the render", h.Name, ref.APIVersion, ref.Kind, ref.Name))
				continue
			}
			if target != a.d {
				continue
			}
			appHPAs++
			lo := deref(h.Spec.MinReplicas)
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < max(spec.minReplicas, 2) || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
				p = append(p, fmt.Sprintf("HorizontalPodAutoscaler %s bounds [%v, %d]; want %d <= min <= max", h.Name, lo, h.Spec.MaxReplicas, max(spec.minReplicas, 2)))
			} else if rep := a.d.Spec.Replicas; rep != nil && (*rep < *h.Spec.MinReplicas || *rep > h.Spec.MaxReplicas) {
				p = append(p, fmt.Sprintf("Deployment replicas %d is outside the HorizontalPodAutoscaler bounds [%d, %d]", *rep, *h.Spec.MinReplicas, h.Spec.MaxReplicas))
			}
		}
		if appHPAs != 1 {
			p = append(p, fmt.Sprintf("%d HorizontalPodAutoscalers scale the %s Deployment; want 1", appHPAs, appName))
		}
		for _, np := range all[*networkingv1.NetworkPolicy](r) {
			if len(selectedDeployments(r, func(l map[string]string) bool { return selects(&np.Spec.PodSelector, l) })) == 0 {
				p = append(p, fmt.Sprintf("NetworkPolicy %s selects no pods in the render", np.Name))
			}
		}
		if len(appPolicies(r, a)) == 0 {
			p = append(p, "no NetworkPolicy selects the "+appName+" pods")
		}
		if !slices.ContainsFunc(a.d.Spec.Template.Spec.TopologySpreadConstraints, func(t corev1.TopologySpreadConstraint) bool {
			return t.TopologyKey == "kubernetes.io/hostname"
		}) {
			p = append(p, "no topology spread over kubernetes.io/hostname")
		}
		return p
	})...)
}

// serviceSelects checks that a Service selects some workload's pods and that each of its ports
// lands on a port those pods declare.
func serviceSelects(r *rendered, s *corev1.Service) []string {
	if len(s.Spec.Selector) == 0 {
		return []string{fmt.Sprintf("Service %s has no selector", s.Name)}
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	got := selectedDeployments(r, func(l map[string]string) bool { return sel.Matches(labels.Set(l)) })
	if len(got) == 0 {
		return []string{fmt.Sprintf("Service %s selects no pods in the render", s.Name)}
	}
	var p []string
	for _, d := range got {
		for _, sp := range s.Spec.Ports {
			tp := sp.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(sp.Port)
			}
			if _, ok := containerPort(&d.Spec.Template.Spec, tp); !ok {
				p = append(p, fmt.Sprintf("Service %s port %s targets %s, which Deployment %s does not declare", s.Name, sp.Name, tp.String(), d.Name))
			}
		}
	}
	return p
}

func appPolicies(r *rendered, a app) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, np := range all[*networkingv1.NetworkPolicy](r) {
		if selects(&np.Spec.PodSelector, a.podLabels()) {
			out = append(out, np)
		}
	}
	return out
}

type protoPort struct {
	proto corev1.Protocol
	port  int32
}

func (pp protoPort) String() string { return fmt.Sprintf("%d/%s", pp.port, pp.proto) }

// redisPorts are the TCP ports the configured Redis topology needs. A Sentinel hands out its
// master's address at run time, so a Sentinel setup also needs the standard Redis port.
func redisPorts(env map[string]string) ([]int32, error) {
	var ports []int32
	if u := env["REDIS_URL"]; u != "" {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL does not parse")
		}
		port := int32(6379)
		if pu.Port() != "" {
			if port, err = addrPort(pu.Host); err != nil {
				return nil, err
			}
		}
		ports = append(ports, port)
	}
	if env["REDIS_SENTINEL_ADDRS"] != "" {
		ports = append(ports, 6379)
	}
	for _, name := range []string{"REDIS_SENTINEL_ADDRS", "REDIS_CLUSTER_ADDRS"} {
		ps, err := hostPorts(env[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ports = append(ports, ps...)
	}
	return ports, nil
}

func checkNetworkPolicy(r *rendered, _ overlaySpec) []string {
	return withPorts(r, func(a app, listen, metrics int32) []string {
		var p []string
		needRedis, err := redisPorts(a.env)
		if err != nil {
			return []string{err.Error()}
		}
		// DNS, HTTPS (Auth0), the standard Redis and Sentinel ports, and whatever the config names.
		allowedOut := map[protoPort]bool{
			{corev1.ProtocolUDP, 53}: true, {corev1.ProtocolTCP, 53}: true, {corev1.ProtocolTCP, 443}: true,
			{corev1.ProtocolTCP, 6379}: true, {corev1.ProtocolTCP, 26379}: true,
		}
		for _, rp := range needRedis {
			allowedOut[protoPort{corev1.ProtocolTCP, rp}] = true
		}
		var ingressTypes, egressTypes bool
		gotOut := map[protoPort]bool{}
		ps := &a.d.Spec.Template.Spec
		for _, np := range appPolicies(r, a) {
			ingressTypes = ingressTypes || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			egressTypes = egressTypes || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			for i, rule := range np.Spec.Ingress {
				if len(rule.Ports) == 0 {
					p = append(p, fmt.Sprintf("NetworkPolicy %s ingress rule %d admits every port", np.Name, i))
				}
				for _, port := range rule.Ports {
					if port.Port == nil {
						p = append(p, fmt.Sprintf("NetworkPolicy %s ingress rule %d admits every port of a protocol", np.Name, i))
						continue
					}
					got, ok := containerPort(ps, *port.Port)
					if !ok || (got != listen && got != metrics) || port.EndPort != nil || proto(port.Protocol) != corev1.ProtocolTCP {
						p = append(p, fmt.Sprintf("NetworkPolicy %s admits ingress to %s; want only the HTTP port %d/TCP", np.Name, port.Port.String(), listen))
					}
				}
			}
			for i, rule := range np.Spec.Egress {
				if len(rule.Ports) == 0 {
					p = append(p, fmt.Sprintf("NetworkPolicy %s egress rule %d allows every port", np.Name, i))
				}
				for _, port := range rule.Ports {
					if port.Port == nil || port.Port.Type != intstr.Int || port.EndPort != nil {
						p = append(p, fmt.Sprintf("NetworkPolicy %s egress rule %d: want single numbered ports", np.Name, i))
						continue
					}
					pp := protoPort{proto(port.Protocol), port.Port.IntVal}
					gotOut[pp] = true
					if !allowedOut[pp] {
						p = append(p, fmt.Sprintf("NetworkPolicy %s allows egress to %s; want only DNS, HTTPS and Redis", np.Name, pp))
					}
				}
			}
		}
		if !ingressTypes || !egressTypes {
			p = append(p, fmt.Sprintf("the %s pods' NetworkPolicies restrict Ingress=%t Egress=%t; want both", appName, ingressTypes, egressTypes))
		}
		need := []protoPort{{corev1.ProtocolUDP, 53}, {corev1.ProtocolTCP, 53}, {corev1.ProtocolTCP, 443}}
		for _, rp := range needRedis {
			need = append(need, protoPort{corev1.ProtocolTCP, rp})
		}
		for _, pp := range need {
			if !gotOut[pp] {
				p = append(p, fmt.Sprintf("egress to %s is not allowed; rulehook needs it", pp))
			}
		}
		return p
	})
}

func proto(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}

func checkMetrics(r *rendered, _ overlaySpec) []string {
	return withPorts(r, func(a app, _, metrics int32) []string {
		s := r.service(appName)
		if s == nil {
			return nil // reported by checkObjects
		}
		i := slices.IndexFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == "metrics" })
		if i < 0 {
			return []string{"Service " + appName + " has no port named metrics for a ServiceMonitor"}
		}
		if got, ok := containerPort(&a.d.Spec.Template.Spec, s.Spec.Ports[i].TargetPort); !ok || got != metrics {
			return []string{fmt.Sprintf("Service port metrics reaches container port %d; /metrics is served on %d", got, metrics)}
		}
		for _, np := range appPolicies(r, a) {
			for _, rule := range np.Spec.Ingress {
				for _, port := range rule.Ports {
					if port.Port == nil {
						continue
					}
					if got, ok := containerPort(&a.d.Spec.Template.Spec, *port.Port); ok && got == metrics {
						return nil
					}
				}
			}
		}
		return []string{fmt.Sprintf("no NetworkPolicy admits ingress to the metrics port %d", metrics)}
	})
}

func checkRedis(r *rendered, spec overlaySpec) []string {
	return withApp(r, func(a app) []string {
		set := map[string]bool{
			"url":      a.env["REDIS_URL"] != "",
			"sentinel": a.env["REDIS_SENTINEL_ADDRS"] != "" && a.env["REDIS_SENTINEL_MASTER"] != "",
			"cluster":  a.env["REDIS_CLUSTER_ADDRS"] != "",
		}
		var p []string
		for topo, on := range set {
			if on != (topo == spec.redis) {
				p = append(p, fmt.Sprintf("Redis topology %s set = %t; want only %s", topo, on, spec.redis))
			}
		}
		if spec.redis == "url" && set["url"] {
			p = append(p, inNamespaceRedis(r, a)...)
		}
		return p
	})
}

// inNamespaceRedis checks that a REDIS_URL naming a Service of the render reaches pods that
// serve that port and whose NetworkPolicies admit the rulehook pods.
func inNamespaceRedis(r *rendered, a app) []string {
	u, err := url.Parse(a.env["REDIS_URL"])
	if err != nil {
		return []string{"REDIS_URL does not parse"}
	}
	host := strings.TrimSuffix(strings.TrimSuffix(u.Hostname(), ".svc.cluster.local"), ".svc")
	name, _, _ := strings.Cut(host, ".")
	s := r.service(name)
	if s == nil {
		return nil // an external Redis: nothing in the render to check
	}
	port := int32(6379)
	if u.Port() != "" {
		port, _ = addrPort(u.Host)
	}
	i := slices.IndexFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == port })
	if i < 0 {
		return []string{fmt.Sprintf("REDIS_URL names Service %s port %d, which it does not expose", name, port)}
	}
	var p []string
	sel := labels.SelectorFromSet(s.Spec.Selector)
	for _, d := range selectedDeployments(r, func(l map[string]string) bool { return sel.Matches(labels.Set(l)) }) {
		target, _ := containerPort(&d.Spec.Template.Spec, s.Spec.Ports[i].TargetPort)
		for _, np := range all[*networkingv1.NetworkPolicy](r) {
			if !selects(&np.Spec.PodSelector, d.Spec.Template.Labels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				continue
			}
			if !admits(np, &d.Spec.Template.Spec, a.podLabels(), target) {
				p = append(p, fmt.Sprintf("NetworkPolicy %s keeps the %s pods from Redis port %d", np.Name, appName, target))
			}
		}
	}
	return p
}

// admits says whether np lets pods labelled from reach port on the pods of ps (same namespace).
func admits(np *networkingv1.NetworkPolicy, ps *corev1.PodSpec, from map[string]string, port int32) bool {
	for _, rule := range np.Spec.Ingress {
		peerOK := len(rule.From) == 0
		for _, peer := range rule.From {
			if peer.NamespaceSelector == nil && peer.IPBlock == nil && peer.PodSelector != nil && selects(peer.PodSelector, from) {
				peerOK = true
			}
		}
		portOK := len(rule.Ports) == 0
		for _, rp := range rule.Ports {
			if rp.Port == nil {
				portOK = true
				continue
			}
			if got, ok := containerPort(ps, *rp.Port); ok && got == port {
				portOK = true
			}
		}
		if peerOK && portOK {
			return true
		}
	}
	return false
}
