package catalog

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featuredag/fdag/internal/demodata"
	"github.com/featuredag/fdag/ir"
)

// restCatalogClasspath is the Java classpath of Apache Iceberg's own REST
// catalog server (org.apache.iceberg.rest.RESTCatalogServer, iceberg-open-api
// test fixtures), from $FDAG_REST_CATALOG_CLASSPATH: scripts/rest-catalog.sh
// resolves it from Maven Central (scripts/test.sh runs it and exports the
// variable).
func restCatalogClasspath(t *testing.T) string {
	cp := os.Getenv("FDAG_REST_CATALOG_CLASSPATH")
	msg := ""
	switch {
	case cp == "":
		msg = "FDAG_REST_CATALOG_CLASSPATH is not set"
	default:
		if _, err := exec.LookPath("java"); err != nil {
			msg = "java is not on PATH"
		}
	}
	if msg == "" {
		return cp
	}
	msg += ": run `eval \"$(scripts/rest-catalog.sh)\"` (Java 17 and mvn; scripts/test.sh does) " +
		"to test the REST catalog against Iceberg's RESTCatalogServer"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startRESTCatalog runs Iceberg's RESTCatalogServer on a free port with a
// JDBC (H2) backend catalog and the local warehouse directory wh, waits
// until it answers GET /v1/config on 127.0.0.1 and returns its URL. The
// server is killed when the test ends.
func startRESTCatalog(t *testing.T, wh string) string {
	cp := restCatalogClasspath(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	state := t.TempDir()
	// Short-lived server: C1 only and the serial GC start fastest.
	cmd := exec.Command("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		"-cp", cp, "org.apache.iceberg.rest.RESTCatalogServer")
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("CATALOG_REST_PORT=%d", port), // -> rest.port
		"CATALOG_WAREHOUSE=file://"+filepath.ToSlash(wh),
		"CATALOG_URI=jdbc:h2:"+filepath.Join(state, "catalog"),
	)
	logf, err := os.Create(filepath.Join(state, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start RESTCatalogServer: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("RESTCatalogServer log:\n%s", tail(out, 4000))
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/v1/config")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case werr := <-exited:
			exited <- werr
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("RESTCatalogServer exited (%v) before answering:\n%s", werr, tail(out, 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("RESTCatalogServer did not answer GET %s/v1/config: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestRESTCatalogOnIcebergServer opens the warehouse through a real Iceberg
// REST catalog by configuration alone, then ingests, reads with filters and
// warmup, writes ft_features and lists the tables.
func TestRESTCatalogOnIcebergServer(t *testing.T) {
	wh := t.TempDir()
	url := startRESTCatalog(t, wh)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()

	w, err := Open(ctx, t.TempDir(), Config{Type: TypeREST, URI: url, Warehouse: "file://" + filepath.ToSlash(wh)}, Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	gen := demodata.Generate(demodata.Config{Rows: 6000, Seed: 5, MeanGap: 30 * time.Second}, mem)
	defer gen.Release()
	st, err := w.Ingest(ctx, TradesTable, tableSource("demo", gen))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != gen.NumRows() || st.SnapshotID == 0 {
		t.Fatalf("ingest: %+v, want %d rows in a snapshot", st, gen.NumRows())
	}
	// the data files are under the warehouse the server was given
	if files := parquetFiles(t, wh); len(files) != st.Files {
		t.Fatalf("%d Parquet files under the warehouse, ingest wrote %d", len(files), st.Files)
	}

	// filtered reads: one symbol and a window with row warmup, then two
	// symbols through ReadTable
	start, end := day0.Add(12*time.Hour), day0.Add(24*time.Hour)
	data, err := w.ReadSource(ctx, SourceRequest{Symbols: []string{"ETHUSDT"}, Start: start, End: end,
		Columns: []string{"trade_price"}, Lookback: ir.Lookback{Rows: 40}})
	if err != nil {
		t.Fatal(err)
	}
	got := rowsOf(t, data.Table)
	want := expectRows(t, gen, []string{"ETHUSDT"}, start, end, ir.Lookback{Rows: 40})
	warmup := data.WarmupRows
	data.Release()
	if !slices.Equal(got, want) || warmup != 40 {
		t.Fatalf("ReadSource: %d rows (%d warmup), want %d (40 warmup), equal %v",
			len(got), warmup, len(want), slices.Equal(got, want))
	}
	two, err := w.ReadTable(ctx, TradesTable, TableQuery{Symbols: []string{"BTCUSDT", "SOLUSDT"}, Start: start, End: end})
	if err != nil {
		t.Fatal(err)
	}
	n := two.NumRows()
	two.Release()
	if wantN := len(expectRows(t, gen, []string{"BTCUSDT", "SOLUSDT"}, start, end, ir.Lookback{})); n != int64(wantN) {
		t.Fatalf("ReadTable: %d rows, want %d", n, wantN)
	}

	// ft_features: write twice (the second replaces the first), read back
	symbols := []string{"BTCUSDT", "ETHUSDT"} // checkNarrow expects two
	rows := writeFeaturesTwice(t, w, mem, symbols, start, end)

	tables, err := w.ListTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range tables {
		names = append(names, ti.Name)
	}
	if !slices.Equal(names, []string{TradesTable, FeaturesTable}) && !slices.Equal(names, []string{FeaturesTable, TradesTable}) {
		t.Fatalf("tables %v", names)
	}
	for _, ti := range tables {
		if ti.Name == TradesTable && (ti.Rows != gen.NumRows() || ti.Partitioning != "identity(symbol), day(event_time)") {
			t.Errorf("%s: %d rows, partitioning %q", ti.Name, ti.Rows, ti.Partitioning)
		}
		if ti.Name == FeaturesTable && ti.Rows != rows {
			t.Errorf("%s: %d rows, want %d", ti.Name, ti.Rows, rows)
		}
	}
}
