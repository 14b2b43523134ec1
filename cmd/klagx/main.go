// Command klagx is a Kafka consumer-lag Prometheus exporter and CLI.
//
// This package is only the kong command line: it parses flags, environment
// variables and the --config.file, builds a config.Config and hands it to the
// packages that do the work. It holds no Kafka or metrics logic.
//
// Precedence of every setting, highest first:
//
//  1. command-line flags
//  2. KLAGX_* environment variables (--a.b-c is KLAGX_A_B_C)
//  3. the YAML --config.file (--a.b-c is `a: {b_c: ...}`)
//  4. the built-in defaults
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error
// (klagx check: 3, UNKNOWN, since 2 means CRITICAL there). Every flag,
// environment variable and config-file key is checked at start, and so are
// the files and secret variables the clusters name.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/klagx/klagx/config"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// envPrefix prefixes the environment variable of every flag.
const envPrefix = "KLAGX"

// globals is what every command's Run method receives from kong: declare it
// as `func (c *fooCmd) Run(g *globals) error`. A context.Context parameter
// is bound as well (the same one as g.Context).
type globals struct {
	// Context is cancelled on SIGINT or SIGTERM; pass it to anything that
	// blocks.
	Context context.Context
	// Logger is the process logger (--log.level, --log.format), writing to
	// Stderr. Pass it on, add attributes with With; never install it as the
	// slog default.
	Logger *slog.Logger
	// ConfigFile is the parsed --config.file, or nil when none was given.
	// Its flag-mirroring keys are already applied to the flag structs;
	// ConfigFile.Clusters is what is left to use.
	ConfigFile *config.File
	// Sources says where each flag's value came from; its describe names
	// them in configuration errors.
	Sources *sources
	// Stdout is for command output (tables, JSON, version); Stderr for
	// diagnostics. Tests replace both.
	Stdout io.Writer
	Stderr io.Writer
}

// cli is the whole command line. Flags here are global: they are accepted
// before or after the command name.
type cli struct {
	Log logFlags `embed:"" prefix:"log." group:"logging"`

	Serve      serveCmd      `cmd:"" help:"Run the exporter: poll Kafka in the background and serve Prometheus metrics."`
	Alerts     alertsCmd     `cmd:"" help:"Write the Prometheus alert rules (rules file or PrometheusRule manifest)."`
	Check      checkCmd      `cmd:"" help:"One-shot health check of consumer groups: table, JSON or Nagios output and an exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)."`
	Dashboards dashboardsCmd `cmd:"" help:"Write the Grafana dashboards (JSON) to --out."`
	Demo       demoCmd       `cmd:"" help:"Run a self-contained demo: an in-process Kafka cluster with producers and consumers, and the exporter."`
	Version    versionCmd    `cmd:"" help:"Print the version, git revision and Go version."`
}

const description = `Kafka consumer-lag Prometheus exporter and CLI.

Settings are taken, highest precedence first, from command-line flags, KLAGX_* environment variables (--a.b-c is KLAGX_A_B_C), the YAML --config.file (--a.b-c is a: {b_c: ...}), and the defaults.`

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		// A second Ctrl-C kills the process the default way.
		signal.Stop(sigs)
		if sig, ok := s.(syscall.Signal); ok {
			cancel(signalCause{sig})
		} else {
			cancel(nil)
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel(nil)
	os.Exit(code)
}

// signalCause is the cancellation cause of the process context when a
// signal (SIGINT, SIGTERM) ended it.
type signalCause struct{ sig syscall.Signal }

func (s signalCause) Error() string { return s.sig.String() + " received" }

// interruptedCode is the exit code of a command the user stopped on
// purpose (klagx check --watch): 128 + the signal number, as a shell
// reports it (130 for Ctrl-C, 143 for SIGTERM), or 0 when ctx ended
// otherwise.
func interruptedCode(ctx context.Context) int {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		return 128 + int(sc.sig)
	}
	return exitOK
}

// usageError marks an error caused by the command line or the configuration
// (exit code 2), as opposed to a runtime failure (exit code 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a command's own exit code (klagx check); silent means
// the command has already said everything on stdout.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// exitRequest is how kong's Exit (after --help) unwinds back into run.
type exitRequest struct{ code int }

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fail := func(c int, err error) int {
		fmt.Fprintf(stderr, "klagx: error: %s\n", err)
		return c
	}
	var c cli
	kctx, file, err := parse(ctx, &c, args, stdout, stderr)
	var exit exitRequest
	var pe *kong.ParseError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &pe):
		return fail(usageCode(err, args), newSources(pe.Context, file).describe(err))
	case err != nil:
		return fail(usageCode(err, args), err)
	}
	logger, err := newLogger(c.Log, stderr)
	if err != nil {
		return fail(commandUsageCode(kctx.Command()), err)
	}
	g := &globals{Context: ctx, Logger: logger, ConfigFile: file, Sources: newSources(kctx, file), Stdout: stdout, Stderr: stderr}
	if err := kctx.Run(g); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if !ee.silent {
				fmt.Fprintf(stderr, "klagx: error: %s\n", ee)
			}
			return ee.code
		}
		var ue usageError
		if errors.As(err, &ue) {
			return fail(exitUsage, err)
		}
		return fail(exitFailure, err)
	}
	return exitOK
}

// usageCode is the exit code of a command-line error: 2, except for klagx
// check, where 2 means CRITICAL and a usage error is UNKNOWN (3). When kong
// did not get as far as the command, the first command name in args decides.
func usageCode(err error, args []string) int {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		if cmd := pe.Context.Command(); cmd != "" {
			return commandUsageCode(cmd)
		}
	}
	for _, a := range args {
		switch a {
		case "check":
			return checkUnknown
		case "serve", "alerts", "dashboards", "demo", "version":
			return exitUsage
		}
	}
	return exitUsage
}

