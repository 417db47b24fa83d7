package flightserver

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	cfg, err := ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8815" || cfg.MaxExchanges != DefaultMaxExchanges || cfg.MaxMessageBytes != DefaultMaxMessageBytes ||
		cfg.LogLevel != "info" || len(cfg.AuthTokens) != 0 || cfg.Project != "." || cfg.DrainTimeout != DefaultDrainTimeout {
		t.Fatalf("%+v", cfg)
	}
}

func TestParseFlagsConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flight.yaml")
	os.WriteFile(path, []byte("listen: 0.0.0.0:9000\nauth_tokens: [a, b]\nmax_exchanges: 3\nlog_level: debug\ndrain_timeout: 5s\n"), 0o600)
	cfg, err := ParseFlags([]string{"--config", path, "--max-exchanges", "7", "--auth-token", "c"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9000" || cfg.MaxExchanges != 7 || strings.Join(cfg.AuthTokens, ",") != "c" ||
		cfg.LogLevel != "debug" || cfg.DrainTimeout != 5*time.Second || cfg.MaxMessageBytes != DefaultMaxMessageBytes {
		t.Fatalf("%+v", cfg)
	}
	cfg, err = ParseFlags([]string{"--config", path}, io.Discard)
	if err != nil || strings.Join(cfg.AuthTokens, ",") != "a,b" {
		t.Fatalf("%+v %v", cfg, err)
	}

	os.WriteFile(path, []byte("listne: x\n"), 0o600)
	if _, err := ParseFlags([]string{"--config", path}, io.Discard); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("misspelt key: %v", err)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--tls-cert", "c.pem"},
		{"--log-level", "loud"},
		{"--auth-token", ""},
		{"extra"},
	} {
		if _, err := ParseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
