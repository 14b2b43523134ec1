package groupmeta

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func commitKey(version int16, group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: version, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func commitValue(version int16, offset int64, at time.Time) []byte {
	v := kmsg.OffsetCommitValue{Version: version, Offset: offset, LeaderEpoch: 3, Metadata: "m", CommitTimestamp: at.UnixMilli(), ExpireTimestamp: -1}
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: 2, Group: group}
	return k.AppendTo(nil)
}

func str(s string) *string { return &s }

func groupValue(version int16, gen int32, protocol string, members ...kmsg.GroupMetadataValueMember) []byte {
	v := kmsg.GroupMetadataValue{Version: version, ProtocolType: "consumer", Generation: gen, CurrentStateTimestamp: 1700000000123, Members: members}
	if protocol != "" {
		v.Protocol, v.Leader = str(protocol), str(members[0].MemberID)
	}
	return v.AppendTo(nil)
}

func member(id, instance string) kmsg.GroupMetadataValueMember {
	m := kmsg.GroupMetadataValueMember{MemberID: id, ClientID: "c-" + id, ClientHost: "/127.0.0.1", SessionTimeoutMillis: 45000, RebalanceTimeoutMillis: 300000}
	if instance != "" {
		m.InstanceID = str(instance)
	}
	return m
}

func TestDecodeOffsetCommit(t *testing.T) {
	at := time.UnixMilli(1700000000456)
	// v1 values carry an expire timestamp, v3 a leader epoch, v4 is
	// flexible (Kafka 4.1+).
	for _, vv := range []int16{0, 1, 2, 3, 4} {
		for _, kv := range []int16{0, 1} {
			r, err := Decode(commitKey(kv, "g", "orders", 7), commitValue(vv, 42, at))
			if err != nil {
				t.Fatalf("key v%d value v%d: %v", kv, vv, err)
			}
			want := Record{Type: TypeOffsetCommit, Group: "g", Commit: Commit{Topic: "orders", Partition: 7, Offset: 42, Time: at}}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("key v%d value v%d: got %+v, want %+v", kv, vv, r, want)
			}
		}
	}
	r, err := Decode(commitKey(1, "g", "orders", 7), nil)
	if err != nil || !reflect.DeepEqual(r, Record{Type: TypeOffsetCommit, Group: "g", Tombstone: true, Commit: Commit{Topic: "orders", Partition: 7}}) {
		t.Fatalf("tombstone: %+v, %v", r, err)
	}
}

func TestDecodeGroupMetadata(t *testing.T) {
	for _, vv := range []int16{0, 1, 2, 3, 4} {
		r, err := Decode(groupKey("g"), groupValue(vv, 5, "range", member("m-1", "pod-1"), member("m-2", "")))
		if err != nil {
			t.Fatalf("value v%d: %v", vv, err)
		}
		want := Metadata{Generation: 5, ProtocolType: "consumer", Protocol: "range", Leader: "m-1",
			Members: []Member{{ID: "m-1", InstanceID: "pod-1", ClientID: "c-m-1", ClientHost: "/127.0.0.1"}, {ID: "m-2", ClientID: "c-m-2", ClientHost: "/127.0.0.1"}}}
		if vv < 3 {
			want.Members[0].InstanceID = "" // static membership came with v3
		}
		if vv >= 2 {
			want.StateTime = time.UnixMilli(1700000000123)
		}
		if r.Type != TypeGroupMetadata || r.Group != "g" || r.Tombstone || !reflect.DeepEqual(r.Meta, want) {
			t.Fatalf("value v%d: got %+v, want meta %+v", vv, r, want)
		}
	}
	// An Empty group: a generation with no members, protocol or leader.
	r, err := Decode(groupKey("g"), groupValue(3, 6, ""))
	if err != nil || r.Meta.Generation != 6 || r.Meta.Protocol != "" || r.Meta.Leader != "" || len(r.Meta.Members) != 0 {
		t.Fatalf("empty group: %+v, %v", r, err)
	}
	r, err = Decode(groupKey("g"), nil)
	if err != nil || !r.Tombstone || r.Type != TypeGroupMetadata || r.Group != "g" {
		t.Fatalf("tombstone: %+v, %v", r, err)
	}
}

