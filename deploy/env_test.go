package deploy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The contract's fixed paths (CONTRACT.md, HTTP). Package webhook exports no route list, so these
// constants are the static source of truth; TestProbePathsAreServed then asks the real binary
// (`rulehook dev`) that each path the manifests use answers.
const (
	livenessPath  = "/healthz"
	readinessPath = "/readyz"
	metricsPath   = "/metrics"
)

// Defaults of `rulehook serve` for the variables the checks read (CONTRACT.md; SHUTDOWN_TIMEOUT
// is cmd/rulehook's own).
const (
	defaultListenAddr      = ":8080"
	defaultShutdownTimeout = 15 * time.Second
)

// secretsSecretName is the Secret the operator creates; the repo never holds it.
const secretsSecretName = "rulehook-secrets"

// placeholder is what a secretKeyRef resolves to when the tests need the environment a pod would
// get: long enough for every length rule (CALLOUT_SECRET needs 32 bytes).
func placeholder(key string) string {
	return "placeholder-" + strings.ToLower(key) + "-" + strings.Repeat("x", 40)
}

// podEnv resolves the environment container c would get from the rendered objects: ConfigMaps by
// name, required secretKeyRefs as placeholders (optional ones left out, as when the operator has
// not created them), resource fields from the container's own resources. Problems name what a pod
// could not resolve.
func podEnv(r *rendered, c *corev1.Container) (map[string]string, []string) {
	env := map[string]string{}
	var problems []string
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := r.configMap(from.ConfigMapRef.Name)
			if cm == nil {
				if from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional {
					problems = append(problems, fmt.Sprintf("container %s: envFrom ConfigMap %q is not in the render", c.Name, from.ConfigMapRef.Name))
				}
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			problems = append(problems, fmt.Sprintf("container %s: envFrom Secret %q hides which variables are secret; use one secretKeyRef per variable", c.Name, from.SecretRef.Name))
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			if strings.Contains(e.Value, "$(") {
				problems = append(problems, fmt.Sprintf("container %s: %s uses $(VAR) expansion, which the tests do not resolve", c.Name, e.Name))
			}
			env[e.Name] = e.Value
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.SecretKeyRef != nil:
			if optional(vf.SecretKeyRef.Optional) {
				delete(env, e.Name)
				continue
			}
			env[e.Name] = placeholder(vf.SecretKeyRef.Key)
		case vf.ConfigMapKeyRef != nil:
			cm := r.configMap(vf.ConfigMapKeyRef.Name)
			v, ok := "", false
			if cm != nil {
				v, ok = cm.Data[vf.ConfigMapKeyRef.Key]
			}
			if !ok {
				if !optional(vf.ConfigMapKeyRef.Optional) {
					problems = append(problems, fmt.Sprintf("container %s: %s: key %q of ConfigMap %q is not in the render", c.Name, e.Name, vf.ConfigMapKeyRef.Key, vf.ConfigMapKeyRef.Name))
				}
				continue
			}
			env[e.Name] = v
		case vf.ResourceFieldRef != nil:
			q, ok := resourceValue(c, vf.ResourceFieldRef.Resource)
			if !ok {
				problems = append(problems, fmt.Sprintf("container %s: %s reads %s, which the container does not set", c.Name, e.Name, vf.ResourceFieldRef.Resource))
				continue
			}
			env[e.Name] = q
		case vf.FieldRef != nil:
			env[e.Name] = "placeholder-" + vf.FieldRef.FieldPath
		default:
			problems = append(problems, fmt.Sprintf("container %s: %s has a valueFrom the tests do not know", c.Name, e.Name))
		}
	}
	return env, problems
}

func optional(b *bool) bool { return b != nil && *b }

// resourceValue is what the kubelet puts into a resourceFieldRef variable (divisor 1).
func resourceValue(c *corev1.Container, resource string) (string, bool) {
	kind, name, ok := strings.Cut(resource, ".")
	if !ok {
		return "", false
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", false
	}
	if name == "cpu" {
		return strconv.FormatInt(q.ScaledValue(0), 10), true
	}
	return strconv.FormatInt(q.Value(), 10), true
}

// envList turns env into the KEY=value list exec wants.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// addrPort is the port of a LISTEN_ADDR-style address (":8080", "0.0.0.0:8080").
func addrPort(addr string) (int32, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("address %q has no usable port", addr)
	}
	return int32(n), nil
}

// hostPorts parses a comma-separated host:port list (REDIS_SENTINEL_ADDRS, REDIS_CLUSTER_ADDRS).
func hostPorts(list string) ([]int32, error) {
	var ports []int32
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		p, err := addrPort(a)
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}
