package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/snapshot"
)

// The ACL tests run kfake with ACLs enforced. "admin" is a superuser that
// sets the cluster up; "klagx" is an ordinary user with exactly the ACLs a
// test grants. docs/operations.md documents the same list.

const (
	aclAdminPass = "admin-pw-acl"
	aclKlagxPass = "klagx-pw-acl"
)

// aclLags is what aclFixture builds, with the exact lag klagx must report
// per group/topic/partition.
//
//	billing      classic, no members   orders  p0 3/15 → 12, p1 20/20 → 0
//	shipping     classic, one member   orders  p0 10/15 → 5, p1 20/20 → 0
//	kip848       KIP-848, one member   payments p0 5/7 → 2
//	secret-team  classic, no members   payments p0 1/7 → 6
//	auditors     classic, no members   audit   p0 2/8 → 6
var aclLags = map[[3]string]float64{
	{"billing", "orders", "0"}:       12,
	{"billing", "orders", "1"}:       0,
	{"shipping", "orders", "0"}:      5,
	{"shipping", "orders", "1"}:      0,
	{"kip848", "payments", "0"}:      2,
	{"secret-team", "payments", "0"}: 6,
	{"auditors", "audit", "0"}:       6,
}

// acl is a literal or prefixed ALLOW (or DENY) for user klagx.
func acl(res kmsg.ACLResourceType, name string, pattern kmsg.ACLResourcePatternType, op kmsg.ACLOperation, allow bool) kfake.ACL {
	return kfake.ACL{Resource: res, Name: name, Pattern: pattern, Operation: op, Allow: allow}
}

var (
	aclLiteral  = kmsg.ACLResourcePatternTypeLiteral
	aclPrefixed = kmsg.ACLResourcePatternTypePrefixed
	aclGroupRes = kmsg.ACLResourceTypeGroup
	aclTopicRes = kmsg.ACLResourceTypeTopic
	aclDescribe = kmsg.ACLOperationDescribe
	aclRead     = kmsg.ACLOperationRead
)

// minimalACLs is the documented least-privilege set.
func minimalACLs() []kfake.ACL {
	return []kfake.ACL{
		acl(aclGroupRes, "*", aclLiteral, aclDescribe, true),
		acl(aclTopicRes, "*", aclLiteral, aclDescribe, true),
	}
}

// aclFixture starts a two-broker kfake cluster with ACLs and SASL, user
// klagx with acls, and the groups of aclLags.
func aclFixture(t *testing.T, acls ...kfake.ACL) *kfaketest.Env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.EnableACLs(), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "admin", aclAdminPass),
		kfake.User("SCRAM-SHA-512", "klagx", aclKlagxPass, acls...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	adminAuth := kgo.SASL(scram.Auth{User: "admin", Pass: aclAdminPass}.AsSha512Mechanism())
	env := kfaketest.Attach(t, c, kgo.SASL(scram.Auth{User: "admin", Pass: aclAdminPass}.AsSha512Mechanism()))
	env.CreateTopic("orders", 2)
	env.CreateTopic("payments", 1)
	env.CreateTopic("audit", 1)
	// Every record has the same timestamp, so a lookup by time answers
	// offset 0 or "none that recent", never a committed offset: only a
	// record fetch can make a time lag exact. With producer timestamps,
	// the second batches below could come more than a poll interval
	// after the first (consumers joining slowly) and a lookup would then
	// land on the committed offset, exact without any fetch.
	ts := time.Now()
	env.Produce("orders", 0, 10, ts)
	env.Produce("orders", 1, 20, ts)
	env.Produce("payments", 0, 5, ts)
	env.Produce("audit", 0, 8, ts)

	env.Commit("billing", "orders", map[int32]int64{0: 3, 1: 20})
	env.Commit("secret-team", "payments", map[int32]int64{0: 1})
	env.Commit("auditors", "audit", map[int32]int64{0: 2})
	shipping := env.Consumer("shipping", []string{"orders"}, adminAuth)
	env.ConsumeAndCommit(shipping, 30)
	kip848 := env.Consumer("kip848", []string{"payments"}, adminAuth, kgo.ServerSideBalancer())
	env.ConsumeAndCommit(kip848, 5)
	env.Produce("orders", 0, 5, ts)
	env.Produce("payments", 0, 2, ts)
	return env
}