// commandUsageCode is the usage-error exit code of the command kong selected
// ("check", "serve", ...).
func commandUsageCode(cmd string) int {
	if cmd == "check" || strings.HasPrefix(cmd, "check ") {
		return checkUnknown
	}
	return exitUsage
}

// parse loads the config file named on the command line (or in
// KLAGX_CONFIG_FILE) and parses args into c with the file as a resolver.
// A --help returns an exitRequest error.
func parse(ctx context.Context, c *cli, args []string, stdout, stderr io.Writer) (kctx *kong.Context, file *config.File, err error) {
	// The file must be read before kong parses, because it is one of
	// kong's sources: find its path the way kong will.
	if path := configFilePath(args); path != "" {
		if file, err = config.LoadFile(path); err != nil {
			return nil, nil, err
		}
	}
	parser, err := kong.New(c, append([]kong.Option{
		kong.Name("klagx"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.DefaultEnvars(envPrefix),
		kong.Resolvers(fileResolver(file)),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.ExplicitGroups(helpGroups),
	}, durationMappers()...)...)
	if err != nil {
		return nil, nil, err // a bug in the cli struct tags
	}
	defer func() {
		if r := recover(); r != nil {
			exit, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			kctx, file, err = nil, nil, exit
		}
	}()
	kctx, err = parser.Parse(args)
	if err != nil {
		return nil, file, err // the file, to name it in the error
	}
	return kctx, file, nil
}

func (e exitRequest) Error() string { return fmt.Sprintf("exit %d", e.code) }

// configFilePath finds --config.file in args (last one wins, as in kong), or
// else KLAGX_CONFIG_FILE.
func configFilePath(args []string) string {
	path, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "--config.file" && i+1 < len(args):
			path, found = args[i+1], true
			i++
		case strings.HasPrefix(a, "--config.file="):
			path, found = strings.TrimPrefix(a, "--config.file="), true
		}
	}
	if found {
		return path
	}
	return os.Getenv(envPrefix + "_CONFIG_FILE")
}

// fileResolver is the config-file layer. kong consults resolvers after
// environment variables and lets them override, so a flag whose environment
// variable is set is skipped here to keep "env beats file". Flags given on
// the command line are never passed to resolvers.
//
// The file's keys mirror the flags of serve and check (and the global ones):
// flags of other commands that happen to share a name (alerts
// --growth-window, demo --brokers, --poll-interval, ...) are not read from
// it.
func fileResolver(f *config.File) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, path *kong.Path, flag *kong.Flag) (any, error) {
		if path != nil && path.Command != nil && path.Command.Name != "serve" && path.Command.Name != "check" {
			return nil, nil
		}
		for _, env := range flag.Envs {
			if _, set := os.LookupEnv(env); set {
				return nil, nil
			}
		}
		v, ok := f.Lookup(flag.Name)
		if !ok {
			return nil, nil
		}
		if flag.IsBool() {
			return v, nil
		}
		return stringify(v), nil
	})
}

// stringify turns YAML scalars (cluster_name: 123) into the strings kong's
// mappers expect for non-bool flags; the file's schema has already checked
// the types.
func stringify(v any) any {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = stringify(e)
		}
		return out
	default:
		return fmt.Sprint(v)
	}
}

// configFileFlag is --config.file, of the commands that read it (serve and
// check). parse reads the file before kong does (configFilePath).
type configFileFlag struct {
	ConfigFile string `name:"config.file" group:"config" placeholder:"PATH" help:"YAML configuration file. Its keys mirror the flags (--a.b-c is a: {b_c: ...}) plus clusters: and thresholds: lists; unknown keys are errors; flags and KLAGX_* environment variables override it. Default: none."`
}

// helpGroups are the headings of --help, in order.
var helpGroups = []kong.Group{
	{Key: "config", Title: "Configuration file:"},
	{Key: "kafka", Title: "Kafka connection:"},
	{Key: "tls", Title: "Kafka TLS (the --brokers cluster; --cluster has tls-* keys):"},
	{Key: "sasl", Title: "Kafka SASL (the --brokers cluster; --cluster has sasl-* keys):"},
	{Key: "polling", Title: "Polling:"},
	{Key: "metrics", Title: "Metric families:"},
	{Key: "filters", Title: "Filters:"},
	{Key: "time-lag", Title: "Time lag:"},
	{Key: "thresholds", Title: "Group status thresholds:"},
	{Key: "check", Title: "Check:"},
	{Key: "web", Title: "Web server:"},
	{Key: "otlp", Title: "OpenTelemetry (OTLP) push:"},
	{Key: "alerts", Title: "Alert rules:"},
	{Key: "prometheusrule", Title: "PrometheusRule manifest (--format prometheusrule):"},
	{Key: "dashboards", Title: "Dashboards:"},
	{Key: "demo", Title: "Demo:"},
	{Key: "logging", Title: "Logging:"},
}

// logFlags configure the process logger.
type logFlags struct {
	Level  string `name:"level" default:"info" placeholder:"LEVEL" help:"Log level: debug, info, warn or error. Default: info."`
	Format string `name:"format" default:"text" placeholder:"FORMAT" help:"Log format: text (alias logfmt) or json. Default: text."`
}

// newLogger builds the slog logger for the log flags, writing to w.
func newLogger(f logFlags, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(f.Level) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("--log.level: %q is not one of debug, info, warn, error", f.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.Format) {
	case "text", "logfmt":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log.format: %q is not one of text, logfmt, json", f.Format)
	}
}
