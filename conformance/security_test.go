package conformance

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/status"
)

// The security scenarios run klagx over the cluster's SASL_SSL listener
// (SCRAM-SHA-512, the test CA) on Kafka's StandardAuthorizer: as the admin
// created at format time, and as an ordinary user "sec-klagx" with exactly
// the ACLs docs/operations.md documents, each removed in turn. The
// passwords must never appear in what klagx writes or serves.

const (
	secUser     = "sec-klagx"
	secPassword = "Sec-Pw-7f3a9c-must-not-leak"
	secWrongPw  = "Wrong-Pw-44b2e1-must-not-leak"
)

// secLags is the fixture: group → "topic/partition" → exact lag.
var secLags = map[string]map[string]int64{
	"sec-billing":  {"sec-orders/0": 12, "sec-orders/1": 0},
	"sec-shipping": {"sec-orders/0": 5, "sec-orders/1": 0},
	"sec-kip848":   {"sec-payments/0": 2},
}

// secACLs are the documented least-privilege ACLs, by name.
var secACLs = map[string]func() *kadm.ACLBuilder{
	"Describe on groups *": func() *kadm.ACLBuilder {
		return kadm.NewACLs().Allow("User:" + secUser).AllowHosts().Groups("*").Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	},
	"Describe on topics *": func() *kadm.ACLBuilder {
		return kadm.NewACLs().Allow("User:" + secUser).AllowHosts().Topics("*").Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	},
}

func kip848(t testing.TB) bool {
	// Kafka 3.9 has KIP-848 as an early-access feature, off by default.
	return !strings.HasPrefix(kafka.Version(), "3.")
}

// secFixture creates the topics and groups of secLags and the SCRAM user.
func secFixture(t *testing.T) *kfaketest.Env {
	t.Helper()
	e := env(t, kafka)
	createTopic(t, e, "sec-orders", 2, -1, nil)
	createTopic(t, e, "sec-payments", 1, -1, nil)
	e.Produce("sec-orders", 0, 15, time.Time{})
	e.Produce("sec-orders", 1, 20, time.Time{})
	e.Produce("sec-payments", 0, 7, time.Time{})
	e.Commit("sec-billing", "sec-orders", map[int32]int64{0: 3, 1: 20})
	ship := consumer(t, kafka, "sec-shipping", []string{"sec-orders"})
	pollOnce(t, ship)
	// Kafka refuses an admin commit to a group with members
	// (UNKNOWN_MEMBER_ID); the member commits itself.
	memberCommit(t, ship, "sec-orders", map[int32]int64{0: 10, 1: 20})
	if kip848(t) {
		k := consumer(t, kafka, "sec-kip848", []string{"sec-payments"}, kgo.ServerSideBalancer())
		pollOnce(t, k)
		memberCommit(t, k, "sec-payments", map[int32]int64{0: 5})
	} else {
		delete(secLags, "sec-kip848")
	}
	if err := kafka.AddSCRAMUser(ctx(t, time.Minute), secUser, secPassword); err != nil {
		t.Fatal(err)
	}
	return e
}

// memberCommit commits offsets as the group member cl.
func memberCommit(t testing.TB, cl *kgo.Client, topic string, offsets map[int32]int64) {
	t.Helper()
	eo := map[int32]kgo.EpochOffset{}
	for p, o := range offsets {
		eo[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var cerr error
	cl.CommitOffsetsSync(ctx(t, 30*time.Second), map[string]map[int32]kgo.EpochOffset{topic: eo},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if e := kerr.ErrorForCode(rp.ErrorCode); e != nil {
						cerr = e
					}
				}
			}
		})
	if cerr != nil {
		t.Fatalf("member commit %s: %v", topic, cerr)
	}
}

