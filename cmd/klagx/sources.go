package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/klagx/klagx/config"
)

// sources knows where the value of each flag of the selected command came
// from (the command line, its environment variable, the config file or the
// default), so that a configuration error names what the user typed:
// `--poll-interval: ...`, `KLAGX_WARN_LAG_SECONDS: ...`,
// `klagx.yaml: poll_interval: ...`, and puts the causes (values the user
// set) before their consequences (defaults that no longer fit).
type sources struct {
	// label is the name of each flag's source, by flag name.
	label map[string]string
	// user is true for the flags the user set (not defaults).
	user map[string]bool
	// fileLists are the lists (clusters, thresholds) the config file
	// supplies, by name, with the file's path.
	fileLists map[string]string
	// flag is the flag of each config key ("poll_interval",
	// "kafka.tls.ca_file", "clusters[0].brokers" for the --brokers
	// cluster), the name config.Config.Validate's errors start with.
	flag map[string]string
}

// newSources looks at the flags kong parsed in kctx (which may be a
// partial context from a parse error), the environment and the file.
func newSources(kctx *kong.Context, file *config.File) *sources {
	s := &sources{label: map[string]string{}, user: map[string]bool{}, flag: map[string]string{}, fileLists: map[string]string{}}
	if kctx == nil {
		return s
	}
	onCommandLine := map[string]bool{}
	for _, p := range kctx.Path {
		if p.Flag != nil && !p.Resolved { // Resolved: from the file
			onCommandLine[p.Flag.Name] = true
		}
	}
	for _, f := range kctx.Flags() {
		name := f.Name
		key := strings.ReplaceAll(name, "-", "_")
		s.flag[key] = name
		switch {
		case onCommandLine[name]:
			s.label[name], s.user[name] = "--"+name, true
		case envSet(f.Envs) != "":
			s.label[name], s.user[name] = envSet(f.Envs), true
		case fileSets(file, kctx, name):
			s.label[name], s.user[name] = file.Path+": "+key, true
		default:
			s.label[name] = "--" + name
		}
	}
	if file != nil && len(file.Clusters) > 0 && !s.user["cluster"] && !s.user["brokers"] {
		s.fileLists["clusters"] = file.Path
	}
	if file != nil && len(file.Thresholds) > 0 && !s.user["threshold"] {
		s.fileLists["thresholds"] = file.Path
	}
	// The --brokers cluster (used when no --cluster is given) is
	// clusters[0] to config.Validate.
	if _, ok := s.label["brokers"]; ok && !s.user["cluster"] && (s.user["brokers"] || file == nil || len(file.Clusters) == 0) {
		for key, flag := range map[string]string{"brokers": "brokers", "name": "cluster-name", "isolation": "isolation"} {
			s.flag["clusters[0]."+key] = flag
		}
		for key, flag := range s.flag {
			if rest, ok := strings.CutPrefix(key, "kafka."); ok {
				s.flag["clusters[0]."+rest] = flag
			}
		}
	}
	return s
}

// envSet returns the first of envs that is set, as kong reads them.
func envSet(envs []string) string {
	for _, e := range envs {
		if _, ok := os.LookupEnv(e); ok {
			return e
		}
	}
	return ""
}

// fileSets is true when the config file gives the flag its value (the
// resolver only applies the file to serve and check).
func fileSets(file *config.File, kctx *kong.Context, name string) bool {
	if file == nil {
		return false
	}
	cmd := kctx.Command()
	if !strings.HasPrefix(cmd, "serve") && !strings.HasPrefix(cmd, "check") {
		return false
	}
	_, ok := file.Lookup(name)
	return ok
}

var (
	// lineKeyRE is a configuration error line: a key, then the problem.
	lineKeyRE = regexp.MustCompile(`^([a-z0-9_.-]+(?:\[\d+\])?(?:\.[a-z0-9_]+)*): (.*)$`)
	// flagLineRE is a kong error about a flag's value.
	flagLineRE = regexp.MustCompile(`^--([a-z0-9.-]+): (.*)$`)
	// envSuffixRE is how kong says the value came from a variable.
	envSuffixRE = regexp.MustCompile(` \(from envar ([A-Z0-9_]+)=".*"\)$`)
)

// describe rewrites a configuration error so that each line starts with
// the source of the value it is about, and orders the lines: the ones
// about values the user set first, then the defaults they clash with.
// Lines it does not recognise are kept as they are.
func (s *sources) describe(err error) error {
	if err == nil {
		return nil
	}
	type line struct {
		text string
		user bool
	}
	var lines []line
	for _, l := range strings.Split(err.Error(), "\n") {
		text, user := s.describeLine(l)
		lines = append(lines, line{text, user})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].user && !lines[j].user })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return errors.New(strings.Join(out, "\n"))
}

func (s *sources) describeLine(l string) (string, bool) {
	// kong: "--flag: problem (from envar NAME="value")".
	if m := flagLineRE.FindStringSubmatch(l); m != nil {
		flag, rest := m[1], m[2]
		if e := envSuffixRE.FindStringSubmatch(rest); e != nil {
			return fmt.Sprintf("%s: %s (the variable of --%s)", e[1], envSuffixRE.ReplaceAllString(rest, ""), flag), true
		}
		if label, ok := s.label[flag]; ok && !strings.HasPrefix(label, "--") {
			return label + ": " + rest, true // from the file, through the resolver
		}
		return l, true
	}
	m := lineKeyRE.FindStringSubmatch(l)
	if m == nil {
		return l, false
	}
	if flag, ok := s.flag[m[1]]; ok {
		return s.label[flag] + ": " + s.mention(m[2]), s.user[flag]
	}
	// An entry of a list flag: clusters[1].name from --cluster (or
	// KLAGX_CLUSTER), thresholds[0].stall_after from --threshold.
	if e := listEntryRE.FindStringSubmatch(m[1]); e != nil {
		if flag := listFlags[e[1]]; s.user[flag] && !strings.Contains(s.label[flag], ": ") {
			// Spelled as the key of the flag's value: tls-ca-file.
			key := strings.NewReplacer(".", "-", "_", "-").Replace(e[3])
			return fmt.Sprintf("%s[%s]: %s: %s", s.label[flag], e[2], key, s.mention(m[2])), true
		}
		if path, ok := s.fileLists[e[1]]; ok {
			return path + ": " + m[1] + ": " + s.mention(m[2]), true
		}
	}
	return l, false
}

// listEntryRE is a key inside an entry of a list: clusters[1].tls.ca_file.
var listEntryRE = regexp.MustCompile(`^(clusters|thresholds)\[(\d+)\]\.(.+)$`)

// listFlags are the flags whose entries are the config's lists.
var listFlags = map[string]string{"clusters": "cluster", "thresholds": "threshold"}

// mention replaces, in the text of an error, the config keys it refers to
// ("is above poll_interval (500ms)") by their flag. Only keys with a '_'
// or '.' are replaced, so that ordinary words stay.
func (s *sources) mention(text string) string {
	keys := make([]string, 0, len(s.flag))
	for k := range s.flag {
		if strings.ContainsAny(k, "_.") && !strings.HasPrefix(k, "clusters[") {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		if strings.Contains(s.label[s.flag[k]], ": ") {
			continue // set in the file: its key is the name the user knows
		}
		re := regexp.MustCompile(`(^|[^a-z0-9_.-])` + regexp.QuoteMeta(k) + `($|[^a-z0-9_-])`)
		text = re.ReplaceAllString(text, "${1}--"+s.flag[k]+"${2}")
	}
	return text
}
