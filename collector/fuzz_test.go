package collector

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/observation"
)

// The classic group member blobs (DescribeGroups ProtocolMetadata and
// MemberAssignment) are written by whatever client joined the group, not by
// the broker: any bytes at all can arrive here. These fuzz targets check
// classicMember, which decodes them.

// memberSeedBlobs returns realistic and hostile ProtocolMetadata /
// MemberAssignment pairs.
func memberSeedBlobs() [][2][]byte {
	rack := "eu-west-1a"
	meta := func(m kmsg.ConsumerMemberMetadata) []byte { return m.AppendTo(nil) }
	asg := func(a kmsg.ConsumerMemberAssignment) []byte { return a.AppendTo(nil) }
	javaV3 := meta(kmsg.ConsumerMemberMetadata{
		Version: 3, Topics: []string{"orders", "payments"}, UserData: []byte{0, 1},
		OwnedPartitions: []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "orders", Partitions: []int32{0, 2}}},
		Generation:      7, Rack: &rack,
	})
	v0 := meta(kmsg.ConsumerMemberMetadata{Version: 0, Topics: []string{"t"}})
	v1 := meta(kmsg.ConsumerMemberMetadata{Version: 1, Topics: []string{"a", "b", "a"}, OwnedPartitions: []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "a", Partitions: []int32{1}}}})
	v2 := meta(kmsg.ConsumerMemberMetadata{Version: 2, Topics: []string{"x"}, Generation: 42})
	a0 := asg(kmsg.ConsumerMemberAssignment{Version: 0, Topics: []kmsg.ConsumerMemberAssignmentTopic{
		{Topic: "orders", Partitions: []int32{0, 1, 2}}, {Topic: "payments", Partitions: []int32{5}},
	}})
	// The same topic twice (a buggy assignor): partitions are merged.
	aDup := asg(kmsg.ConsumerMemberAssignment{Version: 1, Topics: []kmsg.ConsumerMemberAssignmentTopic{
		{Topic: "t", Partitions: []int32{0}}, {Topic: "t", Partitions: []int32{3, -1}},
	}, UserData: []byte("sticky")})
	aEmpty := asg(kmsg.ConsumerMemberAssignment{})

	// Hostile: array lengths claiming 2^31-1 elements in a few bytes, a
	// negative (null) topic count, a null topic string, truncations.
	huge := []byte{0, 0, 0x7f, 0xff, 0xff, 0xff}
	hugeTopic := []byte{0, 0, 0, 0, 0, 1, 0, 1, 'x', 0x7f, 0xff, 0xff, 0xff}
	nullArray := []byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	nullString := []byte{0, 0, 0, 0, 0, 1, 0xff, 0xff}
	negVersion := meta(kmsg.ConsumerMemberMetadata{Version: -1, Topics: []string{"t"}})

	return [][2][]byte{
		{javaV3, a0},
		{v0, aDup},
		{v1, aEmpty},
		{v2, a0},
		{negVersion, a0},
		{nil, nil},
		{[]byte{}, []byte{0}},
		{huge, huge},
		{hugeTopic, hugeTopic},
		{nullArray, nullArray},
		{nullString, nullString},
		{javaV3[:len(javaV3)-3], a0[:len(a0)-1]},
		{append(slices.Clone(v0), "trailing future fields"...), append(slices.Clone(a0), 1, 2, 3)},
		{[]byte("not a kafka blob at all"), []byte(`{"json":"from a non-Java client"}`)},
	}
}

