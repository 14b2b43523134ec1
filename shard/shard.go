// Package shard splits consumer groups between several klagx replicas that
// watch the same cluster, the way kube-state-metrics shards objects: the
// FNV-64a hash of the group name feeds a jump consistent hash, so every group
// is owned by exactly one of N shards, and changing N moves as few groups as
// possible. Groups a shard does not own are dropped before any request about
// them is built.
package shard

import "hash/fnv"

// Owner returns the shard (0 ≤ owner < total) that owns group. total < 1 is
// treated as 1.
func Owner(group string, total int) int {
	if total <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(group))
	return jump(h.Sum64(), total)
}

// Owns reports whether shard owns group among total shards.
func Owns(group string, shard, total int) bool {
	return Owner(group, total) == shard
}

// jump is Lamping and Veach's jump consistent hash: the bucket of key among
// n buckets.
func jump(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
