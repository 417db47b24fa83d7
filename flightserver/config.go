package flightserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:8815"
	DefaultMaxExchanges    = 64
	DefaultMaxMessageBytes = 256 << 20
	DefaultDrainTimeout    = 30 * time.Second
	// Per-request limits (limits.go, docs/flight.md).
	DefaultMaxActions     = 64
	DefaultMaxBatchRuns   = 1
	DefaultMaxGets        = 16
	DefaultMaxPuts        = 8
	DefaultMaxFlightInfos = 64
	DefaultMaxEndpoints   = 10000
	DefaultMaxCompileTime = 30 * time.Second
	DefaultMaxStateBytes  = 2 << 30
	// A DoGet fetch holds one group of source files with overlapping time
	// ranges at a time (one symbol-day of trades), and reads the next ahead.
	DefaultMaxFetchBufferBytes = 1 << 30
	DefaultIdleTimeout         = 5 * time.Minute
	// gRPC keepalive: ping an idle connection after KeepaliveTime and
	// drop it when the ping is not answered within KeepaliveTimeout, so a
	// vanished client's calls end and release their slots.
	DefaultKeepaliveTime    = time.Minute
	DefaultKeepaliveTimeout = 20 * time.Second
)

// Config is the server's settings, from flags and an optional YAML file
// whose keys are the flag names with underscores (listen, auth_tokens,
// tls_cert, tls_key, project, max_exchanges, max_message_bytes, log_level,
// drain_timeout, and the limits: max_actions, max_gets, max_puts,
// max_flight_infos, max_batch_runs, max_endpoints, max_compile_time, max_state_bytes,
// max_fetch_buffer_bytes, idle_timeout, keepalive_time, keepalive_timeout). Flags given on the
// command line win over the file.
type Config struct {
	Listen          string        `yaml:"listen"`
	AuthTokens      []string      `yaml:"auth_tokens"`
	TLSCert         string        `yaml:"tls_cert"`
	TLSKey          string        `yaml:"tls_key"`
	Project         string        `yaml:"project"`
	MaxExchanges    int           `yaml:"max_exchanges"`
	MaxMessageBytes int           `yaml:"max_message_bytes"`
	LogLevel        string        `yaml:"log_level"`
	DrainTimeout    time.Duration `yaml:"drain_timeout"`

	MaxActions       int           `yaml:"max_actions"`
	MaxBatchRuns     int           `yaml:"max_batch_runs"`
	MaxGets          int           `yaml:"max_gets"`
	MaxPuts          int           `yaml:"max_puts"`
	MaxFlightInfos   int           `yaml:"max_flight_infos"`
	MaxEndpoints     int           `yaml:"max_endpoints"`
	MaxCompileTime   time.Duration `yaml:"max_compile_time"`
	MaxStateBytes    int64         `yaml:"max_state_bytes"`
	MaxFetchBuffer   int64         `yaml:"max_fetch_buffer_bytes"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	KeepaliveTime    time.Duration `yaml:"keepalive_time"`
	KeepaliveTimeout time.Duration `yaml:"keepalive_timeout"`
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxExchanges <= 0 {
		c.MaxExchanges = DefaultMaxExchanges
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxActions, DefaultMaxActions)
	def(&c.MaxBatchRuns, DefaultMaxBatchRuns)
	def(&c.MaxGets, DefaultMaxGets)
	def(&c.MaxPuts, DefaultMaxPuts)
	def(&c.MaxFlightInfos, DefaultMaxFlightInfos)
	def(&c.MaxEndpoints, DefaultMaxEndpoints)
	defDur(&c.MaxCompileTime, DefaultMaxCompileTime)
	defDur(&c.IdleTimeout, DefaultIdleTimeout)
	defDur(&c.KeepaliveTime, DefaultKeepaliveTime)
	defDur(&c.KeepaliveTimeout, DefaultKeepaliveTimeout)
	if c.MaxStateBytes <= 0 {
		c.MaxStateBytes = DefaultMaxStateBytes
	}
	if c.MaxFetchBuffer <= 0 {
		c.MaxFetchBuffer = DefaultMaxFetchBufferBytes
	}
	return c
}

// Validate checks the settings that can be checked without opening files.
func (c Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("TLS needs both --tls-cert and --tls-key")
	}
	for i, t := range c.AuthTokens {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t\r\n") {
			return fmt.Errorf("auth token %d is empty or contains white space", i+1)
		}
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

// ParseLogLevel maps debug, info, warn and error to slog levels.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// LoadConfigFile reads a YAML config file. Unknown keys are errors, so a
// misspelt setting is not silently ignored.
func LoadConfigFile(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ParseFlags reads the command line of fdag-flight: the config file named
// by --config (when given) is loaded first, then every flag set explicitly
// overrides it. Defaults are applied last. Help goes to stderr.
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("fdag-flight", flag.ContinueOnError)
	// A parse error is returned (and printed once, by the caller); the
	// usage is printed on --help only, as fdag's commands do.
	fs.SetOutput(io.Discard)
	usage := func() {
		fmt.Fprint(stderr, usageHead)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprint(stderr, usageExamples)
	}
	fs.Usage = func() {}
	var (
		flagCfg    Config
		tokens     stringList
		configPath string
	)
	fs.StringVar(&flagCfg.Listen, "listen", DefaultListen, "`HOST:PORT` to serve on (port 0 picks a free port; the first line of stdout says which)")
	fs.Var(&tokens, "auth-token", "bearer `TOKEN` accepted by the server (repeatable); none: auth off")
	fs.StringVar(&flagCfg.TLSCert, "tls-cert", "", "TLS certificate `FILE` (PEM); with --tls-key enables TLS")
	fs.StringVar(&flagCfg.TLSKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	fs.StringVar(&flagCfg.Project, "project", ".", "project `DIR`: fdag.yaml (catalog settings), FeatureType YAML files and the embedded warehouse (must exist)")
	fs.StringVar(&configPath, "config", "", "YAML config `FILE` with the same settings, keys with underscores (max_gets: 4); flags given win")
	fs.IntVar(&flagCfg.MaxExchanges, "max-exchanges", DefaultMaxExchanges, "DoExchange calls (client.compute) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxMessageBytes, "max-message-bytes", DefaultMaxMessageBytes, "largest gRPC message received or sent, in `BYTES` (a larger batch is RESOURCE_EXHAUSTED naming this flag)")
	fs.StringVar(&flagCfg.LogLevel, "log-level", "info", "log `LEVEL` on stderr: debug, info, warn or error")
	fs.DurationVar(&flagCfg.DrainTimeout, "drain-timeout", DefaultDrainTimeout, "on SIGINT/SIGTERM, how long (`D`, e.g. 30s) in-flight calls may run before they are cancelled")
	fs.IntVar(&flagCfg.MaxActions, "max-actions", DefaultMaxActions, "DoAction calls (explain, validate, ...) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxBatchRuns, "max-batch-runs", DefaultMaxBatchRuns, "run_batch actions (batch runs into ft_features) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxGets, "max-gets", DefaultMaxGets, "DoGet calls (client.fetch, read_table) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxPuts, "max-puts", DefaultMaxPuts, "DoPut calls (client.ingest) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxFlightInfos, "max-flight-infos", DefaultMaxFlightInfos, "GetFlightInfo calls (planning a fetch) running at once (`N`); more are refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&flagCfg.MaxEndpoints, "max-endpoints", DefaultMaxEndpoints, "endpoints (`N`) one GetFlightInfo may return (symbols x shards); more is RESOURCE_EXHAUSTED")
	fs.DurationVar(&flagCfg.MaxCompileTime, "max-compile-time", DefaultMaxCompileTime, "time (`D`) one request may spend compiling its features; longer is RESOURCE_EXHAUSTED")
	fs.Int64Var(&flagCfg.MaxStateBytes, "max-state-bytes", DefaultMaxStateBytes, "window/lag state one exchange's or DoGet fetch's kernels hold, in `BYTES` (grows with the rows seen, up to the windows); more is RESOURCE_EXHAUSTED")
	fs.Int64Var(&flagCfg.MaxFetchBuffer, "max-fetch-buffer-bytes", DefaultMaxFetchBufferBytes, "`BYTES` of stored rows one DoGet (a fetch's source, a table ticket's rows) may hold at once to order them (data files with overlapping time ranges, usually one partition: a symbol-day of trades, a day of features); more is RESOURCE_EXHAUSTED")
	fs.DurationVar(&flagCfg.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "an exchange or DoPut that receives nothing for this long (`D`) is ended with DEADLINE_EXCEEDED")
	fs.DurationVar(&flagCfg.KeepaliveTime, "keepalive-time", DefaultKeepaliveTime, "ping a connection idle for this long (`D`; gRPC keepalive)")
	fs.DurationVar(&flagCfg.KeepaliveTimeout, "keepalive-timeout", DefaultKeepaliveTimeout, "close a connection whose keepalive ping is not answered within this (`D`)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w (fdag-flight --help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s (fdag-flight --help lists the flags)", strings.Join(fs.Args(), " "))
	}
	cfg := Config{}
	if configPath != "" {
		var err error
		if cfg, err = LoadConfigFile(configPath); err != nil {
			return Config{}, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	over := func(name string, apply func()) {
		if set[name] || configPath == "" {
			apply()
		}
	}
	over("listen", func() { cfg.Listen = flagCfg.Listen })
	if set["auth-token"] {
		cfg.AuthTokens = tokens
	}
	over("tls-cert", func() { cfg.TLSCert = flagCfg.TLSCert })
	over("tls-key", func() { cfg.TLSKey = flagCfg.TLSKey })
	over("max-exchanges", func() { cfg.MaxExchanges = flagCfg.MaxExchanges })
	over("max-message-bytes", func() { cfg.MaxMessageBytes = flagCfg.MaxMessageBytes })
	over("log-level", func() { cfg.LogLevel = flagCfg.LogLevel })
	over("drain-timeout", func() { cfg.DrainTimeout = flagCfg.DrainTimeout })
	over("max-actions", func() { cfg.MaxActions = flagCfg.MaxActions })
	over("max-batch-runs", func() { cfg.MaxBatchRuns = flagCfg.MaxBatchRuns })
	over("max-gets", func() { cfg.MaxGets = flagCfg.MaxGets })
	over("max-puts", func() { cfg.MaxPuts = flagCfg.MaxPuts })
	over("max-flight-infos", func() { cfg.MaxFlightInfos = flagCfg.MaxFlightInfos })
	over("max-endpoints", func() { cfg.MaxEndpoints = flagCfg.MaxEndpoints })
	over("max-compile-time", func() { cfg.MaxCompileTime = flagCfg.MaxCompileTime })
	over("max-state-bytes", func() { cfg.MaxStateBytes = flagCfg.MaxStateBytes })
	over("max-fetch-buffer-bytes", func() { cfg.MaxFetchBuffer = flagCfg.MaxFetchBuffer })
	over("idle-timeout", func() { cfg.IdleTimeout = flagCfg.IdleTimeout })
	over("keepalive-time", func() { cfg.KeepaliveTime = flagCfg.KeepaliveTime })
	over("keepalive-timeout", func() { cfg.KeepaliveTimeout = flagCfg.KeepaliveTimeout })
	over("project", func() { cfg.Project = flagCfg.Project })
	if cfg.Project == "" {
		cfg.Project = "."
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	// Serving a typo would open (and create) an empty warehouse there.
	if st, err := os.Stat(cfg.Project); err != nil || !st.IsDir() {
		return cfg, fmt.Errorf("--project %s: no such project directory (mkdir it for a new project, or fdag demo-data --project %s)", cfg.Project, cfg.Project)
	}
	return cfg, nil
}

const usageHead = `usage: fdag-flight [flags]

Serves fdag over Arrow Flight (docs/flight.md): DoExchange computes features
of the client's batches, DoGet fetches features or rows from the project's
warehouse, DoPut ingests, DoAction explains, validates and runs batch runs.
With no flags it serves the project in the current directory on
127.0.0.1:8815, without auth or TLS. The first line of stdout is
"listening on HOST:PORT"; logs go to stderr. SIGINT or SIGTERM drains
in-flight calls for up to --drain-timeout. Every limit refuses a request
past it with RESOURCE_EXHAUSTED naming the flag.

flags:
`

const usageExamples = `
examples:
  fdag-flight                                    # ./ on 127.0.0.1:8815
  fdag-flight --project ~/research --listen 127.0.0.1:0
  fdag-flight --listen 0.0.0.0:8815 --auth-token "$FDAG_TOKEN" \
      --tls-cert server.pem --tls-key server-key.pem
  fdag-flight --config flight.yaml --log-level debug   # flight.yaml: listen: ..., max_gets: 4
  fdag-flight --max-exchanges 8 --max-state-bytes 1073741824 --max-compile-time 5s
`
