package deploy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// monitoringOverlay copies the manifests to a temporary directory and enables the monitoring
// component in the production overlay there, as the README tells an operator to, and returns
// that overlay's directory.
func monitoringOverlay(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"base", "overlays", "monitoring"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
	}
	prod := filepath.Join(root, "overlays", "production")
	k, err := os.ReadFile(filepath.Join(prod, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k = append(k, "\ncomponents:\n  - ../../monitoring\n"...)
	if err := os.WriteFile(filepath.Join(prod, "kustomization.yaml"), k, 0o644); err != nil {
		t.Fatal(err)
	}
	return prod
}

// TestMonitoringComponent renders production with the component: every object decodes strictly
// (the ServiceMonitor and PrometheusRule into the operator's types), every check of the overlay
// still holds, and the ServiceMonitor scrapes the Service's metrics port on the served path.
func TestMonitoringComponent(t *testing.T) {
	r, err := renderDir(monitoringOverlay(t))
	if err != nil {
		t.Fatal(err)
	}
	without := renderCached(t, overlayDir("production"))
	if got, want := len(r.objects), len(without.objects)+3; got != want {
		t.Errorf("production with monitoring renders %d objects; want %d (ServiceMonitor, PrometheusRule, dashboard ConfigMap more)", got, want)
	}
	for _, p := range runChecks(r, overlays[1]) {
		t.Error(p)
	}
	monitors, rules := all[*monitoringv1.ServiceMonitor](r), all[*monitoringv1.PrometheusRule](r)
	if len(monitors) != 1 || len(rules) != 1 {
		t.Fatalf("ServiceMonitors %d, PrometheusRules %d; want 1 each", len(monitors), len(rules))
	}
	sm, svc := monitors[0], r.service(appName)
	if !selects(&sm.Spec.Selector, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select Service %s (labels %v)", sm.Spec.Selector.MatchLabels, svc.Name, svc.Labels)
	}
	for _, ep := range sm.Spec.Endpoints {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
			t.Errorf("ServiceMonitor endpoint port %q is not a port of Service %s", ep.Port, svc.Name)
		}
		if ep.Path != metricsPath {
			t.Errorf("ServiceMonitor endpoint path %q; rulehook serves %s", ep.Path, metricsPath)
		}
	}
	dash := r.configMap("rulehook-grafana-dashboard")
	if dash == nil || dash.Labels["grafana_dashboard"] != "1" || dash.Data["rulehook.json"] == "" {
		t.Errorf("no ConfigMap rulehook-grafana-dashboard labelled grafana_dashboard=1 holding rulehook.json")
	}
}

// TestAlertRules parses the PrometheusRule's groups as `promtool check rules` does (rulefmt,
// unknown fields refused, every expression and template parsed), and checks what the runbook
// needs of each alert.
func TestAlertRules(t *testing.T) {
	pr := readRule(t)
	groups, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	rgs, errs := rulefmt.Parse(groups, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if rgs == nil {
		t.FailNow()
	}
	var alerts []string
	for _, g := range rgs.Groups {
		for _, rule := range g.Rules {
			alerts = append(alerts, rule.Alert)
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if rule.Annotations[k] == "" {
					t.Errorf("alert %s has no %s annotation", rule.Alert, k)
				}
			}
			if want := "README.md#" + strings.ToLower(rule.Alert); !strings.HasSuffix(rule.Annotations["runbook_url"], want) {
				t.Errorf("alert %s runbook_url = %q; want it to end in %q", rule.Alert, rule.Annotations["runbook_url"], want)
			}
			if s := rule.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s severity = %q; want warning or critical", rule.Alert, s)
			}
		}
	}
	checkRunbook(t, alerts)
}

func readRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeStrict(b)
	if err != nil {
		t.Fatal(err)
	}
	return o.obj.(*monitoringv1.PrometheusRule)
}

