package shard

import (
	"strconv"
	"testing"
)

// TestExactlyOneOwner: every group is owned by exactly one shard, and the
// shards get similar shares.
func TestExactlyOneOwner(t *testing.T) {
	for _, total := range []int{1, 2, 3, 7} {
		counts := make([]int, total)
		for i := range 10000 {
			g := "group-" + strconv.Itoa(i)
			owners := 0
			for s := range total {
				if Owns(g, s, total) {
					owners++
					counts[s]++
				}
			}
			if owners != 1 {
				t.Fatalf("%s has %d owners among %d shards", g, owners, total)
			}
		}
		for s, n := range counts {
			if want := 10000 / total; n < want*8/10 || n > want*12/10 {
				t.Errorf("%d shards: shard %d owns %d groups (expected about %d)", total, s, n, want)
			}
		}
	}
}

// TestGrowingMovesFewGroups: going from 3 to 4 shards moves about a quarter
// of the groups, not most of them (consistent hashing).
func TestGrowingMovesFewGroups(t *testing.T) {
	moved := 0
	for i := range 10000 {
		g := "g" + strconv.Itoa(i)
		if Owner(g, 3) != Owner(g, 4) {
			moved++
		}
	}
	if moved > 3000 {
		t.Fatalf("%d of 10000 groups moved from 3 to 4 shards", moved)
	}
}

func TestStable(t *testing.T) {
	// The assignment is part of the deployment contract: it must not
	// change between versions.
	if got := Owner("orders-processor", 4); got != Owner("orders-processor", 4) {
		t.Fatal("unstable")
	}
	if Owner("x", 0) != 0 || Owner("x", 1) != 0 {
		t.Fatal("total <= 1 must be shard 0")
	}
}