func TestDecodeOtherAndMalformed(t *testing.T) {
	// Key version 3 is a KIP-848 ConsumerGroupMetadataKey: skipped.
	if r, err := Decode([]byte{0, 3, 0, 1, 'g'}, []byte{0, 0}); err != nil || r.Type != TypeOther {
		t.Fatalf("v3: %+v, %v", r, err)
	}
	for name, c := range map[string]struct{ key, value []byte }{
		"empty key":         {nil, nil},
		"one byte key":      {[]byte{0}, nil},
		"negative version":  {[]byte{0xff, 0xff}, nil},
		"truncated key":     {commitKey(1, "group", "topic", 1)[:6], nil},
		"truncated value":   {groupKey("g"), groupValue(3, 1, "range", member("m", ""))[:20]},
		"truncated commit":  {commitKey(1, "g", "t", 0), commitValue(3, 1, time.Now())[:9]},
		"huge member count": {groupKey("g"), []byte{0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}},
	} {
		if r, err := Decode(c.key, c.value); err == nil {
			t.Errorf("%s: no error, got %+v", name, r)
		}
	}
	if _, err := Decode([]byte{1}, nil); !errors.Is(err, ErrShortKey) {
		t.Fatalf("short key: %v", err)
	}
}

func TestTable(t *testing.T) {
	tab := NewTable()
	apply := func(key, value []byte) {
		t.Helper()
		r, err := Decode(key, value)
		if err != nil {
			t.Fatal(err)
		}
		tab.Apply(r)
	}
	if _, ok := tab.Get("g"); ok {
		t.Fatal("empty table has g")
	}
	apply(groupKey("g"), groupValue(3, 1, "range", member("a", "")))
	apply(commitKey(1, "g", "t", 0), commitValue(3, 10, time.Now())) // ignored
	// Generation 2 restarted before its assignment was stored: the next
	// record is generation 3.
	apply(groupKey("g"), groupValue(3, 3, "range", member("a", ""), member("b", "")))
	apply(groupKey("h"), groupValue(3, 7, "cooperative-sticky", member("x", "pod-0")))
	if g, _ := tab.Get("g"); g != (Generation{Generation: 3, ProtocolType: "consumer", Protocol: "range", Members: 2, Records: 2}) {
		t.Fatalf("g: %+v", g)
	}
	apply(groupKey("g"), groupValue(3, 4, "")) // last member left: Empty
	if g, _ := tab.Get("g"); g.Generation != 4 || g.Members != 0 || g.Records != 3 {
		t.Fatalf("g empty: %+v", g)
	}
	apply(groupKey("g"), nil) // deleted
	if _, ok := tab.Get("g"); ok || tab.Len() != 1 {
		t.Fatalf("g after tombstone: len %d", tab.Len())
	}
	apply(groupKey("g"), groupValue(3, 1, "range", member("c", ""))) // created again
	if g, _ := tab.Get("g"); g.Generation != 1 || g.Records != 1 {
		t.Fatalf("g again: %+v", g)
	}
	tab.Apply(Record{Type: TypeOther})
	if tab.Len() != 2 {
		t.Fatalf("len %d", tab.Len())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(groupKey("g"), groupValue(3, 5, "range", member("m-1", "pod-1")))
	f.Add(groupKey("g"), groupValue(4, 5, "range", member("m-1", "")))
	f.Add(commitKey(1, "g", "t", 3), commitValue(3, 9, time.UnixMilli(1)))
	f.Add(commitKey(1, "g", "t", 3), commitValue(4, 9, time.UnixMilli(1)))
	f.Add([]byte{0, 3, 0, 1, 'g'}, []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			return
		}
		tab := NewTable()
		tab.Apply(r)
		if r.Type == TypeGroupMetadata && !r.Tombstone {
			if g, ok := tab.Get(r.Group); !ok || g.Generation != r.Meta.Generation || g.Members != len(r.Meta.Members) {
				t.Fatalf("table %+v after %+v", g, r)
			}
		}
	})
}
