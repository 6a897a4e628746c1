package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kinds maps "apiVersion/kind" to the typed struct an object of that kind decodes into. A kind
// missing here fails the render: add it, and teach the checks about it, rather than let an object
// escape strict decoding.
var kinds = map[string]func() metav1.Object{
	"v1/Namespace":                           func() metav1.Object { return new(corev1.Namespace) },
	"v1/ServiceAccount":                      func() metav1.Object { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                           func() metav1.Object { return new(corev1.ConfigMap) },
	"v1/Secret":                              func() metav1.Object { return new(corev1.Secret) },
	"v1/Service":                             func() metav1.Object { return new(corev1.Service) },
	"apps/v1/Deployment":                     func() metav1.Object { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":          func() metav1.Object { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2/HorizontalPodAutoscaler": func() metav1.Object { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"networking.k8s.io/v1/NetworkPolicy":     func() metav1.Object { return new(networkingv1.NetworkPolicy) },
	// deploy/monitoring, in the Prometheus Operator's own types
	"monitoring.coreos.com/v1/ServiceMonitor": func() metav1.Object { return new(monitoringv1.ServiceMonitor) },
	"monitoring.coreos.com/v1/PrometheusRule": func() metav1.Object { return new(monitoringv1.PrometheusRule) },
}

// object is one rendered manifest, decoded.
type object struct {
	kind string // "apiVersion/kind"
	obj  metav1.Object
}

func (o object) String() string {
	if ns := o.obj.GetNamespace(); ns != "" {
		return o.kind + " " + ns + "/" + o.obj.GetName()
	}
	return o.kind + " " + o.obj.GetName()
}

// rendered is the output of one kustomization, decoded into typed objects (see all).
type rendered struct {
	dir     string
	objects []object
}

// renderDir runs kustomize (the library kubectl embeds) on dir and strictly decodes every object.
func renderDir(dir string) (*rendered, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	r := &rendered{dir: dir}
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, res.CurId(), err)
		}
		o, err := decodeStrict(y)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, res.CurId(), err)
		}
		r.add(o)
	}
	return r, nil
}

// kubectlIDs renders dir with kubectl's own kustomize (`kubectl kustomize dir`), strictly decodes
// every object it prints, and lists them as rendered.ids does, for a comparison with renderDir.
func kubectlIDs(t *testing.T, kubectl, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	var ids []string
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		o, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", dir, err)
		}
		ids = append(ids, o.String())
	}
	sort.Strings(ids)
	return ids
}

// decodeStrict decodes one YAML manifest into its typed struct the way the API server's strict
// field validation does: an unknown field, a field in the wrong case and a duplicated field are
// all errors.
func decodeStrict(y []byte) (object, error) {
	j, err := yaml.YAMLToJSONStrict(y) // a duplicated key is an error, not "last one wins"
	if err != nil {
		return object{}, err
	}
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return object{}, err
	}
	kind := tm.APIVersion + "/" + tm.Kind
	newObj, ok := kinds[kind]
	if !ok {
		return object{}, fmt.Errorf("kind %s is not in the test's kind table; add it to kinds and to the checks", kind)
	}
	obj := newObj()
	strictErrs, err := sigsjson.UnmarshalStrict(j, obj)
	if err != nil {
		return object{}, fmt.Errorf("decode %s: %w", kind, err)
	}
	if len(strictErrs) > 0 {
		var b bytes.Buffer
		for i, e := range strictErrs {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(e.Error())
		}
		return object{}, fmt.Errorf("decode %s %q strictly: %s", kind, obj.GetName(), b.String())
	}
	return object{kind: kind, obj: obj}, nil
}

func (r *rendered) add(o object) { r.objects = append(r.objects, o) }

// all returns the rendered objects of type T, one of the kinds' structs (*appsv1.Deployment, ...),
// in the order kustomize emitted them.
func all[T metav1.Object](r *rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// ids lists every object as "apiVersion/kind namespace/name", sorted.
func (r *rendered) ids() []string {
	out := make([]string, 0, len(r.objects))
	for _, o := range r.objects {
		out = append(out, o.String())
	}
	sort.Strings(out)
	return out
}

func (r *rendered) deployment(name string) *appsv1.Deployment {
	return named(all[*appsv1.Deployment](r), name)
}
func (r *rendered) service(name string) *corev1.Service { return named(all[*corev1.Service](r), name) }
func (r *rendered) configMap(name string) *corev1.ConfigMap {
	return named(all[*corev1.ConfigMap](r), name)
}
func (r *rendered) serviceAccount(name string) *corev1.ServiceAccount {
	return named(all[*corev1.ServiceAccount](r), name)
}

// named returns the object called name, or nil.
func named[T interface{ GetName() string }](objs []T, name string) T {
	for _, o := range objs {
		if o.GetName() == name {
			return o
		}
	}
	var none T
	return none
}

// renders caches one render per directory: the manifests do not change during a run, and the
// checks only read. Tests that mutate call renderDir themselves.
var renders sync.Map // dir → *renderResult

type renderResult struct {
	once sync.Once
	r    *rendered
	err  error
}

func renderCached(t testing.TB, dir string) *rendered {
	t.Helper()
	v, _ := renders.LoadOrStore(dir, new(renderResult))
	res := v.(*renderResult)
	res.once.Do(func() { res.r, res.err = renderDir(dir) })
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.r
}

func overlayDir(name string) string { return filepath.Join("overlays", name) }

func TestBaseRendersStrictly(t *testing.T) {
	r := renderCached(t, "base")
	if got := len(r.objects); got == 0 {
		t.Fatalf("base rendered %d objects; want some", got)
	}
}

func TestDecodeStrictRejectsMistakes(t *testing.T) {
	const good = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ok
automountServiceAccountToken: false
`
	if _, err := decodeStrict([]byte(good)); err != nil {
		t.Fatalf("decodeStrict(valid ServiceAccount) = %v; want nil", err)
	}
	tests := []struct {
		name, yaml string
	}{
		{"misspelt field", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nautomountServiceAccountTokn: false\n"},
		{"field in the wrong case", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nAutomountServiceAccountToken: false\n"},
		{"misspelt nested field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          readinesProbe: {}\n"},
		{"duplicate field", "{\"apiVersion\": \"v1\", \"kind\": \"ServiceAccount\", \"metadata\": {\"name\": \"x\", \"name\": \"y\"}}"},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: eighty\n"},
		{"kind the tests do not know", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\n"},
	}
	for _, tt := range tests {
		if _, err := decodeStrict([]byte(tt.yaml)); err == nil {
			t.Errorf("decodeStrict(%s) = nil; want an error", tt.name)
		}
	}
}
