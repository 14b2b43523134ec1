package collector

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/observation"
)

// streamsFake makes env's kfake serve streams groups, which it does not
// implement: ApiVersions also advertises StreamsGroupDescribe, ListGroups
// lists the given streams groups on their coordinators, and
// StreamsGroupDescribe answers with describe there, NOT_COORDINATOR
// elsewhere, as Kafka does. Commits stay kfake's own, through OffsetFetch.
func streamsFake(t *testing.T, env *kfaketest.Env, groups []string, describe func(name string) kmsg.StreamsGroupDescribeResponseGroup) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	env.Cluster.ControlKey(int16(kmsg.ApiVersions), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		resp := *versions
		resp.Version = kreq.GetVersion()
		key := kmsg.NewApiVersionsResponseApiKey()
		key.ApiKey, key.MinVersion, key.MaxVersion = int16(kmsg.StreamsGroupDescribe), 0, 1
		resp.ApiKeys = append(append([]kmsg.ApiVersionsResponseApiKey(nil), versions.ApiKeys...), key)
		return &resp, nil, true
	})
	env.Cluster.ControlKey(int16(kmsg.ListGroups), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		resp := kreq.ResponseKind().(*kmsg.ListGroupsResponse)
		for _, name := range groups {
			if env.Cluster.CoordinatorFor(name) != env.Cluster.CurrentNode() {
				continue
			}
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.ProtocolType, lg.GroupType, lg.GroupState = name, "streams", "streams", "Stable"
			resp.Groups = append(resp.Groups, lg)
		}
		return resp, nil, true
	})
	env.Cluster.ControlKey(int16(kmsg.StreamsGroupDescribe), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		resp := kreq.ResponseKind().(*kmsg.StreamsGroupDescribeResponse)
		for _, name := range kreq.(*kmsg.StreamsGroupDescribeRequest).Groups {
			g := describe(name)
			if env.Cluster.CoordinatorFor(name) != env.Cluster.CurrentNode() {
				g = kmsg.NewStreamsGroupDescribeResponseGroup()
				g.Group, g.ErrorCode = name, kerr.NotCoordinator.Code
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp, nil, true
	})
}

func streamsSubtopology(id string, sources []string, repartition ...string) kmsg.StreamsGroupDescribeResponseGroupTopologySubtopology {
	s := kmsg.NewStreamsGroupDescribeResponseGroupTopologySubtopology()
	s.SubtopologyID, s.SourceTopics = id, sources
	for _, r := range repartition {
		ti := kmsg.NewTopicInfo()
		ti.Topic = r
		s.RepartitionSourceTopics = append(s.RepartitionSourceTopics, ti)
	}
	return s
}

func tasks(id string, partitions ...int32) kmsg.TaskIDs {
	t := kmsg.NewTaskIDs()
	t.SubtopologyID, t.Partitions = id, partitions
	return t
}

