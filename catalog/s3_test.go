package catalog

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// versitygwBinary finds the versitygw binary: $VERSITYGW, then PATH, then
// $(go env GOPATH)/bin. scripts/test.sh installs it.
func versitygwBinary(t *testing.T) string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(out[:len(out)-1])
		}
	}
	if p := filepath.Join(gopath, "bin", "versitygw"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "versitygw not found ($VERSITYGW, PATH, GOPATH/bin): install it with " +
		"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0` (scripts/test.sh does)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startVersitygw runs a real S3 server on a free loopback port over a temp
// directory and returns its endpoint URL.
func startVersitygw(t *testing.T, access, secret string) string {
	bin := versitygwBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := t.TempDir()
	cmd := exec.Command(bin, "--port", addr, "posix", root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+access, "ROOT_SECRET_KEY="+secret)
	logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw did not listen on %s: %v\n%s", addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

func TestS3WarehouseOnVersitygw(t *testing.T) {
	const access, secret = "fdagtest", "fdagtestsecret123"
	endpoint := startVersitygw(t, access, secret)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	project := t.TempDir()
	yaml := fmt.Sprintf(`catalog:
  warehouse: s3://fdag-wh/warehouse
  s3:
    endpoint: %s
    region: us-east-1
    access_key_id: ${FDAG_S3_KEY}
    secret_access_key: ${FDAG_S3_SECRET}
    create_bucket: true
`, endpoint)
	if err := os.WriteFile(filepath.Join(project, ConfigFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FDAG_S3_KEY", access)
	t.Setenv("FDAG_S3_SECRET", secret)
	w, err := OpenProject(ctx, project, Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	gen := demodata.Generate(demodata.Config{Rows: 5000, Seed: 11, MeanGap: 30 * time.Second}, mem)
	defer gen.Release()
	if _, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen)); err != nil {
		t.Fatal(err)
	}
	start, end := day0.Add(12*time.Hour), day0.Add(24*time.Hour)
	data, err := w.ReadSource(ctx, SourceRequest{Symbols: []string{"SOLUSDT"}, Start: start, End: end,
		Columns: []string{"trade_price"}, Lookback: ir.Lookback{Rows: 50}})
	if err != nil {
		t.Fatal(err)
	}
	got := rowsOf(t, data.Table)
	want := expectRows(t, gen, []string{"SOLUSDT"}, start, end, ir.Lookback{Rows: 50})
	if len(got) != len(want) || data.WarmupRows != 50 {
		t.Fatalf("S3 read: %d rows (%d warmup), want %d (50 warmup)", len(got), data.WarmupRows, len(want))
	}
	data.Release()

	res, feats, scope := computeNarrow(t, w, mem, []string{"SOLUSDT"}, start, end)
	defer res.Release()
	st, err := w.WriteFeatures(ctx, scope, WideToNarrow(res.Table, feats, NarrowOptions{Start: start, End: end, Mem: mem}))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := w.ReadFeatures(ctx, nil, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Release()
	if stored.NumRows() != st.Rows || st.Rows == 0 {
		t.Fatalf("S3 ft_features: %d rows stored, %d committed", stored.NumRows(), st.Rows)
	}
	// the data really is in the bucket, not on local disk
	if d := w.Config().localWarehouseDir(); d != "" {
		t.Fatalf("warehouse resolved to a local directory %s", d)
	}
}
