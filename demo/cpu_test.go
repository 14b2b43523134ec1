//go:build unix

package demo

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestWorkloadCPU measures the CPU the default workload uses (this process:
// kfake, producers, consumers). It only runs with KLAGX_DEMO_CPU=1.
func TestWorkloadCPU(t *testing.T) {
	if os.Getenv("KLAGX_DEMO_CPU") == "" {
		t.Skip("set KLAGX_DEMO_CPU=1 to measure the workload's CPU over 20s")
	}
	e, err := Start(t.Context(), Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	time.Sleep(5 * time.Second) // past start-up
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	const window = 20 * time.Second
	c0, w0 := cpu(), time.Now()
	time.Sleep(window)
	used, wall := cpu()-c0, time.Since(w0)
	t.Logf("CPU %s over %s: %.1f%% of one core", used, wall.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds())
}
