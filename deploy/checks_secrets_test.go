package deploy

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// secretLike says whether a variable name holds a secret by its name.
func secretLike(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"SECRET", "PASSWORD", "TOKEN", "PRIVATE", "CREDENTIAL"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redisURLWithPassword says whether v is a Redis URL that carries a password.
func redisURLWithPassword(v string) bool {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.User == nil {
		return false
	}
	_, has := u.User.Password()
	return has || u.User.Username() != ""
}

func checkSecrets(r *rendered, _ overlaySpec) []string {
	var p []string
	for _, s := range all[*corev1.Secret](r) {
		if len(s.Data) > 0 || len(s.StringData) > 0 {
			p = append(p, fmt.Sprintf("Secret %s carries data; secret values never go in the repo", s.Name))
		}
	}
	for _, cm := range all[*corev1.ConfigMap](r) {
		for k, v := range cm.Data {
			if secretLike(k) {
				p = append(p, fmt.Sprintf("ConfigMap %s holds %s, a secret; use a secretKeyRef", cm.Name, k))
			}
			if redisURLWithPassword(v) {
				p = append(p, fmt.Sprintf("ConfigMap %s key %s is a Redis URL with credentials; use a secretKeyRef", cm.Name, k))
			}
		}
		if len(cm.BinaryData) > 0 {
			p = append(p, fmt.Sprintf("ConfigMap %s has binaryData, which the checks cannot read", cm.Name))
		}
	}
	for _, pc := range allContainers(r) {
		for _, e := range pc.c.Env {
			fromSecret := e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
			if (secretLike(e.Name) || redisURLWithPassword(e.Value)) && !fromSecret {
				p = append(p, fmt.Sprintf("%s container %s: %s must come from a secretKeyRef", pc.owner, pc.c.Name, e.Name))
			}
			if fromSecret && e.ValueFrom.SecretKeyRef.Name != secretsSecretName {
				p = append(p, fmt.Sprintf("%s container %s: %s reads Secret %q; want %q, the one Secret the README creates", pc.owner, pc.c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name, secretsSecretName))
			}
		}
	}
	return append(p, withApp(r, func(a app) []string {
		var p []string
		for _, name := range []string{"CALLOUT_SECRET", "CALLOUT_SECRET_PREVIOUS", "AUTH0_CLIENT_SECRET"} {
			if !slices.ContainsFunc(a.c.Env, func(e corev1.EnvVar) bool {
				return e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
			}) {
				p = append(p, name+" is not read from a secretKeyRef")
			}
		}
		return p
	})...)
}