// pollOnce polls until cl has joined its group and fetched something.
func pollOnce(t testing.TB, cl *kgo.Client) {
	t.Helper()
	c := ctx(t, 30*time.Second)
	for cl.PollRecords(c, 1).NumRecords() == 0 {
		if c.Err() != nil {
			t.Fatal("consumer fetched nothing in 30s")
		}
	}
}

// setACLs replaces user sec-klagx's ACLs with the named ones of secACLs and
// waits until every broker's authorizer has them.
func setACLs(t *testing.T, e *kfaketest.Env, names ...string) {
	t.Helper()
	for _, b := range secACLs {
		if _, err := e.Admin.DeleteACLs(ctx(t, 30*time.Second), b()); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		res, err := e.Admin.CreateACLs(ctx(t, 30*time.Second), secACLs[n]())
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("create ACL %s: %v", n, err)
		}
	}
	// Every broker answers DescribeACLs from its own authorizer.
	for _, b := range kafka.Brokers() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr("PLAINTEXT")), kgo.WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("broker %d to have %d ACLs", b.ID(), len(names)), func() (bool, string) {
			res, err := kadm.NewClient(cl).DescribeACLs(ctx(t, 10*time.Second), kadm.NewACLs().Allow("User:"+secUser).AllowHosts().
				AnyResource().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
			if err != nil {
				return false, err.Error()
			}
			n := 0
			for _, r := range res {
				n += len(r.Described)
			}
			return n == len(names), fmt.Sprintf("%d ACLs", n)
		})
		cl.Close()
	}
}

// saslFlags connect klagx as user over SASL_SSL with the password in a file.
func saslFlags(t *testing.T, user, password string) []string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--brokers=" + strings.Join(kafka.SASLBootstrap(), ","), "--kafka.tls.enabled", "--kafka.tls.ca-file=" + kafka.CAFile(),
		"--kafka.sasl.mechanism=scram-sha-512", "--kafka.sasl.username=" + user, "--kafka.sasl.password-file=" + pw,
		"--group.include=sec-.*",
	}
}

// exactLags reports whether g has exactly the lags of secLags.
func exactLags(g report.Group) (bool, string) {
	want := secLags[g.Name]
	ps := partitions(g)
	var bad []string
	for key, lag := range want {
		if p, ok := ps[key]; !ok || p.Lag != lag {
			bad = append(bad, fmt.Sprintf("%s lag %d (present %v), want %d", key, p.Lag, ok, lag))
		}
	}
	if g.Error != "" {
		bad = append(bad, "error "+g.Error)
	}
	return len(bad) == 0, strings.Join(bad, "; ")
}

// exposed is everything klagx shows: its log, /metrics, /status, /readyz.
func exposed(k *klagx) string {
	_, m := k.get("/metrics")
	_, s := k.get("/status")
	_, r := k.get("/readyz")
	return k.Log() + m + s + r
}

func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains a password (%d bytes of output)", what, len(text))
		}
	}
	if len(text) == 0 {
		t.Errorf("%s: nothing to search", what)
	}
}

