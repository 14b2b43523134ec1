package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klagx/klagx/internal/kfaketest"
)

// TestWebConfigFileValidatedAtStart: klagx serve checks --web.config.file
// before it starts polling or listening; a bad file is a configuration
// error (exit code 2) naming the flag, the file and the problem.
func TestWebConfigFileValidatedAtStart(t *testing.T) {
	env := kfaketest.New(t, 1)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing cert file", "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n", "missing.pem"},
		{"unknown key", "tls_server_config:\n  cert_file: a.pem\n  key_file: a-key.pem\n  no_such_key: 1\n", "no_such_key"},
		{"not a bcrypt hash", "basic_auth_users:\n  prometheus: plain-text-password\n", "bcrypt"},
		{"file does not exist", "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, out, stderr := runCLI(t, "serve", "--brokers", strings.Join(env.Addrs(), ","),
				"--web.listen-address=127.0.0.1:0", "--web.config.file="+path, "--log.level=error")
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitUsage, out, stderr)
			}
			for _, want := range []string{"--web.config.file", path, tc.want} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not name %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "plain-text-password") {
				t.Error("the error quotes the file's content")
			}
		})
	}
}
