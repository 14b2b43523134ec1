package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestDemoCheckCommandReproducesTheDemo: the check command the demo prints
// parses, and judges with exactly the thresholds the demo's exporter uses,
// so check and /metrics agree on every demo group.
func TestDemoCheckCommandReproducesTheDemo(t *testing.T) {
	poll := 5 * time.Second
	want := demoThresholds(poll)
	args := demoCheckCommand("./bin/klagx", []string{"127.0.0.1:1", "127.0.0.1:2"}, want)
	if args[0] != "./bin/klagx" || args[1] != "check" {
		t.Fatalf("command %q", args)
	}
	var c cli
	var out, errb bytes.Buffer
	kctx, file, err := parse(context.Background(), &c, args[1:], &out, &errb)
	if err != nil {
		t.Fatalf("the printed command does not parse: %v", err)
	}
	if kctx.Command() != "check" {
		t.Fatalf("command %q", kctx.Command())
	}
	cfg, err := c.Check.toConfig(file)
	if err != nil {
		t.Fatalf("the printed command is rejected: %v", err)
	}
	if got := cfg.Thresholds.Default; got != want {
		t.Errorf("check thresholds %+v, demo thresholds %+v", got, want)
	}
	if b := cfg.Clusters[0].Brokers; len(b) != 2 || b[0] != "127.0.0.1:1" || b[1] != "127.0.0.1:2" {
		t.Errorf("brokers %v", b)
	}
}