// heapAllocs returns the cumulative bytes allocated on the heap. Unlike
// runtime.ReadMemStats it does not stop the world.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzClassicMemberBytes feeds arbitrary bytes as the subscription and
// assignment of a classic consumer group member. classicMember must never
// panic, must allocate in proportion to its input (a length prefix of 2^31
// in a 6-byte blob must not allocate gigabytes), must keep either the whole
// decoded blob or nothing of it, must not alias the response buffer, and
// must be deterministic.
func FuzzClassicMemberBytes(f *testing.F) {
	for _, s := range memberSeedBlobs() {
		f.Add(s[0], s[1], "consumer")
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 0}, "connect")
	f.Add([]byte{0, 1}, []byte{0, 1}, "")
	f.Fuzz(func(t *testing.T, meta, asg []byte, protocolType string) {
		inst := "static-1"
		rm := kmsg.DescribeGroupsResponseGroupMember{
			MemberID: "m-1", InstanceID: &inst, ClientID: "c", ClientHost: "/10.0.0.1",
			ProtocolMetadata: slices.Clone(meta), MemberAssignment: slices.Clone(asg),
		}
		before := heapAllocs()
		m := classicMember(protocolType, rm)
		allocated := heapAllocs() - before
		// Generous: the decoded structs cost a few dozen bytes per input
		// byte; an unchecked length prefix would cost gigabytes.
		if limit := uint64(1<<20 + 256*(len(meta)+len(asg))); allocated > limit {
			t.Fatalf("decoding %d+%d bytes allocated %d bytes (limit %d)", len(meta), len(asg), allocated, limit)
		}

		if m.ID != "m-1" || m.InstanceID != "static-1" || m.ClientID != "c" || m.ClientHost != "/10.0.0.1" {
			t.Fatalf("identity fields not copied: %+v", m)
		}
		if protocolType != "consumer" {
			if m.Subscribed != nil || m.Assigned != nil || m.Generation != -1 {
				t.Fatalf("protocol type %q decoded as consumer: %+v", protocolType, m)
			}
			return
		}

		// All or nothing, against the reference decoder.
		var wantMeta kmsg.ConsumerMemberMetadata
		metaOK := len(meta) > 0 && wantMeta.ReadFrom(meta) == nil
		if !metaOK {
			if m.Subscribed != nil || m.Generation != -1 {
				t.Fatalf("undecodable metadata left a partial subscription: %+v", m)
			}
		} else {
			if !slices.Equal(m.Subscribed, wantMeta.Topics) {
				t.Fatalf("subscribed %q, metadata has %q", m.Subscribed, wantMeta.Topics)
			}
			wantGen := int32(-1)
			if wantMeta.Version >= 2 {
				wantGen = wantMeta.Generation
			}
			if m.Generation != wantGen {
				t.Fatalf("generation %d, want %d (version %d)", m.Generation, wantGen, wantMeta.Version)
			}
		}
		var wantAsg kmsg.ConsumerMemberAssignment
		asgOK := len(asg) > 0 && wantAsg.ReadFrom(asg) == nil
		if !asgOK {
			if m.Assigned != nil {
				t.Fatalf("undecodable assignment left a partial assignment: %+v", m.Assigned)
			}
		} else {
			checkAssigned(t, m.Assigned, wantAsg.Topics)
		}

		// Output size is bounded by input size: every topic string takes
		// at least its 2-byte length, every partition 4 bytes.
		if 2*len(m.Subscribed) > len(meta) {
			t.Fatalf("%d subscribed topics from %d bytes", len(m.Subscribed), len(meta))
		}
		parts := 0
		for _, ps := range m.Assigned {
			parts += len(ps)
		}
		if 6*len(m.Assigned)+4*parts > len(asg) {
			t.Fatalf("%d topics, %d partitions from %d bytes", len(m.Assigned), parts, len(asg))
		}

		// No aliasing: scribbling over the response buffers (franz-go
		// reuses them) must not change the member.
		snapshot := cloneMember(m)
		for i := range rm.ProtocolMetadata {
			rm.ProtocolMetadata[i] ^= 0xff
		}
		for i := range rm.MemberAssignment {
			rm.MemberAssignment[i] ^= 0xff
		}
		if !reflect.DeepEqual(m, snapshot) {
			t.Fatalf("member aliases the response buffers")
		}

		// Deterministic.
		again := classicMember(protocolType, kmsg.DescribeGroupsResponseGroupMember{
			MemberID: "m-1", InstanceID: &inst, ClientID: "c", ClientHost: "/10.0.0.1",
			ProtocolMetadata: meta, MemberAssignment: asg,
		})
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("two decodes differ:\n%+v\n%+v", m, again)
		}
	})
}

