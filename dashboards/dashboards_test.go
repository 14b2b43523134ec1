package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/klagx/klagx/metrics"
)

var update = flag.Bool("update", false, "rewrite dashboards/json from the generators")

func TestMain(m *testing.M) {
	// The SDK decodes panel options and targets through a registry of
	// panel and data-query variants; without it they stay untyped maps.
	plugins.RegisterDefaultPlugins()
	os.Exit(m.Run())
}

// all is All for tests.
func all(t *testing.T) []Dashboard {
	t.Helper()
	ds, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Fatalf("All() returned %d dashboards, want 4", len(ds))
	}
	return ds
}

// TestGenerated is the drift test: the committed JSON is what the
// generators produce. -update rewrites it.
func TestGenerated(t *testing.T) {
	dir := "json"
	ds := all(t)
	if *update {
		if err := Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, d := range ds {
		want = append(want, d.Name+".json")
		got, err := os.ReadFile(filepath.Join(dir, d.Name+".json"))
		if err != nil {
			t.Errorf("%v; run `make generate` (go test ./dashboards -run TestGenerated -update)", err)
			continue
		}
		if !bytes.Equal(got, d.JSON) {
			t.Errorf("dashboards/json/%s.json is out of date with the generator; run `make generate` (go test ./dashboards -run TestGenerated -update)", d.Name)
		}
		if !bytes.HasSuffix(d.JSON, []byte("}\n")) || bytes.HasSuffix(d.JSON, []byte("\n\n")) {
			t.Errorf("%s: JSON does not end with exactly one newline", d.Name)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, f := range files {
		have = append(have, filepath.Base(f))
	}
	sort.Strings(want)
	if !slices.Equal(have, want) {
		t.Errorf("dashboards/json holds %v, want exactly %v", have, want)
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range all(t) {
		got, err := os.ReadFile(filepath.Join(dir, d.Name+".json"))
		if err != nil || !bytes.Equal(got, d.JSON) {
			t.Errorf("%s: written file differs from All() (err %v)", d.Name, err)
		}
	}
}

// TestStrictDecoding decodes every dashboard into the SDK's own
// dashboard.Dashboard type, leniently and strictly, and checks that nothing
// is lost on the way back.
func TestStrictDecoding(t *testing.T) {
	for _, d := range all(t) {
		t.Run(d.Name, func(t *testing.T) {
			// The SDK's lenient decoding (custom UnmarshalJSON on panels,
			// annotations and unions).
			var lenient dashboard.Dashboard
			if err := json.Unmarshal(d.JSON, &lenient); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}

			// encoding/json with DisallowUnknownFields: meaningful only for
			// the types without a custom UnmarshalJSON (Dashboard itself,
			// templating, variables, time, links...). Panels
			// (PanelOrRowPanel, Panel), annotation queries and the union
			// types have their own UnmarshalJSON, which decodes with a plain
			// json.Unmarshal and so ignores unknown fields. The strict
			// decoding below covers them.
			dec := json.NewDecoder(bytes.NewReader(d.JSON))
			dec.DisallowUnknownFields()
			var top dashboard.Dashboard
			if err := dec.Decode(&top); err != nil {
				t.Fatalf("Decoder.DisallowUnknownFields: %v", err)
			}

			// The SDK's strict decoding: unknown fields, missing required
			// fields and wrong types fail, all the way down to panel
			// options and Prometheus targets.
			var strict dashboard.Dashboard
			if err := strict.UnmarshalJSONStrict(d.JSON); err != nil {
				t.Fatalf("UnmarshalJSONStrict: %v", err)
			}
			if err := strict.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if strict.Uid == nil || *strict.Uid != d.Name {
				t.Errorf("uid = %v, want %q", strict.Uid, d.Name)
			}

			// Targets decode as typed Prometheus queries (the variant
			// registry recognised them) and panels as typed options.
			for _, p := range strict.Panels {
				if p.Panel == nil {
					continue
				}
				for i, tg := range p.Panel.Targets {
					if _, ok := tg.(*prometheus.Dataquery); !ok {
						if _, ok := tg.(prometheus.Dataquery); !ok {
							t.Errorf("panel %q target %d decoded as %T, want prometheus.Dataquery", title(p.Panel.Title), i, tg)
						}
					}
				}
				if _, ok := p.Panel.Options.(map[string]any); ok || p.Panel.Options == nil {
					t.Errorf("panel %q (%s): options missing or decoded as an untyped map", title(p.Panel.Title), p.Panel.Type)
				}
			}

			// Round trip: what the SDK decoded strictly encodes back to the
			// same document, so no field was dropped or renamed. One SDK
			// quirk is undone first: the strict decoder leaves a row's
			// empty "panels": [] as a nil slice, which encodes as null.
			for _, p := range strict.Panels {
				if p.RowPanel != nil && p.RowPanel.Panels == nil {
					p.RowPanel.Panels = []dashboard.Panel{}
				}
			}
			again, err := json.MarshalIndent(strict, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(again, '\n'), d.JSON) {
				t.Errorf("strict decode/encode round trip changes the dashboard:\n%s", firstDiff(d.JSON, append(again, '\n')))
			}
		})
	}
}

func title(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  generated: %s\n  decoded:   %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// ---- a generic view of the JSON, independent of the SDK ----

type jsonDashboard struct {
	UID         string           `json:"uid"`
	Tags        []string         `json:"tags"`
	Panels      []map[string]any `json:"panels"`
	Annotations struct {
		List []map[string]any `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []map[string]any `json:"list"`
	} `json:"templating"`
}

func decode(t *testing.T, d Dashboard) jsonDashboard {
	t.Helper()
	var j jsonDashboard
	if err := json.Unmarshal(d.JSON, &j); err != nil {
		t.Fatalf("%s: %v", d.Name, err)
	}
	return j
}

// panels flattens the panel list (rows' nested panels included).
func (j jsonDashboard) panels() []map[string]any {
	var out []map[string]any
	for _, p := range j.Panels {
		out = append(out, p)
		nested, _ := p["panels"].([]any)
		for _, n := range nested {
			if m, ok := n.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// exprs returns every PromQL expression of a dashboard with where it is.
func (j jsonDashboard) exprs() map[string]string {
	out := map[string]string{}
	for _, p := range j.panels() {
		ts, _ := p["targets"].([]any)
		for _, tg := range ts {
			m, _ := tg.(map[string]any)
			out[fmt.Sprintf("panel %v %q target %s", p["id"], str(p, "title"), str(m, "refId"))] = str(m, "expr")
		}
	}
	for _, a := range j.Annotations.List {
		if e := str(a, "expr"); e != "" {
			out[fmt.Sprintf("annotation %q", str(a, "name"))] = e
		}
		if e := str(a, "target", "expr"); e != "" {
			out[fmt.Sprintf("annotation %q target", str(a, "name"))] = e
		}
	}
	return out
}

var (
	rateCall  = regexp.MustCompile(`\b(rate|irate|increase)\(`)
	rangeSel  = regexp.MustCompile(`\[([^\]]*)\]`)
	variable  = regexp.MustCompile(`\$\{?(\w+)\}?`)
	knownVars = map[string]bool{"__rate_interval": true, "cluster": true, "group": true, "topic": true}
)

// callArg returns the argument text of the call whose "(" is at open.
func callArg(s string, open int) (string, bool) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[open+1 : i], true
			}
		}
	}
	return "", false
}

func TestConventions(t *testing.T) {
	wantVars := map[string][]string{
		OverviewUID:    {"datasource", "cluster", "group"},
		GroupUID:       {"datasource", "cluster", "group", "topic"},
		RebalancesUID:  {"datasource", "cluster", "group"},
		ShareGroupsUID: {"datasource", "cluster", "group"},
	}
	for _, d := range all(t) {
		t.Run(d.Name, func(t *testing.T) {
			j := decode(t, d)
			if j.UID != d.Name || !slices.Contains([]string{OverviewUID, GroupUID, RebalancesUID, ShareGroupsUID}, j.UID) {
				t.Errorf("uid = %q, want the stable %q", j.UID, d.Name)
			}
			if !slices.Equal(j.Tags, []string{"klagx", "kafka"}) {
				t.Errorf("tags = %v", j.Tags)
			}

			// Variables.
			var names []string
			for _, v := range j.Templating.List {
				name := str(v, "name")
				names = append(names, name)
				switch {
				case name == "datasource":
					if str(v, "type") != "datasource" || str(v, "query") != "prometheus" {
						t.Errorf("variable datasource: type %q query %q, want a prometheus data source variable", str(v, "type"), str(v, "query"))
					}
				default:
					if str(v, "type") != "query" || !strings.HasPrefix(str(v, "query"), "label_values(") {
						t.Errorf("variable %s: type %q query %q, want a label_values query variable", name, str(v, "type"), str(v, "query"))
					}
					if str(v, "datasource", "uid") != "${datasource}" {
						t.Errorf("variable %s: datasource %v", name, v["datasource"])
					}
				}
			}
			if !slices.Equal(names, wantVars[d.Name]) {
				t.Errorf("variables = %v, want %v", names, wantVars[d.Name])
			}

			// Panels.
			ids := map[float64]string{}
			for _, p := range j.panels() {
				ptitle := str(p, "title")
				id, _ := p["id"].(float64)
				if id == 0 {
					t.Errorf("panel %q has no id", ptitle)
				} else if other, dup := ids[id]; dup {
					t.Errorf("panels %q and %q share id %v", other, ptitle, id)
				}
				ids[id] = ptitle
				if str(p, "datasource", "uid") != "${datasource}" || str(p, "datasource", "type") != "prometheus" {
					t.Errorf("panel %q: datasource %v, want {type: prometheus, uid: ${datasource}}", ptitle, p["datasource"])
				}
				if p["type"] == "row" {
					continue
				}
				if str(p, "fieldConfig", "defaults", "unit") == "" {
					t.Errorf("panel %q has no unit", ptitle)
				}
				if str(p, "description") == "" {
					t.Errorf("panel %q has no description", ptitle)
				}
				ts, _ := p["targets"].([]any)
				if len(ts) == 0 {
					t.Errorf("panel %q has no targets", ptitle)
				}
				refs := map[string]bool{}
				for i, tg := range ts {
					m, _ := tg.(map[string]any)
					ref := str(m, "refId")
					if ref == "" || refs[ref] {
						t.Errorf("panel %q target %d: refId %q missing or repeated", ptitle, i, ref)
					}
					refs[ref] = true
					if strings.TrimSpace(str(m, "expr")) == "" {
						t.Errorf("panel %q target %s has no expr", ptitle, ref)
					}
					if str(m, "datasource", "uid") != "${datasource}" {
						t.Errorf("panel %q target %s: datasource %v", ptitle, ref, m["datasource"])
					}
				}
			}
			for _, a := range j.Annotations.List {
				if str(a, "datasource", "uid") != "${datasource}" {
					t.Errorf("annotation %q: datasource %v", str(a, "name"), a["datasource"])
				}
				if a["target"] != nil && str(a, "target", "datasource", "uid") != "${datasource}" {
					t.Errorf("annotation %q target: datasource %v", str(a, "name"), a["target"])
				}
			}

			// Expressions.
			for where, e := range j.exprs() {
				for _, loc := range rateCall.FindAllStringIndex(e, -1) {
					arg, ok := callArg(e, loc[1]-1)
					if !ok || !strings.HasSuffix(arg, "[$__rate_interval]") {
						t.Errorf("%s: %s(...) does not use [$__rate_interval]: %s", where, e[loc[0]:loc[1]-1], e)
					}
				}
				for _, m := range rangeSel.FindAllStringSubmatch(e, -1) {
					if m[1] != "$__rate_interval" {
						t.Errorf("%s: range [%s] is not [$__rate_interval]: %s", where, m[1], e)
					}
				}
				for _, m := range variable.FindAllStringSubmatch(e, -1) {
					if !knownVars[m[1]] || (m[1] == "topic" && d.Name != GroupUID) {
						t.Errorf("%s: unknown variable $%s: %s", where, m[1], e)
					}
				}
			}
		})
	}
}

func TestQueries(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, d := range all(t) {
		want += len(decode(t, d).exprs())
	}
	// exprs counts an annotation twice (expr and target.expr).
	annotations := 0
	for _, q := range qs {
		if strings.HasPrefix(q.Panel, "annotation: ") {
			annotations++
		}
	}
	if len(qs) != want-annotations || len(qs) < 40 {
		t.Errorf("Queries() = %d queries, want %d", len(qs), want-annotations)
	}
	seen := map[string]bool{}
	for _, q := range qs {
		if q.Dashboard == "" || q.Panel == "" || q.RefID == "" || q.Expr == "" {
			t.Errorf("incomplete query %+v", q)
		}
		key := q.Dashboard + "/" + q.Panel + "/" + q.RefID
		if seen[key] {
			t.Errorf("query %s appears twice: panel titles must be unique within a dashboard", key)
		}
		seen[key] = true
	}
}

func TestSubstitute(t *testing.T) {
	got := Substitute(`rate(x{a="$cluster", b="${group}"}[$__rate_interval]) $__range $clusters`,
		map[string]string{"__rate_interval": "5m", "__rate": "X", "cluster": "c", "group": "g", "clusters": "cs"})
	want := `rate(x{a="c", b="g"}[5m]) $__range cs`
	if got != want {
		t.Errorf("Substitute = %q, want %q", got, want)
	}
}

// notOnDashboards lists the contract families that must be shown (group
// scoped or cluster level) but deliberately are not, with the reason.
var notOnDashboards = map[string]string{
	"klagx_shard_ordinal": "deployment metadata: the KlagxShardMismatch alert watches it",
	"klagx_total_shards":  "deployment metadata: the KlagxShardMismatch alert watches it",
}

func TestMetricsLint(t *testing.T) {
	used := map[string]bool{}
	for _, d := range all(t) {
		j := decode(t, d)
		texts := j.exprs()
		for _, v := range j.Templating.List {
			if v["type"] == "query" {
				texts["variable "+str(v, "name")] = str(v, "query")
			}
		}
		for where, e := range texts {
			for _, name := range metricName.FindAllString(e, -1) {
				f, ok := family(name)
				if !ok {
					t.Errorf("%s: %s: %s is not a family of the metric contract (metrics.Families)", d.Name, where, name)
					continue
				}
				used[f.Name] = true
			}
		}
	}
	for _, f := range metrics.Families {
		if !f.GroupScoped && f.Level != metrics.LevelCluster {
			continue
		}
		reason, excepted := notOnDashboards[f.Name]
		switch {
		case excepted && used[f.Name]:
			t.Errorf("%s is listed in notOnDashboards (%s) but is used; remove the exception", f.Name, reason)
		case !excepted && !used[f.Name]:
			t.Errorf("%s is on no dashboard; add it to one, or to notOnDashboards with a reason", f.Name)
		}
	}
	for name := range notOnDashboards {
		if _, ok := metrics.Lookup(name); !ok {
			t.Errorf("notOnDashboards lists %s, which is not in the contract", name)
		}
	}
}

// lintVars are the values the PromQL syntax check substitutes for Grafana's
// variables.
var lintVars = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"cluster":         "c",
	"group":           "g",
	"topic":           "t",
}

// TestPromQLSyntax writes every expression as a recording rule and has
// promtool check the file.
func TestPromQLSyntax(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/promtool"); statErr == nil {
			promtool, err = "/usr/bin/promtool", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not found (Debian package prometheus): %v", err)
		}
		t.Skipf("promtool not found (Debian package prometheus): %v", err)
	}

	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	var where []string
	for _, d := range all(t) {
		exprs := decode(t, d).exprs()
		keys := make([]string, 0, len(exprs))
		for k := range exprs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := Substitute(exprs[k], lintVars)
			if strings.Contains(e, "$") {
				t.Errorf("%s %s: variable left after substitution: %s", d.Name, k, e)
			}
			rules = append(rules, rule{Record: fmt.Sprintf("klagx:lint:%d", len(rules)), Expr: e})
			where = append(where, d.Name+" "+k)
		}
	}
	file := map[string]any{"groups": []map[string]any{{"name": "lint", "rules": rules}}}
	b, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
		// Map the rule numbers promtool reports back to panels.
		for _, m := range regexp.MustCompile(`klagx:lint:(\d+)`).FindAllSubmatch(out, -1) {
			var i int
			if _, err := fmt.Sscan(string(m[1]), &i); err == nil && i < len(rules) {
				t.Errorf("klagx:lint:%d is %s: %s", i, where[i], rules[i].Expr)
			}
		}
		return
	}
	if !bytes.Contains(out, []byte(fmt.Sprintf("SUCCESS: %d rules found", len(rules)))) {
		t.Errorf("promtool check rules: unexpected output (want %d rules):\n%s", len(rules), out)
	}
}

// TestOptInPanelsSaySo: a panel whose queries need an opt-in family names
// it in its description (the note is generated from the contract), and
// the variables every dashboard is driven by work at the defaults.
func TestOptInPanelsSaySo(t *testing.T) {
	for _, d := range all(t) {
		j := decode(t, d)
		for _, p := range j.panels() {
			desc := str(p, "description")
			targets, _ := p["targets"].([]any)
			for _, tg := range targets {
				expr := str(tg.(map[string]any), "expr")
				for _, name := range OptIn(expr) {
					if !strings.Contains(desc, "Needs the opt-in") || !strings.Contains(desc, name) {
						t.Errorf("%s / %s: needs opt-in %s but its description does not say so: %q", d.Name, str(p, "title"), name, desc)
					}
				}
			}
		}
		for _, v := range j.Templating.List {
			if need := OptIn(str(v, "query")); len(need) > 0 {
				t.Errorf("%s: variable %s needs opt-in %v: it must work at the defaults", d.Name, str(v, "name"), need)
			}
		}
	}
	if got := OptIn(`sum by (topic) (klagx_group_partition_lag{}) or sum by (topic) (klagx_group_topic_lag{})`); len(got) != 0 {
		t.Errorf("the topic fallback is reported as needing %v", got)
	}
	if got := OptIn(`rate(klagx_group_commit_latency_seconds_bucket[5m])`); len(got) != 1 {
		t.Errorf("a histogram's buckets: OptIn = %v", got)
	}
}

// TestCurrentStatusIsInstant: the group dashboard's Status stat asks for
// the status at the end of the range only. Over a range, a group that
// recovered has had two statuses, each a series of its own, and the stat
// showed both.
func TestCurrentStatusIsInstant(t *testing.T) {
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Instant bool `json:"instant"`
				Range   bool `json:"range"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(filepath.Join("json", GroupUID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range d.Panels {
		if p.Title != "Status" || p.Type != "stat" {
			continue
		}
		found = true
		if len(p.Targets) != 1 || !p.Targets[0].Instant || p.Targets[0].Range {
			t.Errorf("Status stat targets = %+v, want one instant query", p.Targets)
		}
	}
	if !found {
		t.Fatal("no Status stat panel on the group dashboard")
	}
}

// TestNoControlsMenuPlacement: links and annotation toggles stay above the
// panels; Grafana before 12.4 does not render links placed in the controls
// menu, which is where the SDK puts them by default.
func TestNoControlsMenuPlacement(t *testing.T) {
	for _, d := range all(t) {
		if bytes.Contains(d.JSON, []byte(`"placement": "inControlsMenu"`)) {
			t.Errorf("%s places something in the controls menu", d.Name)
		}
	}
}