// checkRunbook expects a README section per alert (#### Name) that says what it means, what to
// check and what to do.
func checkRunbook(t *testing.T, alerts []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, a := range alerts {
		_, section, ok := strings.Cut(readme, "\n#### "+a+"\n")
		if !ok {
			t.Errorf("README has no runbook heading #### %s", a)
			continue
		}
		section, _, _ = strings.Cut(section, "\n#")
		for _, part := range []string{"**Means:**", "**Check:**", "**Do:**"} {
			if !strings.Contains(section, part) {
				t.Errorf("README runbook of %s lacks %s", a, part)
			}
		}
	}
}

// TestMonitoringNamesOnlyRealMetrics parses every alert expression and every dashboard query and
// expects each metric it selects among the families a running rulehook exposes (a histogram's
// _bucket, _sum and _count included): a renamed metric fails here, not silently in Grafana.
func TestMonitoringNamesOnlyRealMetrics(t *testing.T) {
	exposed := liveMetricNames(t)
	p := parser.NewParser(parser.Options{})
	queries := map[string]string{}
	for _, g := range readRule(t).Spec.Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = r.Expr.String()
		}
	}
	for title, q := range dashboardQueries(t) {
		queries["panel "+title] = grafanaVars.Replace(q)
	}
	for where, q := range queries {
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && !exposed[vs.Name] {
				t.Errorf("%s selects %q, which rulehook does not expose", where, vs.Name)
			}
			return nil
		})
	}
	if len(queries) < 20 {
		t.Errorf("checked %d queries; the rules and the dashboard hold more", len(queries))
	}
}

// grafanaVars stands in for the dashboard's variables, so that its queries parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$namespace", "rulehook")

// liveMetricNames starts `rulehook dev`, makes a request of each kind the families count, and
// returns the series names its /metrics has.
func liveMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	dev := startDev(t, rulehookBinary(t))
	for _, p := range []string{livenessPath, "/playlists/getPlays", metricsPath} {
		if _, _, err := get(dev.base + p); err != nil {
			t.Fatal(err)
		}
	}
	_, body, err := get(dev.base + metricsPath)
	if err != nil {
		t.Fatal(err)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		}
	}
	for _, want := range []string{"rulehook_logins_total", "rulehook_mgmt_api_calls_total", "rulehook_queue_depth", "go_goroutines", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Fatalf("/metrics of rulehook dev lacks %s; families: %v", want, sortedKeys(names))
		}
	}
	return names
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dashboardPanel is the part of a Grafana panel the tests read; rows nest panels.
type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct{ Expr string }
	Panels  []dashboardPanel `json:"panels"`
}

// dashboardQueries parses dashboard.json and returns every panel's queries by panel title.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("monitoring", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []dashboardPanel `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard.json has uid %q, title %q; want both", d.UID, d.Title)
	}
	out, ids := map[string]string{}, map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] || p.Title == "" {
				t.Errorf("dashboard panel %d %q: ids must be unique and titles set", p.ID, p.Title)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("dashboard panel %q has no query", p.Title)
			}
			for i, tg := range p.Targets {
				out[p.Title+" #"+string(rune('A'+i))] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// TestMonitoringCatchesUnknownMetrics: the name check above fails on a metric rulehook lacks.
func TestMonitoringCatchesUnknownMetrics(t *testing.T) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(`rate(rulehook_mgmt_api_rate_limited_total[5m]) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	if !slices.Equal(names, []string{"rulehook_mgmt_api_rate_limited_total"}) {
		t.Errorf("selectors of the expression = %q; want the one metric it names", names)
	}
	var bad struct {
		Spec monitoringv1.PrometheusRuleSpec
	}
	if err := yaml.UnmarshalStrict([]byte("spec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up\n          forr: 5m\n"), &bad); err == nil {
		t.Error("a misspelt rule field decoded; want an error")
	}
}

// TestKubectlKustomizeWithMonitoring: the acceptance command renders production with the
// component enabled too, to the same objects as the library.
func TestKubectlKustomizeWithMonitoring(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; TestMonitoringComponent renders with the kustomize library")
	}
	dir := monitoringOverlay(t)
	got := kubectlIDs(t, kubectl, dir)
	r, err := renderDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.ids(); !slices.Equal(got, want) {
		t.Errorf("kubectl kustomize objects = %q; want %q", got, want)
	}
}