// klagxConfig is the klagx side: SCRAM-SHA-512 as user klagx, password
// from a file, polling every second.
func aclKlagxConfig(t *testing.T, env *kfaketest.Env, mod ...func(*config.Config)) *config.Config {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pw, []byte(aclKlagxPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := config.DefaultCluster("test", env.Addrs()...)
	cl.SASL = config.SASL{Mechanism: config.SASLScramSHA512, Username: "klagx", PasswordFile: pw}
	// The test reads the group state family, which is opt-in.
	optIn := func(c *config.Config) { c.Metrics.OptIn = []string{".*"} }
	cfg := kfaketest.Config(cl, time.Second, append([]func(*config.Config){optIn}, mod...)...)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// scrapeUntil GETs /metrics until cond holds.
func aclScrapeUntil(t *testing.T, base, what string, cond func(kfaketest.Series) bool) kfaketest.Series {
	t.Helper()
	var s kfaketest.Series
	kfaketest.WaitFor(t, 60*time.Second, what, func() bool {
		_, body := get(t, base+"/metrics")
		s = kfaketest.Parse(t, []byte(body))
		return cond(s)
	})
	return s
}

func aclStatus(t *testing.T, base string) report.Report {
	t.Helper()
	code, body := get(t, base+"/status")
	if code != 200 {
		t.Fatalf("/status: %d %s", code, body)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	return r
}

func aclStatusGroups(r report.Report) map[string]report.Group {
	out := map[string]report.Group{}
	for _, c := range r.Clusters {
		for _, g := range c.Groups {
			out[g.Name] = g
		}
	}
	return out
}

// pollErrors returns the klagx_poll_errors_total series that are not 0.
func aclPollErrors(s kfaketest.Series) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s.With("klagx_poll_errors_total{") {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// apis returns the Kafka APIs klagx sent, from klagx_kafka_requests_total.
func aclAPIsSent(s kfaketest.Series) []string {
	var out []string
	for k, v := range s.With("klagx_kafka_requests_total{") {
		if v > 0 {
			i := strings.Index(k, `api="`)
			out = append(out, k[i+5:i+5+strings.IndexByte(k[i+5:], '"')])
		}
	}
	sort.Strings(out)
	return out
}

// lagsOf returns the expected lag series of the given groups.
func aclLagsOf(groups ...string) map[string]float64 {
	want := map[string]float64{}
	for k, v := range aclLags {
		for _, g := range groups {
			if k[0] == g {
				want[gp("klagx_group_partition_lag", k[0], k[1], k[2])] = v
			}
		}
	}
	return want
}

func aclAllLagsExact(groups ...string) func(kfaketest.Series) bool {
	want := aclLagsOf(groups...)
	return func(s kfaketest.Series) bool {
		for k, v := range want {
			if got, ok := s[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
}

// aclAPIs are the Kafka APIs docs/operations.md lists, with the ACL each
// needs there. klagx must send nothing else.
var aclAPIs = map[string]bool{
	// kgo's own, no ACL: connection setup, SASL, KIP-714 telemetry.
	"ApiVersions": true, "SASLHandshake": true, "SASLAuthenticate": true,
	"GetTelemetrySubscriptions": true, "PushTelemetry": true,
	// Describe on Group.
	"ListGroups": true, "FindCoordinator": true, "DescribeGroups": true,
	"ConsumerGroupDescribe": true, "OffsetFetch": true,
	// Describe on Topic.
	"Metadata": true, "ListOffsets": true,
	// Read on Topic, --time-lag.mode=exact only.
	"Fetch": true,
}

// groupSeries returns the names of the klagx_group_* series of group.
func aclGroupSeries(s kfaketest.Series, group string) []string {
	var out []string
	for k := range s {
		if strings.HasPrefix(k, "klagx_group") && strings.Contains(k, `group="`+group+`"`) {
			out = append(out, k)
		}
	}
	return out
}

func aclAssertReady(t *testing.T, base string) {
	t.Helper()
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.HasPrefix(body, "ready") {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

// TestACLMinimal: with exactly Describe on every group and Describe on
// every topic, klagx reads everything: exact lag of classic and KIP-848
// groups, members and state, no poll error, ready. It sends no API that
// docs/operations.md does not list.
func TestACLMinimal(t *testing.T) {
	env := aclFixture(t, minimalACLs()...)
	base, _ := runServer(t, aclKlagxConfig(t, env))
	all := []string{"billing", "shipping", "kip848", "secret-team", "auditors"}
	exact := aclAllLagsExact(all...)
	s := aclScrapeUntil(t, base, "every group read exactly, both consumers stable", func(s kfaketest.Series) bool {
		return exact(s) &&
			s[kfaketest.Key("klagx_group_state", "cluster", "test", "group", "shipping", "state", "Stable")] == 1 &&
			s[kfaketest.Key("klagx_group_state", "cluster", "test", "group", "kip848", "state", "Stable")] == 1
	})
	want := aclLagsOf(all...)
	want[kfaketest.Key("klagx_up", "cluster", "test")] = 1
	want[g("klagx_group_members", "shipping")] = 1
	want[g("klagx_group_members", "kip848")] = 1
	want[g("klagx_group_members", "billing")] = 0
	want[kfaketest.Key("klagx_group_state", "cluster", "test", "group", "billing", "state", "Empty")] = 1
	want[g("klagx_group_lag", "billing")] = 12
	want[g("klagx_group_lag", "shipping")] = 5
	want[g("klagx_group_lag", "kip848")] = 2
	for _, name := range all {
		want[g("klagx_group_poll_errors_total", name)] = 0
	}
	want[kfaketest.Key("klagx_partition_end_offset", "cluster", "test", "topic", "orders", "partition", "0")] = 15
	want[kfaketest.Key("klagx_partition_end_offset", "cluster", "test", "topic", "audit", "partition", "0")] = 8
	expect(t, s, want)
	if errs := aclPollErrors(s); len(errs) > 0 {
		t.Errorf("poll errors with the minimal ACLs: %v", errs)
	}
	for _, api := range aclAPIsSent(s) {
		if !aclAPIs[api] {
			t.Errorf("klagx sent %s, which docs/operations.md does not list", api)
		}
	}
	for _, api := range []string{"ListGroups", "FindCoordinator", "DescribeGroups", "ConsumerGroupDescribe", "OffsetFetch", "Metadata", "ListOffsets"} {
		if !strings.Contains(strings.Join(aclAPIsSent(s), ","), api) {
			t.Errorf("%s was not sent: the test does not cover its ACL", api)
		}
	}
	aclAssertReady(t, base)
	for name, gr := range aclStatusGroups(aclStatus(t, base)) {
		if gr.Error != "" || gr.Status == "unknown" {
			t.Errorf("/status group %s: status %s, error %q", name, gr.Status, gr.Error)
		}
	}
}

// TestACLEachIsNeeded: neither ACL of the minimal set can be dropped. What
// klagx shows without one is what docs/operations.md says.
func TestACLEachIsNeeded(t *testing.T) {
	t.Run("no Describe on groups: no group is listed", func(t *testing.T) {
		env := aclFixture(t, acl(aclTopicRes, "*", aclLiteral, aclDescribe, true))
		p := aclPipeline(t, aclKlagxConfig(t, env))
		cl, _ := p.Cycle(context.Background())
		if !cl.Up || len(cl.Groups) != 0 || len(cl.Partitions) != 4 {
			t.Fatalf("up %v, %d groups (want 0), %d partitions (want 4), error %q", cl.Up, len(cl.Groups), len(cl.Partitions), cl.LastError)
		}
	})
	t.Run("no Describe on topics: no partition, no lag", func(t *testing.T) {
		env := aclFixture(t, acl(aclGroupRes, "*", aclLiteral, aclDescribe, true))
		p := aclPipeline(t, aclKlagxConfig(t, env))
		cl, _ := p.Cycle(context.Background())
		if !cl.Up || len(cl.Groups) != 5 || len(cl.Partitions) != 0 {
			t.Fatalf("up %v, %d groups (want 5), %d partitions (want 0), error %q", cl.Up, len(cl.Groups), len(cl.Partitions), cl.LastError)
		}
		for _, gr := range cl.Groups {
			if len(gr.Partitions) != 0 || gr.Lag != 0 {
				t.Errorf("group %s: %d partitions, lag %d without Describe on its topics", gr.Name, len(gr.Partitions), gr.Lag)
			}
		}
	})
}

// aclPipeline is one poller over cfg's first cluster, cycled by the test.
func aclPipeline(t *testing.T, cfg *config.Config) *poller.Poller {
	t.Helper()
	store := snapshot.NewStore(cfg.Clusters[0].Name)
	p, err := poller.New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestACLGroupDenied: klagx may not Describe group secret-team, by an
// explicit DENY or because its ALLOWs are literal and prefixed ones that do
// not cover it. ListGroups only returns the groups the principal may
// Describe (unless it has Describe on the cluster, see
// TestACLGroupListedButNotDescribable), so secret-team is simply absent:
// no series, no /status entry, no error. Every other group is exact, and
// klagx is up and ready.
func TestACLGroupDenied(t *testing.T) {
	others := []string{"billing", "shipping", "kip848", "auditors"}
	for _, tc := range []struct {
		name string
		acls []kfake.ACL
	}{
		{"explicit deny", append(minimalACLs(), acl(aclGroupRes, "secret-team", aclLiteral, aclDescribe, false))},
		{"literal and prefixed allows", []kfake.ACL{
			acl(aclGroupRes, "billing", aclLiteral, aclDescribe, true),
			acl(aclGroupRes, "ship", aclPrefixed, aclDescribe, true),
			acl(aclGroupRes, "kip", aclPrefixed, aclDescribe, true),
			acl(aclGroupRes, "audit", aclPrefixed, aclDescribe, true),
			acl(aclTopicRes, "*", aclLiteral, aclDescribe, true),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := aclFixture(t, tc.acls...)
			base, _ := runServer(t, aclKlagxConfig(t, env))
			s := aclScrapeUntil(t, base, "the other groups read exactly", aclAllLagsExact(others...))
			expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "test"): 1})
			if got := aclGroupSeries(s, "secret-team"); len(got) > 0 {
				t.Errorf("series of the denied group: %v", got)
			}
			if errs := aclPollErrors(s); len(errs) > 0 {
				t.Errorf("poll errors: %v", errs)
			}
			gs := aclStatusGroups(aclStatus(t, base))
			if _, ok := gs["secret-team"]; ok {
				t.Error("/status lists the denied group")
			}
			for _, name := range others {
				if gr := gs[name]; gr.Error != "" || gr.Status == "unknown" {
					t.Errorf("/status group %s: status %s, error %q", name, gr.Status, gr.Error)
				}
			}
			aclAssertReady(t, base)
		})
	}
}

// TestACLGroupRevoked: a Describe ACL revoked while klagx runs makes the
// group vanish at the next cycle, exactly like a deleted group; the others
// stay exact and fresh.
func TestACLGroupRevoked(t *testing.T) {
	env := aclFixture(t, minimalACLs()...)
	base, _ := runServer(t, aclKlagxConfig(t, env))
	aclScrapeUntil(t, base, "secret-team read", aclAllLagsExact("secret-team", "billing"))

	b := kadm.NewACLs().Groups("secret-team").ResourcePatternType(kadm.ACLPatternLiteral).
		Deny("User:klagx").DenyHosts("*").Operations(kadm.OpDescribe)
	res, err := env.Admin.CreateACLs(env.Ctx(10*time.Second), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	revoked := time.Now()
	aclScrapeUntil(t, base, "secret-team to vanish", func(s kfaketest.Series) bool {
		return len(aclGroupSeries(s, "secret-team")) == 0
	})
	// The others are read in cycles after the revocation, exactly.
	kfaketest.WaitFor(t, 30*time.Second, "a full cycle after the revocation", func() bool {
		gs := aclStatusGroups(aclStatus(t, base))
		return gs["billing"].ObservedAt.After(revoked) && gs["shipping"].ObservedAt.After(revoked)
	})
	s := aclScrapeUntil(t, base, "the others exact", aclAllLagsExact("billing", "shipping", "kip848", "auditors"))
	expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "test"): 1})
	if errs := aclPollErrors(s); len(errs) > 0 {
		t.Errorf("poll errors: %v", errs)
	}
	aclAssertReady(t, base)
}

// TestACLGroupListedButNotDescribable covers what kfake cannot produce with
// ACLs alone, so the errors are injected where a real broker returns them:
//
//   - With Describe on the cluster, Kafka's ListGroups returns every group,
//     including one klagx may not Describe; FindCoordinator, DescribeGroups
//     and OffsetFetch then answer GROUP_AUTHORIZATION_FAILED for it.
//   - Since Kafka 4.0 (KAFKA-18813), ConsumerGroupDescribe answers
//     TOPIC_AUTHORIZATION_FAILED for a KIP-848 group with an assigned topic
//     the principal may not Describe.
//
// Each such group is reported on its own, with the authorization error in
// /status and status unknown; the other groups are exact, klagx stays up
// and ready, nothing panics.
func TestACLGroupListedButNotDescribable(t *testing.T) {
	env := aclFixture(t, minimalACLs()...)
	env.Cluster.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator, kmsg.DescribeGroups, kmsg.OffsetFetch},
			Group: "secret-team", Err: kerr.GroupAuthorizationFailed, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.ConsumerGroupDescribe},
			Group: "kip848", Err: kerr.TopicAuthorizationFailed, Count: -1},
	)
	base, _ := runServer(t, aclKlagxConfig(t, env))
	others := []string{"billing", "shipping", "auditors"}
	s := aclScrapeUntil(t, base, "the other groups exact, the failed ones counted twice", func(s kfaketest.Series) bool {
		return aclAllLagsExact(others...)(s) &&
			s[g("klagx_group_poll_errors_total", "secret-team")] >= 2 &&
			s[g("klagx_group_poll_errors_total", "kip848")] >= 2
	})
	expect(t, s, map[string]float64{
		kfaketest.Key("klagx_up", "cluster", "test"):                                                        1,
		kfaketest.Key("klagx_group_status", "cluster", "test", "group", "secret-team", "status", "unknown"): 1,
		kfaketest.Key("klagx_group_status", "cluster", "test", "group", "kip848", "status", "unknown"):      1,
	})
	gs := aclStatusGroups(aclStatus(t, base))
	for name, want := range map[string]string{
		"secret-team": "GROUP_AUTHORIZATION_FAILED",
		"kip848":      "TOPIC_AUTHORIZATION_FAILED",
	} {
		gr, ok := gs[name]
		if !ok {
			t.Errorf("/status does not list %s", name)
			continue
		}
		if !strings.Contains(gr.Error, want) || gr.Status != "unknown" {
			t.Errorf("/status group %s: status %s, error %q; want unknown with %s", name, gr.Status, gr.Error, want)
		}
	}
	for _, name := range others {
		if gr := gs[name]; gr.Error != "" {
			t.Errorf("/status group %s: error %q", name, gr.Error)
		}
	}
	aclAssertReady(t, base)
}

// TestACLTopicDenied: klagx may not Describe topic audit. Kafka hides it:
// it is absent from Metadata, and a real broker also drops it from the
// committed offsets OffsetFetch returns (kfake does not, and its topic-ID
// resolution then leaves an authorization error for audit in kgo's metadata
// cache, which used to fail the whole metadata stage through
// kadm.Metadata). Every cycle lists every other topic, fresh; audit has no
// series; groups on other topics are exact; group auditors, whose only
// topic is audit, shows no partitions and no lag (klagx cannot tell a
// hidden topic from a deleted one).
func TestACLTopicDenied(t *testing.T) {
	env := aclFixture(t, append(minimalACLs(), acl(aclTopicRes, "audit", aclLiteral, aclDescribe, false))...)
	cfg := aclKlagxConfig(t, env)
	p := aclPipeline(t, cfg)
	for cycle := 1; cycle <= 3; cycle++ {
		cl, obs := p.Cycle(context.Background())
		if !cl.Up || !obs.MetadataOK {
			t.Fatalf("cycle %d: up %v, metadata ok %v, error %q", cycle, cl.Up, obs.MetadataOK, cl.LastError)
		}
		fresh := map[string]int{}
		for _, part := range cl.Partitions {
			if part.Topic == "audit" {
				t.Errorf("cycle %d: partition %s/%d listed", cycle, part.Topic, part.Partition)
			}
			if part.ObservedAt.Equal(cl.TakenAt) {
				fresh[part.Topic]++
			}
		}
		if fresh["orders"] != 2 || fresh["payments"] != 1 {
			t.Errorf("cycle %d: partitions read this cycle %v, want orders 2 and payments 1", cycle, fresh)
		}
		for _, e := range obs.Errors {
			if e.Stage != "metadata" || e.Topic != "audit" {
				t.Errorf("cycle %d: unexpected poll error %+v", cycle, e)
			}
		}
	}
	// What an operator sees, through the HTTP server.
	base, _ := runServer(t, cfg)
	s := aclScrapeUntil(t, base, "the groups on other topics exact", aclAllLagsExact("billing", "shipping", "kip848", "secret-team"))
	expect(t, s, map[string]float64{
		kfaketest.Key("klagx_up", "cluster", "test"): 1,
		g("klagx_group_lag", "auditors"):             0,
	})
	for k := range s {
		if strings.Contains(k, `topic="audit"`) {
			t.Errorf("series of the hidden topic: %s", k)
		}
	}
	if gr := aclStatusGroups(aclStatus(t, base))["auditors"]; len(gr.Topics) != 0 || gr.Lag != 0 {
		t.Errorf("/status auditors: %+v", gr)
	}
	aclAssertReady(t, base)
}

// TestACLExactTimeLag: --time-lag.mode=exact also fetches records, which
// needs Read on the topics (Read implies Describe). With Read, the time
// lag is exact and no error is counted; with only Describe, every fetch is
// refused (counted under stage record_fetch), lag stays exact and the time
// lag falls back to interpolation.
func TestACLExactTimeLag(t *testing.T) {
	exact := func(c *config.Config) { c.TimeLag.Mode = config.TimeLagExact }
	lagging := []string{"billing", "shipping", "kip848", "secret-team", "auditors"}
	methods := func(base string) map[string]string {
		out := map[string]string{}
		for name, gr := range aclStatusGroups(aclStatus(t, base)) {
			for _, tp := range gr.Topics {
				for _, pt := range tp.Partitions {
					if pt.Lag > 0 {
						out[name+"/"+tp.Name] = string(pt.TimeLagMethod)
					}
				}
			}
		}
		return out
	}
	t.Run("Read on topics", func(t *testing.T) {
		env := aclFixture(t, acl(aclGroupRes, "*", aclLiteral, aclDescribe, true), acl(aclTopicRes, "*", aclLiteral, aclRead, true))
		base, _ := runServer(t, aclKlagxConfig(t, env, exact))
		aclScrapeUntil(t, base, "exact lag", aclAllLagsExact(lagging...))
		kfaketest.WaitFor(t, 30*time.Second, "exact time lag on every lagging partition", func() bool {
			m := methods(base)
			for _, v := range m {
				if v != "exact" {
					return false
				}
			}
			return len(m) == 5
		})
		_, body := get(t, base+"/metrics")
		s := kfaketest.Parse(t, []byte(body))
		if errs := aclPollErrors(s); len(errs) > 0 {
			t.Errorf("poll errors with Read: %v", errs)
		}
		if !strings.Contains(strings.Join(aclAPIsSent(s), ","), "Fetch") {
			t.Error("exact mode sent no Fetch")
		}
	})
	t.Run("Describe only", func(t *testing.T) {
		env := aclFixture(t, minimalACLs()...)
		base, _ := runServer(t, aclKlagxConfig(t, env, exact))
		s := aclScrapeUntil(t, base, "exact lag and refused fetches", func(s kfaketest.Series) bool {
			return aclAllLagsExact(lagging...)(s) && s[kfaketest.Key("klagx_poll_errors_total", "cluster", "test", "stage", "record_fetch")] > 0
		})
		for k := range aclPollErrors(s) {
			if !strings.Contains(k, `stage="record_fetch"`) {
				t.Errorf("poll errors beyond record_fetch: %s", k)
			}
		}
		for where, m := range methods(base) {
			if m == "exact" {
				t.Errorf("%s: exact time lag without Read", where)
			}
		}
		expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "test"): 1})
		aclAssertReady(t, base)
	})
}
