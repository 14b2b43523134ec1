package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const fuzzPath = "fuzz.yaml"

// fieldLineRE is what every line of a Validate error starts with: the name
// of the field at fault (poll_interval, clusters[2].sasl.username,
// thresholds[0].warn_lag_seconds, ...).
var fieldLineRE = regexp.MustCompile(`^[a-z_]+(\[\d+\])?(\.[a-z_]+)*[: ]`)

// FuzzParseFile feeds arbitrary bytes to the config file parser. It must
// never panic; an error must start with the file name and say something;
// a parsed file must be deterministic, answer Lookup for every key, give a
// Config whose Validate is idempotent and whose every error line names a
// field, and its clusters: and thresholds: lists must round-trip through
// YAML unchanged.
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"~\n",
		"---\n---\n",
		"[]",
		"clusters: [{name: a, brokers: a:1}, {name: a, brokers: [b:1, ~]}]\n",
		"clusters:\n  - &c {name: x, brokers: [x:1], tls: &t {enabled: true}}\n  - *c\n  - {name: y, brokers: y:1, tls: *t}\n",
		"a: &a [*a]\n",
		"<<: {poll_interval: 1s}\n",
		"? [poll_interval]\n: 1s\n",
		"poll_interval: !!binary MTVz\n",
		"cluster_name: 2001-01-01\nbrokers: [1, 2.5, true, 0x10]\n",
		"granularity: .nan\nshard: 1\ntotal_shards: 1\n",
		"shard: 99999999999999999999\n",
		"time_lag: {mode: exact, fetch_budget: -1}\n",
		"thresholds:\n  - group: '\\Qa.b'\n    stall_after: -2562047h47m16.854775808s\n    warn_lag: -9223372036854775808\n",
		"thresholds: [{group: ''}, {}, ~]\n",
		"clusters: [{sasl: {password: hunter2}}]\n",
		"kafka: {sasl: {mechanism: plain, pass: hunter2}}\n",
		"web: {listen_address: ':9308', config: {file: /w}}\notlp: {endpoint: 'http://x:4318', header: ['a=b'], interval: 1s}\n",
		"clusters:\n  - name: \"\\xff\\u2028\"\n    brokers: [\"\\U0010FFFF:1\"]\n",
		strings.Repeat("[", 200) + strings.Repeat("]", 200),
		"\xef\xbb\xbfpoll_interval: 1s\n",
		"\t- x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(fuzzPath, data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, fuzzPath+":") || len(msg) < len(fuzzPath)+4 {
				t.Fatalf("error does not name the file or says nothing: %q", msg)
			}
			if file != nil {
				t.Fatalf("error %q with a non-nil file", msg)
			}
			// Deterministic.
			if _, err2 := ParseFile(fuzzPath, data); err2 == nil || err2.Error() != msg {
				t.Fatalf("second parse: %v, first: %v", err2, err)
			}
			return
		}
		if file.Path != fuzzPath {
			t.Fatalf("path = %q", file.Path)
		}
		again, err := ParseFile(fuzzPath, data)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		if !reflect.DeepEqual(file.Clusters, again.Clusters) || !reflect.DeepEqual(file.Thresholds, again.Thresholds) ||
			fmt.Sprint(file.values) != fmt.Sprint(again.values) {
			t.Fatalf("two parses differ")
		}

		for _, key := range FileKeys() {
			v, ok := file.Lookup(key)
			if !ok {
				continue
			}
			if v == nil {
				t.Fatalf("Lookup(%q) = nil, true", key)
			}
			if _, isMap := v.(map[string]any); isMap {
				t.Fatalf("Lookup(%q) returned a mapping", key)
			}
		}
		for _, key := range []string{"clusters", "thresholds", "clusters.name", "thresholds.group"} {
			if _, ok := file.Lookup(key); ok {
				t.Fatalf("Lookup(%q) answered for a list key", key)
			}
		}

		// Validate changes nothing and answers the same twice, and
		// every problem names its field.
		cfg := *Default()
		cfg.Clusters, cfg.Thresholds.Overrides = slices.Clone(file.Clusters), slices.Clone(file.Thresholds)
		err1 := cfg.Validate()
		snap := describeConfig(cfg)
		err2 := cfg.Validate()
		if fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("Validate twice:\n%v\n%v", err1, err2)
		}
		if describeConfig(cfg) != snap {
			t.Fatalf("second Validate changed the config:\n%s\n%s", snap, describeConfig(cfg))
		}
		if err1 != nil {
			for _, line := range strings.Split(err1.Error(), "\n") {
				if !fieldLineRE.MatchString(line) {
					t.Fatalf("error line does not name a field: %q", line)
				}
			}
		}

		// The lists round-trip through YAML.
		out := encodeLists(t, file)
		back, err := ParseFile("roundtrip.yaml", out)
		if err != nil {
			t.Fatalf("re-parsing the encoded lists: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normClusters(file.Clusters), normClusters(back.Clusters)) {
			t.Fatalf("clusters changed in a round trip:\n%+v\n%+v\n%s", file.Clusters, back.Clusters, out)
		}
		if !reflect.DeepEqual(file.Thresholds, back.Thresholds) {
			t.Fatalf("thresholds changed in a round trip:\n%s\n%s", describeOverrides(file.Thresholds), describeOverrides(back.Thresholds))
		}
	})
}

