package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// classicSteps runs one classic group of reference Java consumers through
// joins and a clean leave.
func classicSteps(t *testing.T, assignor string) {
	group, topic := "java-"+assignor, "java-"+assignor
	createTopic(t, env(t, kafka), topic, 6, -1, nil)
	joinLeave(t, "classic "+assignor+", Java consumer: ", group, 6, startSources(t, "--group.include="+group),
		func(name string) *member {
			return startRef(t, name, group, []string{topic}, refOpts{Assignor: assignor})
		})
}

// joinLeave runs a classic group through two joins and a clean leave,
// comparing after each step both rebalance sources with the true generation
// delta (the highest generation the members hold).
func joinLeave(t *testing.T, what, group string, parts int, ks sources, start func(name string) *member) {
	a := start("a")
	g0 := settled(t, 60*time.Second, parts, a)
	n := ks.baseline(t, group, 1, time.Now())

	b := start("b")
	g1 := settled(t, 60*time.Second, parts, a, b)
	n = ks.step(t, what+"a member joins", group, 2, time.Now(), n, g1-g0)

	c := start("c")
	g2 := settled(t, 60*time.Second, parts, a, b, c)
	n = ks.step(t, what+"a third member joins", group, 3, time.Now(), n, g2-g1)

	b.Stop(20 * time.Second)
	g3 := settled(t, 60*time.Second, parts, a, c)
	ks.step(t, what+"a member leaves cleanly", group, 2, time.Now(), n, g3-g2)
}

func TestJavaClassicEager(t *testing.T) {
	t.Parallel()
	classicSteps(t, "range")
}

func TestJavaClassicCooperativeSticky(t *testing.T) {
	t.Parallel()
	classicSteps(t, "cooperative-sticky")
}

// KIP-848 groups: klagx counts group epoch advances; the truth is the
// highest member epoch the members hold once reconciled.
func TestJavaConsumerProtocol(t *testing.T) {
	t.Parallel()
	if !kip848(t) {
		t.Skipf("Kafka %s has KIP-848 as an early-access feature, off", kafka.Version())
	}
	for _, assignor := range []string{"uniform", "range"} {
		t.Run(assignor, func(t *testing.T) {
			group, topic := "java-848-"+assignor, "java-848-"+assignor
			e := env(t, kafka)
			createTopic(t, e, topic, 6, -1, nil)
			k := startKlagx(t, kafka, "--group.include="+group)
			o := refOpts{Protocol: "consumer", Assignor: assignor}
			what := "KIP-848 " + assignor + ", Java consumer: "
			a := startRef(t, "a", group, []string{topic}, o)
			g0 := settled(t, 60*time.Second, 6, a)
			n0 := k.settledCount(group, 1, time.Now())
			b := startRef(t, "b", group, []string{topic}, o)
			g1 := settled(t, 60*time.Second, 6, a, b)
			k.waitRebalances(group, n0+int64(g1-g0), 2, 30*time.Second)
			record(t, "%sa member joins: member epoch %d → %d, klagx counted %d", what, g0, g1, k.rebalances(group)-n0)
			b.Stop(20 * time.Second)
			g2 := settled(t, 60*time.Second, 6, a)
			k.waitRebalances(group, n0+int64(g2-g0), 1, 30*time.Second)
			record(t, "%sa member leaves: member epoch %d → %d, klagx counted %d", what, g1, g2, k.rebalances(group)-n0-int64(g1-g0))
		})
	}
}

// A static member (group.instance.id) restarting within its session
// timeout: Kafka does not rebalance, and neither source counts one.
func TestJavaStaticMemberRestart(t *testing.T) {
	t.Parallel()
	group, topic := "java-static", "java-static"
	e := env(t, kafka)
	createTopic(t, e, topic, 4, -1, nil)
	ks := startSources(t, "--group.include="+group)
	o := func(id string) refOpts { return refOpts{Instance: id, SessionMS: 30000} }
	a := startRef(t, "pod-0", group, []string{topic}, o("pod-0"))
	b := startRef(t, "pod-1", group, []string{topic}, o("pod-1"))
	g0 := settled(t, 60*time.Second, 4, a, b)
	n := ks.baseline(t, group, 2, time.Now())

	b.Stop(20 * time.Second) // a static member sends no LeaveGroup
	b2 := startRef(t, "pod-1 again", group, []string{topic}, o("pod-1"))
	g1 := settled(t, 60*time.Second, 4, a, b2)
	ks.step(t, "classic range, Java static member restarts within its session timeout", group, 2, time.Now(), n, g1-g0)
	if g, _ := ks.admin.group(group); g.StaticMembers != 2 {
		t.Errorf("static members %d, want 2", g.StaticMembers)
	}
}

// A consumer killed with -9: the coordinator removes it when its session
// times out, one rebalance.
func TestJavaConsumerKilled(t *testing.T) {
	t.Parallel()
	group, topic := "java-kill9", "java-kill9"
	e := env(t, kafka)
	createTopic(t, e, topic, 4, -1, nil)
	ks := startSources(t, "--group.include="+group)
	o := refOpts{SessionMS: 6000}
	a := startRef(t, "a", group, []string{topic}, o)
	b := startRef(t, "b", group, []string{topic}, o)
	g0 := settled(t, 60*time.Second, 4, a, b)
	n := ks.baseline(t, group, 2, time.Now())
	b.Kill()
	g1 := settled(t, 60*time.Second, 4, a)
	ks.step(t, "classic range, Java consumer killed with -9 (session timeout 6s)", group, 1, time.Now(), n, g1-g0)
}

