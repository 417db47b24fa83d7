package flightserver

import (
	"errors"
	"flag"
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
		cfg.LogLevel != "info" || len(cfg.AuthTokens) != 0 || cfg.Project != "." || cfg.DrainTimeout != DefaultDrainTimeout ||
		cfg.MaxFetchBuffer != DefaultMaxFetchBufferBytes {
		t.Fatalf("%+v", cfg)
	}
}

func TestParseFlagsConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flight.yaml")
	os.WriteFile(path, []byte("listen: 0.0.0.0:9000\nauth_tokens: [a, b]\nmax_exchanges: 3\nlog_level: debug\ndrain_timeout: 5s\nmax_fetch_buffer_bytes: 1000\n"), 0o600)
	cfg, err := ParseFlags([]string{"--config", path, "--max-exchanges", "7", "--auth-token", "c"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9000" || cfg.MaxExchanges != 7 || strings.Join(cfg.AuthTokens, ",") != "c" ||
		cfg.LogLevel != "debug" || cfg.DrainTimeout != 5*time.Second || cfg.MaxMessageBytes != DefaultMaxMessageBytes || cfg.MaxFetchBuffer != 1000 {
		t.Fatalf("%+v", cfg)
	}
	cfg, err = ParseFlags([]string{"--config", path, "--max-fetch-buffer-bytes", "5000"}, io.Discard)
	if err != nil || strings.Join(cfg.AuthTokens, ",") != "a,b" || cfg.MaxFetchBuffer != 5000 {
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

// TestParseFlagsHelp: --help has a synopsis, examples and a described
// placeholder for every flag (as fdag COMMAND --help), a parse error is
// returned without the usage printed around it (it was printed twice),
// and a --project that does not exist is refused before anything opens it.
func TestParseFlagsHelp(t *testing.T) {
	var help strings.Builder
	if _, err := ParseFlags([]string{"--help"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	out := help.String()
	for _, want := range []string{"usage: fdag-flight [flags]", "examples:", "fdag-flight --project ~/research", "-listen HOST:PORT", "-auth-token TOKEN", "-max-gets N", "-idle-timeout D"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	for _, bare := range []string{" value\n", " string\n", " int\n", " duration\n", " int64\n"} {
		if strings.Contains(out, bare) {
			t.Errorf("a flag without a placeholder (%q) in:\n%s", strings.TrimSpace(bare), out)
		}
	}

	var errOut strings.Builder
	_, err := ParseFlags([]string{"--bogus"}, &errOut)
	if err == nil || !strings.Contains(err.Error(), "-bogus") || !strings.Contains(err.Error(), "fdag-flight --help") || errOut.Len() != 0 {
		t.Errorf("bad flag: err %v, printed %q", err, errOut.String())
	}

	typo := filepath.Join(t.TempDir(), "projcet")
	if _, err := ParseFlags([]string{"--project", typo}, io.Discard); err == nil || !strings.Contains(err.Error(), "no such project directory") {
		t.Errorf("--project typo: %v", err)
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Errorf("%s created: %v", typo, err)
	}
}