func TestSecurityOnRealAuthorizer(t *testing.T) {
	e := secFixture(t)
	adminUser, adminPw := kafka.Admin()

	t.Run("admin from format time", func(t *testing.T) {
		k := startKlagx(t, kafka, saslFlags(t, adminUser, adminPw)...)
		for g := range secLags {
			k.waitGroup(g, time.Time{}, 60*time.Second, exactLags)
		}
		assertNoSecret(t, "klagx log, /metrics, /status, /readyz", exposed(k), adminPw)
	})

	t.Run("least privilege", func(t *testing.T) {
		setACLs(t, e, "Describe on groups *", "Describe on topics *")
		k := startKlagx(t, kafka, saslFlags(t, secUser, secPassword)...)
		for g := range secLags {
			got := k.waitGroup(g, time.Time{}, 60*time.Second, exactLags)
			t.Logf("%s as %s with the documented ACLs: lag %d, %d members, state %s", g, secUser, got.Lag, got.Members, got.State)
		}
		s := k.metrics()
		// Only the requests of docs/operations.md's table.
		documented := []string{"ApiVersions", "SASLHandshake", "SASLAuthenticate", "GetTelemetrySubscriptions", "PushTelemetry",
			"ListGroups", "FindCoordinator", "DescribeGroups", "ConsumerGroupDescribe", "OffsetFetch", "Metadata", "ListOffsets"}
		for key, v := range s {
			if strings.HasPrefix(key, "klagx_poll_errors_total{") && v != 0 {
				t.Errorf("%s = %v with the documented ACLs", key, v)
			}
			if rest, ok := strings.CutPrefix(key, "klagx_kafka_requests_total{"); ok {
				if !slices.ContainsFunc(documented, func(api string) bool { return strings.Contains(rest, `api="`+api+`"`) }) {
					t.Errorf("klagx sent a request outside docs/operations.md's table: %s", key)
				}
			}
		}
		out, errOut, code := runCheck(t, saslFlags(t, secUser, secPassword)...)
		if code != 2 {
			t.Errorf("klagx check with the documented ACLs: exit %d, want 2 (sec-billing is stopped with lag)\n%s%s", code, out, errOut)
		}
		assertNoSecret(t, "klagx log, /metrics, /status, /readyz", exposed(k), secPassword)
		assertNoSecret(t, "klagx check output", out+errOut, secPassword)
	})

	t.Run("without Describe on groups", func(t *testing.T) {
		setACLs(t, e, "Describe on topics *")
		k := startKlagx(t, kafka, saslFlags(t, secUser, secPassword)...)
		// ListGroups lists only the groups the principal may Describe:
		// klagx sees none, and stays up and ready.
		waitFor(t, 30*time.Second, "a cycle without groups", func() (bool, string) {
			r := k.status()
			up := len(r.Clusters) == 1 && r.Clusters[0].Up
			return up && len(r.Clusters[0].Groups) == 0, fmt.Sprintf("%+v", r.Clusters)
		})
		if code, body := k.get("/readyz"); code != http.StatusOK {
			t.Errorf("/readyz %d %s", code, body)
		}
	})

	t.Run("without Describe on topics", func(t *testing.T) {
		setACLs(t, e, "Describe on groups *")
		k := startKlagx(t, kafka, saslFlags(t, secUser, secPassword)...)
		for g := range secLags {
			got := k.waitGroup(g, time.Time{}, 60*time.Second, func(g report.Group) (bool, string) {
				if g.Name == "sec-kip848" {
					// Kafka 4.x checks Describe on the assigned topics in
					// ConsumerGroupDescribe (KAFKA-18813).
					return strings.Contains(g.Error, "TOPIC_AUTHORIZATION_FAILED") || g.Status == status.Unknown, "status " + g.Status.String() + " error " + g.Error
				}
				return g.Lag == 0 && len(g.Topics) == 0, fmt.Sprintf("lag %d, %d topics, error %q", g.Lag, len(g.Topics), g.Error)
			})
			t.Logf("%s without Describe on topics: lag %d, %d topics, status %s, error %q", g, got.Lag, len(got.Topics), got.Status, got.Error)
		}
		if s := k.metrics(); len(s.With("klagx_partition_end_offset")) != 0 {
			t.Errorf("partition series without Describe on topics: %v", s.With("klagx_partition_end_offset"))
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		out, errOut, code := runCheck(t, saslFlags(t, secUser, secWrongPw)...)
		if code != 3 {
			t.Errorf("klagx check with a wrong password: exit %d, want 3\n%s%s", code, out, errOut)
		}
		if !strings.Contains(errOut, "SASL") && !strings.Contains(strings.ToLower(errOut), "authentication") {
			t.Errorf("klagx check with a wrong password does not say why: %s", errOut)
		}
		assertNoSecret(t, "klagx check output with a wrong password", out+errOut, secWrongPw, secPassword)
	})
}
