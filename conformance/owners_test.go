package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/report"
)

// TestMemberLagMatchesKafkaTool: three Java consumers (one static) in one
// group, with commits fixed beforehand and --commit none, so that the lag
// of every partition is known and stays put. klagx's owner of each
// partition equals the CONSUMER-ID, HOST and CLIENT-ID of Kafka's own
// kafka-consumer-groups --describe, and each member's lag (in /status and
// klagx_group_member_lag) equals the sum of the LAG of that consumer's
// rows. After one member leaves, the same holds for the other two and the
// leaver's series are gone. Classic (range) and KIP-848 groups.
func TestMemberLagMatchesKafkaTool(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"classic", "consumer"} {
		t.Run(protocol, func(t *testing.T) {
			if protocol == "consumer" && !kip848(t) {
				t.Skipf("Kafka %s has KIP-848 as an early-access feature, off", kafka.Version())
			}
			group, topic := "own-"+protocol, "own-"+protocol
			e := env(t, kafka)
			createTopic(t, e, topic, 6, -1, nil)
			commits := map[int32]int64{}
			for p := range int32(6) {
				e.Produce(topic, p, 10+5*int(p), time.Time{})
				commits[p] = int64(2 * p) // lag 10+3p: 10, 13, ..., 25
			}
			e.Commit(group, topic, commits)
			k := startKlagx(t, kafka, "--group.include="+group)
			o := refOpts{Protocol: protocol, Commit: "none"}
			a := startRef(t, "a", group, []string{topic}, o)
			b := startRef(t, "b", group, []string{topic}, o)
			so := o
			so.Instance = group + "-static"
			c := startRef(t, "c", group, []string{topic}, so)
			settled(t, 90*time.Second, 6, a, b, c)
			matchOwners(t, k, group, 3)
			g, _ := k.group(group)
			static := 0
			for _, m := range g.MemberLags {
				if m.InstanceID == so.Instance {
					static++
				}
			}
			if static != 1 {
				t.Errorf("member lags %+v: want one with instance_id %s", g.MemberLags, so.Instance)
			}

			// b leaves: its partitions move, its series go.
			left := memberOf(b)
			b.Stop(20 * time.Second)
			settled(t, 90*time.Second, 6, a, c)
			matchOwners(t, k, group, 2)
			if s := k.metrics().With(metrics.GroupMemberLag + "{"); s.Has(metrics.GroupMemberLag, "member", left) {
				t.Errorf("member %s left, its %s series is still there", left, metrics.GroupMemberLag)
			}
		})
	}
}

// memberOf is the member ID a RefConsumer last reported.
func memberOf(m *member) string {
	id := ""
	for _, e := range m.events() {
		if e.Member != "" {
			id = e.Member
		}
	}
	return id
}

// matchOwners waits until klagx's owners and member lags of group equal
// what kafka-consumer-groups --describe shows (asked again until the tool
// lists members members, each partition owned), and the member lag series
// equal /status.
func matchOwners(t *testing.T, k *klagx, group string, members int) {
	t.Helper()
	var rows []toolRow
	waitFor(t, 90*time.Second, "the tool to show the settled group", func() (bool, string) {
		rows = describeGroup(t, kafka, group)
		ids := map[string]bool{}
		for _, r := range rows {
			if r.ConsumerID == "" {
				return false, fmt.Sprintf("%s/%d unowned in the tool", r.Topic, r.Partition)
			}
			ids[r.ConsumerID] = true
		}
		return len(ids) == members, fmt.Sprintf("%d consumers in the tool", len(ids))
	})
	wantLag := map[string]int64{}
	for _, r := range rows {
		wantLag[r.ConsumerID] += *r.Lag
	}
	var table string
	g := k.waitGroup(group, time.Now(), 60*time.Second, func(g report.Group) (bool, string) {
		ps := partitions(g)
		var sb strings.Builder
		var bad []string
		fmt.Fprintf(&sb, "%-16s %-6s %-48s | %s\n", "partition", "LAG", "CONSUMER-ID HOST CLIENT-ID", "klagx owner")
		for _, r := range rows {
			key := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			p := ps[key]
			fmt.Fprintf(&sb, "%-16s %-6s %s %s %s | %+v\n", key, fmtp(r.Lag), r.ConsumerID, r.Host, r.ClientID, p.Owner)
			if p.Owner == nil || p.Owner.MemberID != r.ConsumerID || p.Owner.Host != r.Host || p.Owner.ClientID != r.ClientID {
				bad = append(bad, key+" owner differs")
			}
		}
		got := map[string]int64{}
		for _, m := range g.MemberLags {
			got[m.MemberID] = m.Lag
			fmt.Fprintf(&sb, "member %s (%s, %s): klagx lag %d over %d partitions, tool %d\n", m.MemberID, m.ClientID, m.Host, m.Lag, m.Partitions, wantLag[m.MemberID])
		}
		if !maps.Equal(got, wantLag) {
			bad = append(bad, fmt.Sprintf("member lags %v, tool %v", got, wantLag))
		}
		table = sb.String()
		return len(bad) == 0, strings.Join(bad, "; ") + "\n" + table
	})
	t.Logf("group %s: Kafka's kafka-consumer-groups | klagx /status\n%s", group, table)
	record(t, "%s: %d members, per-member lag equal to the tool's summed LAG: %v", group, members, sortedLags(wantLag))

	// The series agree with /status (both from one snapshot, but not the
	// same request: wait for a scrape showing exactly these members).
	waitFor(t, 30*time.Second, "klagx_group_member_lag to show the members", func() (bool, string) {
		s := k.metrics().With(metrics.GroupMemberLag + "{")
		var bad []string
		for _, m := range g.MemberLags {
			key := kfaketest.Key(metrics.GroupMemberLag, "client_id", m.ClientID, "cluster", "real", "group", group, "host", m.Host, "member", m.MemberID)
			if v, ok := s[key]; !ok || int64(v) != wantLag[m.MemberID] {
				bad = append(bad, fmt.Sprintf("%s = %v (present %v), want %d", key, v, ok, wantLag[m.MemberID]))
			}
		}
		if n := countGroup(s, group); n != len(g.MemberLags) {
			bad = append(bad, fmt.Sprintf("%d member series of %s, want %d", n, group, len(g.MemberLags)))
		}
		return len(bad) == 0, strings.Join(bad, "; ")
	})
}

func countGroup(s kfaketest.Series, group string) int {
	n := 0
	for key := range s {
		if strings.Contains(key, `group="`+group+`"`) {
			n++
		}
	}
	return n
}

func sortedLags(m map[string]int64) string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, strconv.FormatInt(m[id], 10))
	}
	return strings.Join(out, "+")
}
