package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/klagx/klagx/internal/kfaketest"
)

// runCheckDebug runs `klagx check` in-process at debug log level (kgo's
// own logs included on stderr) and returns exit code, stdout and stderr.
func runCheckDebug(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	// kgo may still log from a connection goroutine after the command
	// returned: the writers must be safe for concurrent use.
	var out, errb kfaketest.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"check", "--log.level=debug"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestSecretsNeverLeakFromCheck: klagx check with SASL PLAIN, SCRAM-SHA-256 and
// SCRAM-SHA-512, the password from --kafka.sasl.password-file, from
// KLAGX_KAFKA_SASL_PASSWORD and from a --cluster sasl-password-env
// variable, right and wrong, in every output format: the password appears
// neither on stdout nor on stderr (debug logs included).
func TestSecretsNeverLeakFromCheck(t *testing.T) {
	formats := []string{"json", "table", "nagios"}
	for _, mech := range []struct{ kfake, klagx string }{
		{"PLAIN", "plain"},
		{"SCRAM-SHA-256", "scram-sha-256"},
		{"SCRAM-SHA-512", "scram-sha-512"},
	} {
		t.Run(mech.kfake, func(t *testing.T) {
			right := "Right-" + strings.ReplaceAll(mech.kfake, "-", "") + "-c8Vn3q"
			wrong := "Wrong-" + strings.ReplaceAll(mech.kfake, "-", "") + "-m2Tz6w"
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech.kfake, "klagx", right))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			env := kfaketest.Attach(t, c, kgo.SASL(saslMech(mech.kfake, "klagx", right)))
			env.CreateTopic("ledger", 1)
			env.Produce("ledger", 0, 10, time.Time{})
			env.Commit("payments", "ledger", map[int32]int64{0: 10})
			brokers := strings.Join(env.Addrs(), ",")

			for i, source := range []string{"password-file", "default-env", "cluster-env"} {
				for _, pw := range []string{right, wrong} {
					ok := pw == right
					// Right: every format. Wrong: one format per source
					// (each wrong run waits for --timeout).
					fs := formats
					if !ok {
						fs = formats[i : i+1]
					}
					for _, format := range fs {
						name := source + "/wrong/" + format
						if ok {
							name = source + "/right/" + format
						}
						t.Run(name, func(t *testing.T) {
							// A wrong password is UNKNOWN after --timeout; a right
							// one gets a generous deadline (SCRAM under -race on
							// a loaded machine is slow).
							timeout := "--timeout=1s"
							if ok {
								timeout = "--timeout=20s"
							}
							args := []string{"--window=0", timeout, "--warn-lag-seconds=0", "--crit-lag-seconds=0", "-o", format}
							switch source {
							case "password-file":
								f := filepath.Join(t.TempDir(), "pw")
								if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
									t.Fatal(err)
								}
								args = append(args, "--brokers", brokers, "--kafka.sasl.mechanism="+mech.klagx,
									"--kafka.sasl.username=klagx", "--kafka.sasl.password-file="+f)
							case "default-env":
								t.Setenv("KLAGX_KAFKA_SASL_PASSWORD", pw)
								args = append(args, "--brokers", brokers, "--kafka.sasl.mechanism="+mech.klagx, "--kafka.sasl.username=klagx")
							case "cluster-env":
								t.Setenv("KAFKA_PROD_PW", pw)
								args = append(args, "--cluster", "name=prod,brokers="+brokers+",sasl-mechanism="+mech.klagx+
									",sasl-username=klagx,sasl-password-env=KAFKA_PROD_PW")
							}
							code, out, stderr := runCheckDebug(t, args...)
							if ok {
								if code != checkOK || !strings.Contains(out, "payments") {
									t.Errorf("exit %d, want 0 with group payments\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
								}
							} else if code != checkUnknown {
								t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, checkUnknown, out, stderr)
							}
							for what, text := range map[string]string{"stdout": out, "stderr": stderr} {
								for _, s := range []string{right, wrong} {
									if strings.Contains(text, s) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(s))) {
										t.Errorf("a password leaked into %s", what)
									}
								}
							}
							if !strings.Contains(stderr, "component=kgo") {
								t.Errorf("kgo's debug logs were not captured, the check proves nothing:\n%s", stderr)
							}
						})
					}
				}
			}
		})
	}
}

func saslMech(kfakeMech, user, pass string) sasl.Mechanism {
	switch kfakeMech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	default:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
}
