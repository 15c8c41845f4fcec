package service

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is everything "rpzfw serve" takes. It comes from a YAML file,
// then RPZFW_* environment variables, then flags, each overriding the one
// before. Zero values take the defaults (see Defaults).
type Config struct {
	// Listen is the API's address.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite database, the master key file, feed caches
	// and the sandbox's state.
	DataDir string `yaml:"data_dir"`
	// Database is a PostgreSQL URL (postgres://...) or a SQLite file path;
	// empty: DataDir/rpzfw.db.
	Database string `yaml:"database"`
	// MasterKeyFile is used when RPZFW_MASTER_KEY is not set; created with
	// mode 0600 on first start.
	MasterKeyFile string `yaml:"master_key_file"`
	// Sandbox runs the built-in DNS Firewall emulator as region "sandbox",
	// with a sample device on first start.
	Sandbox bool `yaml:"sandbox"`
	// SandboxAPI and SandboxDNS are where the sandbox listens.
	SandboxAPI string `yaml:"sandbox_api"`
	SandboxDNS string `yaml:"sandbox_dns"`
	// SandboxSettle is how long the sandbox's lists stay UPDATING.
	SandboxSettle time.Duration `yaml:"sandbox_settle"`
	// SandboxLogs runs the sandbox's log path: its query logs go to a
	// local S3, whose notifications go to a local SQS queue that the log
	// consumer reads (both served at SandboxAWS).
	SandboxLogs bool   `yaml:"sandbox_logs"`
	SandboxAWS  string `yaml:"sandbox_aws"`
	// SandboxLogFlush is how often the sandbox writes a query log object.
	SandboxLogFlush time.Duration `yaml:"sandbox_log_flush"`
	// SandboxTraffic sends a trickle of DNS queries through the sandbox,
	// so that its reports have something to show.
	SandboxTraffic bool `yaml:"sandbox_traffic"`
	// Instance names this process in leases and sync history.
	Instance string `yaml:"instance"`
	// Org is the organization created on first start.
	Org string `yaml:"org"`
	// Reconcile is how often every device is synced even when nothing
	// changed, to repair drift.
	Reconcile time.Duration `yaml:"reconcile"`
	// Poll is how often the store is read for changes made by other
	// instances.
	Poll time.Duration `yaml:"poll"`
	// LeaseTTL is how long an instance holds an account and region
	// without renewing; another instance takes over after it.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Rate is the API calls per second per account and region.
	Rate float64 `yaml:"rate"`
	// AllowAmbientCredentials lets devices use this server's own AWS
	// credential chain.
	AllowAmbientCredentials bool `yaml:"allow_ambient_credentials"`
	// FileRoots are directories that file sources may be read from.
	FileRoots []string `yaml:"file_roots"`
	// NotifyListen, when set, answers DNS NOTIFY for zone-transfer sources.
	NotifyListen string `yaml:"notify_listen"`
	// PublicMetrics serves /metrics without a token.
	PublicMetrics bool `yaml:"public_metrics"`
	// SecureCookies marks the portal's cookies Secure on plain HTTP too:
	// for a proxy in front that ends TLS.
	SecureCookies bool `yaml:"secure_cookies"`
	// ShutdownTimeout bounds how long a stop waits for running syncs.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// DefaultDataDir is $XDG_DATA_HOME/rpzfw or ~/.local/share/rpzfw.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "rpzfw")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "rpzfw")
	}
	return "rpzfw-data"
}

// Defaults is the embedded default: SQLite in the data directory and the
// sandbox on.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         DefaultDataDir(),
		Sandbox:         true,
		SandboxAPI:      "127.0.0.1:5380",
		SandboxDNS:      "127.0.0.1:5354",
		SandboxSettle:   2 * time.Second,
		SandboxLogs:     true,
		SandboxAWS:      "127.0.0.1:5381",
		SandboxLogFlush: 10 * time.Second,
		SandboxTraffic:  true,
		Org:             "default",
		Reconcile:       15 * time.Minute,
		Poll:            time.Second,
		LeaseTTL:        15 * time.Second,
		Rate:            5,
		ShutdownTimeout: 30 * time.Second,
	}
}

// LoadFile reads a YAML config file over c. Unknown keys are errors.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// envKeys maps RPZFW_* variables to config fields.
var envKeys = []string{"LISTEN", "DATA_DIR", "DATABASE", "MASTER_KEY_FILE", "SANDBOX", "SANDBOX_API", "SANDBOX_DNS", "SANDBOX_SETTLE",
	"SANDBOX_LOGS", "SANDBOX_AWS", "SANDBOX_LOG_FLUSH", "SANDBOX_TRAFFIC", "INSTANCE", "ORG",
	"RECONCILE", "POLL", "LEASE_TTL", "RATE", "ALLOW_AMBIENT_CREDENTIALS", "FILE_ROOTS", "NOTIFY_LISTEN", "PUBLIC_METRICS", "SECURE_COOKIES"}