// TestStreamsGroups: streams groups are listed, described with one
// StreamsGroupDescribe and read through OffsetFetch; a member owns the
// source partitions of its active tasks only (not standby or warm-up), via
// the topology, repartition source topics included; a missing topology, a
// task of an unknown subtopology, an error code and a dead group are
// handled without failing the cycle.
func TestStreamsGroups(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("in", 2)
	env.CreateTopic("app-rep-repartition", 2)
	env.Produce("in", 0, 5, time.Time{})
	env.Commit("app", "in", map[int32]int64{0: 3})
	env.Commit("app", "app-rep-repartition", map[int32]int64{1: 0})
	// kfake answers OffsetFetch of a group it does not know with
	// GROUP_ID_NOT_FOUND, which drops the group: give it one.
	env.Commit("no-topology", "in", map[int32]int64{0: 1})

	streamsFake(t, env, []string{"app", "no-topology", "denied", "dead"}, func(name string) kmsg.StreamsGroupDescribeResponseGroup {
		g := kmsg.NewStreamsGroupDescribeResponseGroup()
		g.Group, g.State, g.Epoch, g.AssignmentEpoch = name, "Stable", 7, 7
		assignor := "sticky"
		g.AssignorName = &assignor
		m := kmsg.NewStreamsGroupDescribeResponseGroupMember()
		m.MemberID, m.ClientID, m.ClientHost, m.MemberEpoch = "m1", "app-1-StreamThread-1-consumer", "/10.0.0.1", 7
		m.Assignment.ActiveTasks = []kmsg.TaskIDs{tasks("0", 1, 0), tasks("1", 1), tasks("9", 0)}
		m.Assignment.StandbyTasks = []kmsg.TaskIDs{tasks("1", 0)}
		m.Assignment.WarmupTasks = []kmsg.TaskIDs{tasks("0", 1)}
		instance := "i1"
		m.InstanceID = &instance
		g.Members = []kmsg.StreamsGroupDescribeResponseGroupMember{m}
		switch name {
		case "app":
			topo := kmsg.NewStreamsGroupDescribeResponseGroupTopology()
			topo.Subtopologies = []kmsg.StreamsGroupDescribeResponseGroupTopologySubtopology{
				streamsSubtopology("0", []string{"in"}),
				streamsSubtopology("1", []string{"app-rep-repartition"}, "app-rep-repartition"),
			}
			g.Topology = &topo
		case "no-topology":
			g.State = "NotReady"
		case "denied":
			g.ErrorCode = kerr.GroupAuthorizationFailed.Code
		case "dead":
			g.State = "Dead"
		}
		return g
	})

	cfg := env.Config()
	c, err := New(cfg, cfg.Clusters[0], kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obs := c.Poll(ctx)
	if obs.Err != nil {
		t.Fatal(obs.Err)
	}
	if got, want := obs.SortedGroups(), []string{"app", "denied", "no-topology"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("groups %v, want %v (the dead group dropped)", got, want)
	}

	app := obs.Groups["app"]
	if app.Kind != observation.KindStreams || app.State != "Stable" || app.Protocol != "sticky" || app.Epoch != 7 || app.AssignmentEpoch != 7 || app.DescribeErr != nil {
		t.Fatalf("app: %+v", app)
	}
	want := observation.Member{
		ID: "m1", InstanceID: "i1", ClientID: "app-1-StreamThread-1-consumer", ClientHost: "/10.0.0.1",
		Subscribed: []string{"app-rep-repartition", "in"}, Generation: 7,
		Assigned: map[string][]int32{"in": {0, 1}, "app-rep-repartition": {1}},
	}
	if len(app.Members) != 1 || !reflect.DeepEqual(app.Members[0], want) {
		t.Fatalf("app members %+v, want %+v", app.Members, want)
	}
	if want := map[string]map[int32]int64{"in": {0: 3}, "app-rep-repartition": {1: 0}}; !reflect.DeepEqual(app.Commits, want) {
		t.Fatalf("app commits %v, want %v", app.Commits, want)
	}

	nt := obs.Groups["no-topology"]
	if nt.State != "NotReady" || len(nt.Members) != 1 || len(nt.Members[0].Assigned) != 0 || len(nt.Members[0].Subscribed) != 0 {
		t.Fatalf("a group without topology: %+v", nt)
	}
	if d := obs.Groups["denied"]; !errors.Is(d.DescribeErr, kerr.GroupAuthorizationFailed) {
		t.Fatalf("denied: describe error %v, want GROUP_AUTHORIZATION_FAILED", d.DescribeErr)
	}
	coordinators := map[int32]bool{}
	for _, name := range []string{"app", "no-topology", "denied", "dead"} {
		coordinators[env.Cluster.CoordinatorFor(name)] = true
	}
	if n := streamsDescribes(c); n != uint64(len(coordinators)) {
		t.Fatalf("%d StreamsGroupDescribe requests, want %d (one per coordinator)", n, len(coordinators))
	}

	// Between cycles, a streams group is described by its kind alone, at
	// the coordinator that listed it, or, never listed, at the one
	// FindCoordinator names.
	refs := []GroupRef{{Name: "app", Kind: observation.KindStreams}}
	obs = c.DescribeGroups(ctx, refs)
	if g := obs.Groups["app"]; g == nil || g.Epoch != 7 || len(g.Members) != 1 || g.Coordinator != env.Cluster.CoordinatorFor("app") {
		t.Fatalf("DescribeGroups of a streams group: %+v", obs.Groups)
	}
	fresh, err := New(cfg, cfg.Clusters[0], kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	obs = fresh.DescribeGroups(ctx, refs)
	if g := obs.Groups["app"]; g == nil || g.DescribeErr != nil || g.Epoch != 7 || len(obs.Errors) != 0 {
		t.Fatalf("DescribeGroups of a streams group never listed: %+v, errors %v", obs.Groups, obs.Errors)
	}
}

func streamsDescribes(c *Collector) uint64 {
	for _, rc := range c.Requests() {
		if rc.API == "StreamsGroupDescribe" {
			return rc.Count
		}
	}
	return 0
}