// encodeLists writes the clusters: and thresholds: lists of f as YAML, every
// field spelled out.
func encodeLists(t *testing.T, f *File) []byte {
	t.Helper()
	doc := map[string]any{}
	if f.Clusters != nil {
		var cs []any
		for _, c := range f.Clusters {
			brokers := c.Brokers
			if brokers == nil {
				brokers = []string{}
			}
			cs = append(cs, map[string]any{
				"name": c.Name, "brokers": brokers, "isolation": string(c.Isolation),
				"tls": map[string]any{
					"enabled": c.TLS.Enabled, "ca_file": c.TLS.CAFile, "cert_file": c.TLS.CertFile, "key_file": c.TLS.KeyFile,
					"server_name": c.TLS.ServerName, "insecure_skip_verify": c.TLS.InsecureSkipVerify,
				},
				"sasl": map[string]any{
					"mechanism": c.SASL.Mechanism, "username": c.SASL.Username, "password_file": c.SASL.PasswordFile,
					"password_env": c.SASL.PasswordEnv, "token_file": c.SASL.TokenFile,
				},
			})
		}
		doc["clusters"] = cs
	}
	if f.Thresholds != nil {
		var ts []any
		for _, o := range f.Thresholds {
			m := map[string]any{"group": o.Source}
			for k, d := range map[string]*time.Duration{
				"warn_lag_seconds": o.WarnLagSeconds, "crit_lag_seconds": o.CritLagSeconds,
				"stall_after": o.StallAfter, "growth_window": o.GrowthWindow,
			} {
				if d != nil {
					m[k] = d.String()
				}
			}
			if o.WarnLag != nil {
				m["warn_lag"] = *o.WarnLag
			}
			if o.CritLag != nil {
				m["crit_lag"] = *o.CritLag
			}
			ts = append(ts, m)
		}
		doc["thresholds"] = ts
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// normClusters makes an empty brokers list and a missing one compare equal.
func normClusters(cs []Cluster) []Cluster {
	out := slices.Clone(cs)
	for i := range out {
		if len(out[i].Brokers) == 0 {
			out[i].Brokers = nil
		}
	}
	return out
}

func describeOverrides(ovs []ThresholdOverride) string {
	var b strings.Builder
	for _, o := range ovs {
		fmt.Fprintf(&b, "{%q", o.Source)
		if o.Group != nil {
			fmt.Fprintf(&b, " re=%q", o.Group.String())
		}
		for _, d := range []*time.Duration{o.WarnLagSeconds, o.CritLagSeconds, o.StallAfter, o.GrowthWindow} {
			if d != nil {
				fmt.Fprintf(&b, " %d", *d)
			} else {
				b.WriteString(" -")
			}
		}
		for _, n := range []*int64{o.WarnLag, o.CritLag} {
			if n != nil {
				fmt.Fprintf(&b, " %d", *n)
			} else {
				b.WriteString(" -")
			}
		}
		b.WriteString("}")
	}
	return b.String()
}

// describeConfig renders c without pointers or compiled regexes, so that
// two configs can be compared.
func describeConfig(c Config) string {
	return fmt.Sprintf("%+v|%v|%d/%d|%v|%s|%v|%+v|%+v|%s", c.Clusters, c.PollInterval, c.Shard, c.TotalShards, c.GroupPollInterval,
		c.Granularity, c.IncludeInternalTopics, c.TimeLag, c.Thresholds.Default, describeOverrides(c.Thresholds.Overrides))
}

// FuzzNewFilter builds group filters from fuzzed include and exclude regex
// lists (newline-separated) and checks them against a name. It must never
// panic; an invalid regex must be reported as `group.include: invalid regex
// "<the first bad one>": ...` (or group.exclude); a valid filter must be
// deterministic, let exclude win, keep exactly what the regexes fully match
// (compared with an unanchored leftmost-longest search as the oracle), and
// anchor: a quoted name keeps only that name.
func FuzzNewFilter(f *testing.F) {
	for _, s := range [][3]string{
		{"orders-.*", ".*-test", "orders-prod"},
		{"orders-.*", ".*-test", "orders-test"},
		{"", "", ""},
		{"a(", "", "a("},
		{"ok", "[z-a]", "ok"},
		{"x{1,3}\nbilling", "", "xxx"},
		{`\Qorders.v1`, "", "orders.v1"},
		{`\Qa)|(?:b`, "", "a)|(?:b"},
		{"a|ab", "", "ab"},
		{"(?m)a", "", "a\n"},
		{"(?i)ORDERS", "orders\nb", "Orders"},
		{"(?U)a+", "", "aaa"},
		{`^orders$`, "", "orders"},
		{`\bx\b`, "", "x"},
		{"x{1001}", "", "x"},
		{"a**", "", "a"},
		{strings.Repeat("(", 999) + "a" + strings.Repeat(")", 999), "", "a"},
		{strings.Repeat("(", 1000) + "a" + strings.Repeat(")", 1000), "", "a"},
		{"\xff", "", "\xff"},
		{".*", ".*", "anything"},
		{"", "\n", ""},
		{"[[:alpha:]]+", `\d`, "abc"},
		{`\p{Greek}+`, "", "αβγ"},
		{`\E`, "", ""},
		{`(?P<n>a)`, "", "a"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, includeList, excludeList, name string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		include, exclude := split(includeList), split(excludeList)
		filter, err := NewFilter("group", include, exclude)

		// The first bad pattern, include before exclude, is the one
		// reported. A pattern is bad when it does not compile on its own,
		// or (valid alone, at the nesting limit) not fully anchored.
		var badField, bad string
		var badAlone bool
		for _, p := range [2]struct {
			field string
			exprs []string
		}{{"group.include", include}, {"group.exclude", exclude}} {
			for _, e := range p.exprs {
				if badField != "" {
					break
				}
				if _, cerr := regexp.Compile(e); cerr != nil {
					badField, bad, badAlone = p.field, e, true
				} else if _, aerr := anchored(e); aerr != nil {
					badField, bad = p.field, e
				}
			}
		}
		if badField != "" {
			want := fmt.Sprintf("%s: invalid regex %q: ", badField, bad)
			if err == nil || !strings.HasPrefix(err.Error(), want) || len(err.Error()) == len(want) {
				t.Fatalf("NewFilter(%q, %q) = %v, want an error starting %q", include, exclude, err, want)
			}
			if !badAlone && !strings.HasSuffix(err.Error(), "expression nests too deeply") {
				t.Fatalf("a regex valid on its own was rejected: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid regexes %q / %q rejected: %v", include, exclude, err)
		}
		if len(filter.Include) != len(include) || len(filter.Exclude) != len(exclude) {
			t.Fatalf("compiled %d/%d of %d/%d regexes", len(filter.Include), len(filter.Exclude), len(include), len(exclude))
		}

		keep := filter.Keep(name)
		if filter.Keep(name) != keep {
			t.Fatal("Keep is not deterministic")
		}
		full := func(expr string) bool {
			re := regexp.MustCompile(expr)
			re.Longest()
			loc := re.FindStringIndex(name)
			return loc != nil && loc[0] == 0 && loc[1] == len(name)
		}
		excluded := slices.ContainsFunc(exclude, full)
		included := len(include) == 0 || slices.ContainsFunc(include, full)
		if keep != (included && !excluded) {
			t.Fatalf("Keep(%q) = %v with include %q exclude %q; full matches: included %v excluded %v", name, keep, include, exclude, included, excluded)
		}
		for _, re := range filter.Exclude {
			if re.MatchString(name) && keep {
				t.Fatalf("Keep(%q) although exclude %s matches", name, re)
			}
		}

		// A filter with the quoted name keeps exactly that name.
		if utf8.ValidString(name) {
			q, err := NewFilter("topic", []string{regexp.QuoteMeta(name)}, nil)
			if err != nil {
				t.Fatalf("quoted %q: %v", name, err)
			}
			if !q.Keep(name) || q.Keep(name+"x") || q.Keep("x"+name) {
				t.Fatalf("quoted %q is not fully anchored", name)
			}
			// And excluding it as well drops it.
			qx, err := NewFilter("topic", []string{regexp.QuoteMeta(name)}, []string{regexp.QuoteMeta(name)})
			if err != nil || qx.Keep(name) {
				t.Fatalf("exclude does not win for %q: %v", name, err)
			}
		}
	})
}

// TestAnchoredQuote: \Q without \E (quote to the end) is a valid Go regex
// and must work fully anchored; before, the anchoring wrapper was quoted
// with it and the regex was rejected.
func TestAnchoredQuote(t *testing.T) {
	f, err := NewFilter("group", []string{`\Qorders.v1`, `a\Q.b\E`}, []string{`\Qx`})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"orders.v1": true, "ordersXv1": false, "orders.v1)$": false, "a.b": true, "x": false} {
		if got := f.Keep(name); got != want {
			t.Errorf("Keep(%q) = %v, want %v", name, got, want)
		}
	}
	// At the nesting limit (valid alone, one level too deep anchored) the
	// error names the field and the problem, not the wrapper.
	deep := strings.Repeat("(", 999) + "a" + strings.Repeat(")", 999)
	_, err = NewFilter("topic", nil, []string{deep})
	if err == nil || !strings.HasPrefix(err.Error(), "topic.exclude: invalid regex ") || !strings.HasSuffix(err.Error(), ": expression nests too deeply") {
		t.Errorf("err = %v", err)
	}
}