// LoadEnv applies RPZFW_* variables (getenv is os.Getenv in production).
func (c *Config) LoadEnv(getenv func(string) string) error {
	for _, k := range envKeys {
		v := getenv("RPZFW_" + k)
		if v == "" {
			continue
		}
		if err := c.Set(strings.ToLower(k), v); err != nil {
			return fmt.Errorf("RPZFW_%s: %w", k, err)
		}
	}
	return nil
}

// Set sets one field by its YAML name from text (environment and flags).
func (c *Config) Set(key, v string) error {
	dur := func(dst *time.Duration) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q: want a duration such as 15m", v)
		}
		*dst = d
		return nil
	}
	boolean := func(dst *bool) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q: want true or false", v)
		}
		*dst = b
		return nil
	}
	switch key {
	case "listen":
		c.Listen = v
	case "data_dir":
		c.DataDir = v
	case "database":
		c.Database = v
	case "master_key_file":
		c.MasterKeyFile = v
	case "sandbox":
		return boolean(&c.Sandbox)
	case "sandbox_api":
		c.SandboxAPI = v
	case "sandbox_dns":
		c.SandboxDNS = v
	case "sandbox_settle":
		return dur(&c.SandboxSettle)
	case "sandbox_logs":
		return boolean(&c.SandboxLogs)
	case "sandbox_aws":
		c.SandboxAWS = v
	case "sandbox_log_flush":
		return dur(&c.SandboxLogFlush)
	case "sandbox_traffic":
		return boolean(&c.SandboxTraffic)
	case "instance":
		c.Instance = v
	case "org":
		c.Org = v
	case "reconcile":
		return dur(&c.Reconcile)
	case "poll":
		return dur(&c.Poll)
	case "lease_ttl":
		return dur(&c.LeaseTTL)
	case "rate":
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q: want calls per second", v)
		}
		c.Rate = r
	case "allow_ambient_credentials":
		return boolean(&c.AllowAmbientCredentials)
	case "file_roots":
		c.FileRoots = strings.Split(v, string(os.PathListSeparator))
	case "notify_listen":
		c.NotifyListen = v
	case "public_metrics":
		return boolean(&c.PublicMetrics)
	case "secure_cookies":
		return boolean(&c.SecureCookies)
	default:
		return fmt.Errorf("unknown setting %q", key)
	}
	return nil
}

// Check validates the config and fills derived defaults.
func (c *Config) Check() error {
	if c.DataDir == "" {
		return fmt.Errorf("data_dir is required")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port", c.Listen)
	}
	if c.Sandbox && c.SandboxLogs {
		if _, _, err := net.SplitHostPort(c.SandboxAWS); err != nil {
			return fmt.Errorf("sandbox_aws %q: want host:port", c.SandboxAWS)
		}
		if c.SandboxLogFlush < 100*time.Millisecond {
			return fmt.Errorf("sandbox_log_flush %v: want at least 100ms", c.SandboxLogFlush)
		}
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "rpzfw.db")
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		c.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Rate <= 0 || c.Rate > 1000 {
		return fmt.Errorf("rate %v: want more than 0 and at most 1000 calls per second", c.Rate)
	}
	if c.Reconcile < time.Minute {
		return fmt.Errorf("reconcile %v: want at least 1m", c.Reconcile)
	}
	if c.LeaseTTL < 2*c.Poll {
		return fmt.Errorf("lease_ttl %v must be at least twice poll (%v): a lease is renewed every poll", c.LeaseTTL, c.Poll)
	}
	if c.Org == "" {
		c.Org = "default"
	}
	for i, r := range c.FileRoots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("file_roots[%d] %q: want an absolute path", i, r)
		}
	}
	return nil
}

// IsPostgres says whether Database names PostgreSQL.
func (c *Config) IsPostgres() bool {
	return strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
}

// LogValue logs the config with the database password redacted.
func (c Config) LogValue() slog.Value {
	db := c.Database
	if u, err := url.Parse(db); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "redacted")
			db = u.String()
		}
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen), slog.String("data_dir", c.DataDir), slog.String("database", db),
		slog.Bool("sandbox", c.Sandbox), slog.Bool("sandbox_logs", c.SandboxLogs), slog.Bool("sandbox_traffic", c.SandboxTraffic), slog.String("instance", c.Instance), slog.Duration("reconcile", c.Reconcile),
		slog.Duration("lease_ttl", c.LeaseTTL), slog.Float64("rate", c.Rate),
		slog.Bool("allow_ambient_credentials", c.AllowAmbientCredentials), slog.Any("file_roots", c.FileRoots),
		slog.String("notify_listen", c.NotifyListen), slog.String("master_key", "from "+keySource(c)),
	)
}

func keySource(c Config) string {
	if os.Getenv("RPZFW_MASTER_KEY") != "" {
		return "RPZFW_MASTER_KEY"
	}
	return c.MasterKeyFile
}
