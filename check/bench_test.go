package check

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/status"
)

// BenchmarkCheck1000Groups is a one-sample check (--window 0) over 1,000
// groups with lag on 3 brokers, kfake in the same process: the "about a
// second" target of klagx check.
func BenchmarkCheck1000Groups(b *testing.B) {
	env := kfaketest.New(b, 3)
	env.CreateTopic("t", 6)
	for p := range int32(6) {
		env.Produce("t", p, 100, time.Now().Add(-time.Hour))
	}
	for i := range 1000 {
		env.Commit("g"+strconv.Itoa(i), "t", map[int32]int64{int32(i % 6): int64(i % 100)})
	}
	cfg := env.Config(func(c *config.Config) { c.PollInterval = 30 * time.Second })
	b.ResetTimer()
	for b.Loop() {
		res, err := Run(context.Background(), Options{Config: cfg, Timeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if n := res.Counts[status.SeverityOK] + res.Counts[status.SeverityWarning] + res.Counts[status.SeverityCritical]; n != 1000 {
			b.Fatalf("%d groups judged", n)
		}
	}
}
