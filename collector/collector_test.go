package collector

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
)

// TestHostileListAndDescribe: brokers that list a group twice, list share
// and connect groups, and return undecodable member metadata must not break
// a cycle or produce duplicate groups.
func TestHostileListAndDescribe(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("t", 1)
	env.Produce("t", 0, 3, time.Time{})
	env.Commit("real", "t", map[int32]int64{0: 1})
	env.Commit("garbage", "t", map[int32]int64{0: 2})

	env.Cluster.ControlKey(int16(kmsg.ListGroups), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		resp := kreq.ResponseKind().(*kmsg.ListGroupsResponse)
		for _, g := range []struct{ name, ptype, gtype string }{
			{"real", "", "classic"}, {"real", "", "classic"}, // duplicate
			{"share-group", "share", "share"},
			{"connect-cluster", "connect", "classic"},
			{"garbage", "consumer", "classic"},
		} {
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.ProtocolType, lg.GroupType, lg.GroupState = g.name, g.ptype, g.gtype, "Stable"
			resp.Groups = append(resp.Groups, lg)
		}
		return resp, nil, true
	})
	env.Cluster.ControlKey(int16(kmsg.DescribeGroups), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		req := kreq.(*kmsg.DescribeGroupsRequest)
		resp := kreq.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, name := range req.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.State, rg.ProtocolType, rg.Protocol = name, "Stable", "consumer", "range"
			m := kmsg.NewDescribeGroupsResponseGroupMember()
			m.MemberID = "m1"
			m.ProtocolMetadata = []byte{0xff, 0x01, 0x02} // truncated garbage
			m.MemberAssignment = []byte{0x00, 0x00, 0xff} // truncated garbage
			rg.Members = append(rg.Members, m)
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
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
	got := obs.SortedGroups()
	if len(got) != 2 || got[0] != "garbage" || got[1] != "real" {
		t.Fatalf("groups %v, want [garbage real] (no duplicate, no share/connect group)", got)
	}
	g := obs.Groups["garbage"]
	if len(g.Members) != 1 || g.Members[0].Assigned != nil || g.Members[0].Generation != -1 {
		t.Fatalf("undecodable member should be kept without subscription/assignment: %+v", g.Members)
	}
	if obs.Groups["real"].Commits["t"][0] != 1 {
		t.Fatalf("commits of the real group not read: %+v", obs.Groups["real"].Commits)
	}
}