// FuzzClassicMemberRoundTrip builds valid ConsumerMemberMetadata and
// ConsumerMemberAssignment blobs from fuzzed fields, as a Java or franz-go
// client would write them, and checks that classicMember gives back exactly
// the subscription, generation and assignment that were encoded, also with
// trailing bytes of a future version appended.
func FuzzClassicMemberRoundTrip(f *testing.F) {
	f.Add(int16(3), "orders\npayments", []byte{0, 0, 0, 1, 0, 0, 0, 2}, int32(7), []byte("ud"), int16(0), []byte{})
	f.Add(int16(0), "t", []byte{}, int32(-1), []byte(nil), int16(1), []byte{0xff})
	f.Add(int16(2), "a\na\nb", []byte{0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int32(0), []byte{}, int16(-1), []byte("x"))
	f.Add(int16(-5), "", []byte{1, 2, 3}, int32(2147483647), []byte{0}, int16(32767), []byte{})
	f.Add(int16(9), "\x00\xff\n\n√topic", []byte{0, 0, 0, 9}, int32(-2), []byte(nil), int16(2), []byte{0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, version int16, topicList string, partBytes []byte, generation int32, userData []byte, asgVersion int16, trailer []byte) {
		topics := strings.Split(topicList, "\n")
		if topicList == "" {
			topics = nil
		}
		for _, tp := range topics {
			if len(tp) > 32767 { // an int16-prefixed Kafka string
				t.Skip()
			}
		}
		var parts []int32
		for i := 0; i+4 <= len(partBytes); i += 4 {
			parts = append(parts, int32(binary.BigEndian.Uint32(partBytes[i:])))
		}
		rack := "rack-" + topicList
		if len(rack) > 32767 {
			rack = "r"
		}

		// Topics get the partitions round-robin: topic i owns parts i,
		// i+n, i+2n, ...
		a := kmsg.ConsumerMemberAssignment{Version: asgVersion, UserData: userData}
		owned := []kmsg.ConsumerMemberMetadataOwnedPartition{}
		want := map[string][]int32{}
		for i, tp := range topics {
			var ps []int32
			for j := i; j < len(parts); j += len(topics) {
				ps = append(ps, parts[j])
			}
			a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: tp, Partitions: ps})
			owned = append(owned, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: tp, Partitions: ps})
			want[tp] = append(want[tp], ps...)
		}
		meta := kmsg.ConsumerMemberMetadata{
			Version: version, Topics: topics, UserData: userData,
			OwnedPartitions: owned, Generation: generation, Rack: &rack,
		}
		metaBytes := meta.AppendTo(nil)
		asgBytes := a.AppendTo(nil)

		for _, tail := range [][]byte{nil, trailer} {
			m := classicMember("consumer", kmsg.DescribeGroupsResponseGroupMember{
				MemberID:         "m",
				ProtocolMetadata: append(slices.Clone(metaBytes), tail...),
				MemberAssignment: append(slices.Clone(asgBytes), tail...),
			})
			if len(m.Subscribed) != len(topics) || (len(topics) > 0 && !slices.Equal(m.Subscribed, topics)) {
				t.Fatalf("subscribed %q, encoded %q", m.Subscribed, topics)
			}
			wantGen := int32(-1)
			if version >= 2 {
				wantGen = generation
			}
			if m.Generation != wantGen {
				t.Fatalf("generation %d, want %d (metadata v%d)", m.Generation, wantGen, version)
			}
			if m.Assigned == nil {
				t.Fatalf("a valid assignment decoded as none")
			}
			checkAssignedMap(t, m.Assigned, want)
		}
	})
}

// checkAssigned compares a decoded assignment map with the topics of the
// reference decode: partitions of a topic listed twice are concatenated.
func checkAssigned(t *testing.T, got map[string][]int32, topics []kmsg.ConsumerMemberAssignmentTopic) {
	t.Helper()
	want := map[string][]int32{}
	for _, tp := range topics {
		want[tp.Topic] = append(want[tp.Topic], tp.Partitions...)
	}
	checkAssignedMap(t, got, want)
}

func checkAssignedMap(t *testing.T, got, want map[string][]int32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("assigned %v, want %v", got, want)
	}
	for tp, ps := range want {
		g, ok := got[tp]
		if !ok || !slices.Equal(g, ps) {
			t.Fatalf("assigned[%q] = %v, want %v", tp, g, ps)
		}
	}
}

func cloneMember(m observation.Member) observation.Member {
	c := m
	if m.Subscribed != nil {
		c.Subscribed = make([]string, len(m.Subscribed))
		for i, s := range m.Subscribed {
			c.Subscribed[i] = strings.Clone(s)
		}
	}
	if m.Assigned != nil {
		c.Assigned = make(map[string][]int32, len(m.Assigned))
		for k, v := range m.Assigned {
			c.Assigned[strings.Clone(k)] = slices.Clone(v)
		}
	}
	return c
}

// TestClassicMemberHostileLengths: length prefixes far beyond the blob are
// rejected before anything of that size is allocated.
func TestClassicMemberHostileLengths(t *testing.T) {
	for _, s := range memberSeedBlobs() {
		before := heapAllocs()
		m := classicMember("consumer", kmsg.DescribeGroupsResponseGroupMember{ProtocolMetadata: s[0], MemberAssignment: s[1]})
		if got := heapAllocs() - before; got > 1<<20 {
			t.Errorf("%x / %x: allocated %d bytes", s[0], s[1], got)
		}
		_ = m
	}
	// A member whose blobs are garbage keeps its identity and nothing else.
	m := classicMember("consumer", kmsg.DescribeGroupsResponseGroupMember{MemberID: "x", ProtocolMetadata: []byte{0, 0, 0x7f, 0xff, 0xff, 0xff}, MemberAssignment: bytes.Repeat([]byte{0xff}, 3)})
	if m.ID != "x" || m.Subscribed != nil || m.Assigned != nil || m.Generation != -1 {
		t.Errorf("member = %+v", m)
	}
}