// rollingRestart replaces three members one after the other, each new one
// started before the group has settled, as a Kubernetes Deployment does
// (the new pod starts, then the old one is terminated), rounds times,
// comparing each round's true generation delta with what each source
// counted, and records the totals (the recall of each source).
func rollingRestart(t *testing.T, what, group string, parts, rounds int, ks sources, start func(name string) *member) {
	cur := []*member{start("pod-0"), start("pod-1"), start("pod-2")}
	all := append([]*member(nil), cur...)
	g := settled(t, 90*time.Second, parts, cur...)
	n := ks.baseline(t, group, 3, time.Now())
	first, firstGen := n, g
	for r := 1; r <= rounds; r++ {
		old := cur
		cur = nil
		for i, m := range old {
			nm := start(fmt.Sprintf("pod-%d-%d", r, i))
			all = append(all, nm)
			cur = append(cur, nm)
			m.Stop(20 * time.Second)
		}
		settled(t, 90*time.Second, parts, cur...)
		g1 := groupGeneration(all...)
		// The clients' view and the coordinator's own log agree on the
		// truth.
		if cg := coordinatorGeneration(t, group); cg != g1 {
			t.Errorf("coordinator logged generation %d, members hold %d", cg, g1)
		}
		n = ks.step(t, fmt.Sprintf("%s, round %d", what, r), group, 3, time.Now(), n, g1-g)
		g = g1
	}
	truth, da, dr := g-firstGen, n.admin-first.admin, n.recorded-first.recorded
	record(t, "%s, %d rounds: true generations +%d; admin source +%d (recall %.0f%%), consumer-offsets source +%d (recall %.0f%%)",
		what, rounds, truth, da, 100*float64(da)/float64(truth), dr, 100*float64(dr)/float64(truth))
}

func TestJavaRollingRestart(t *testing.T) {
	t.Parallel()
	group, topic := "java-rolling", "java-rolling"
	e := env(t, kafka)
	createTopic(t, e, topic, 6, -1, nil)
	ks := startSources(t, "--group.include="+group, "--poll-interval=10s", "--group-poll-interval=2s")
	rollingRestart(t, "classic range, Java consumer, rolling restart of 3 (default --group-poll-interval=2s)", group, 6, 2, ks,
		func(name string) *member { return startRef(t, name, group, []string{topic}, refOpts{}) })
}

// The consumer-offsets source on Kafka's StandardAuthorizer, as a user with
// the documented ACLs: without Read on __consumer_offsets klagx says which
// ACL is missing and keeps inferring; once it is granted, it catches up and
// counts generations exactly.
func TestConsumerOffsetsSourceACL(t *testing.T) {
	t.Parallel()
	const user, password = "co-klagx", "Co-Pw-91d2-must-not-leak"
	group, topic := "co-acl", "co-acl"
	e := env(t, kafka)
	createTopic(t, e, topic, 4, -1, nil)
	if err := kafka.AddSCRAMUser(ctx(t, time.Minute), user, password); err != nil {
		t.Fatal(err)
	}
	grant := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := e.Admin.CreateACLs(ctx(t, 30*time.Second), b.Allow("User:"+user).AllowHosts().ResourcePatternType(kadm.ACLPatternLiteral))
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	grant(kadm.NewACLs().Groups("*").Operations(kadm.OpDescribe))
	grant(kadm.NewACLs().Topics("*").Operations(kadm.OpDescribe))
	// A member first: its group has a generation, and __consumer_offsets
	// exists.
	a := startKcat(t, "a", group, topic)
	g0 := settled(t, 60*time.Second, 4, a)
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	k := startKlagx(t, kafka, "--brokers="+strings.Join(kafka.SASLBootstrap(), ","), "--kafka.tls.enabled", "--kafka.tls.ca-file="+kafka.CAFile(),
		"--kafka.sasl.mechanism=scram-sha-512", "--kafka.sasl.username="+user, "--kafka.sasl.password-file="+pw,
		"--group.include="+group, "--rebalance.source=consumer-offsets")
	waitFor(t, 60*time.Second, "klagx to name the missing ACL", func() (bool, string) {
		return strings.Contains(k.Log(), "needs ACL Read on Topic __consumer_offsets"), "not logged yet"
	})
	for _, line := range strings.Split(k.Log(), "\n") {
		if strings.Contains(line, "needs ACL Read") {
			t.Logf("klagx without the ACL: %s", line)
			break
		}
	}
	n0 := k.settledCount(group, 1, time.Now())

	grant(kadm.NewACLs().Topics("__consumer_offsets").Operations(kadm.OpRead))
	waitFor(t, 90*time.Second, "the consumer-offsets source to catch up", func() (bool, string) {
		return strings.Contains(k.Log(), "read __consumer_offsets to its end"), "not logged yet"
	})
	b := startKcat(t, "b", group, topic)
	g1 := settled(t, 60*time.Second, 4, a, b)
	k.waitRebalances(group, n0+int64(g1-g0), 2, 30*time.Second)
	record(t, "consumer-offsets source as a SCRAM user: Read on __consumer_offsets granted while running, then kcat joins: true generations +%d, klagx +%d", g1-g0, k.rebalances(group)-n0)
	assertNoSecret(t, "klagx log", k.Log(), password)
}
