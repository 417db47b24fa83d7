package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/catalog/rest" // registers the "rest" catalog type
	_ "github.com/apache/iceberg-go/catalog/sql"  // registers the "sql" catalog type
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/table"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// ErrNoTable is returned (wrapped) for a table that does not exist.
var ErrNoTable = errors.New("no such table")

// Warehouse is an open catalog with fdag's namespace. It is safe for
// concurrent use; writes to one table from several processes are serialised
// by the catalog's optimistic commits.
type Warehouse struct {
	cfg       Config
	cat       icecat.Catalog
	namespace table.Identifier
	mem       memory.Allocator
	log       *slog.Logger
}

// Options of Open.
type Options struct {
	Mem    memory.Allocator // nil: memory.DefaultAllocator
	Logger *slog.Logger     // nil: slog.Default()
}

// OpenProject opens the warehouse configured by PROJECT/fdag.yaml, the
// embedded default when there is none.
func OpenProject(ctx context.Context, project string, opts Options) (*Warehouse, error) {
	cfg, err := LoadConfig(project)
	if err != nil {
		return nil, err
	}
	return Open(ctx, project, cfg, opts)
}

// Open opens the catalog of cfg for the project directory project (which
// anchors the embedded defaults and relative paths), creating the embedded
// database, the warehouse directory or bucket and the namespace on first
// use. Tables are created when first written.
func Open(ctx context.Context, project string, cfg Config, opts Options) (*Warehouse, error) {
	cfg, err := cfg.resolved(project)
	if err != nil {
		return nil, err
	}
	if opts.Mem == nil {
		opts.Mem = memory.DefaultAllocator
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if f := cfg.sqliteFile(); f != "" {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return nil, fmt.Errorf("catalog database %s: %w", f, err)
		}
	}
	if d := cfg.localWarehouseDir(); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", d, err)
		}
	}
	if cfg.isS3() && cfg.S3.CreateBucket {
		if err := ensureBucket(ctx, cfg); err != nil {
			return nil, err
		}
	}
	cat, err := icecat.Load(ctx, cfg.Name, iceberg.Properties(cfg.properties()))
	if err != nil {
		return nil, fmt.Errorf("open %s catalog %s: %w", cfg.Type, cfg.URI, err)
	}
	w := &Warehouse{cfg: cfg, cat: cat, namespace: table.Identifier{cfg.Namespace}, mem: opts.Mem, log: opts.Logger}
	exists, err := cat.CheckNamespaceExists(ctx, w.namespace)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("catalog %s: namespace %s: %w", cfg.URI, cfg.Namespace, err)
	}
	if !exists {
		err := cat.CreateNamespace(ctx, w.namespace, nil)
		if err != nil && !errors.Is(err, icecat.ErrNamespaceAlreadyExists) {
			w.Close()
			return nil, fmt.Errorf("catalog %s: create namespace %s: %w", cfg.URI, cfg.Namespace, err)
		}
	}
	w.log.Debug("warehouse open", "type", cfg.Type, "uri", cfg.URI, "warehouse", cfg.Warehouse, "namespace", cfg.Namespace)
	return w, nil
}

// Close releases the catalog's resources.
func (w *Warehouse) Close() error {
	if c, ok := w.cat.(icecat.Closer); ok {
		return c.Close()
	}
	return nil
}

// Config returns the resolved configuration (defaults filled in).
func (w *Warehouse) Config() Config { return w.cfg }

// Catalog returns the underlying iceberg-go catalog.
func (w *Warehouse) Catalog() icecat.Catalog { return w.cat }

// Namespace is the namespace holding fdag's tables.
func (w *Warehouse) Namespace() string { return w.cfg.Namespace }

func (w *Warehouse) ident(name string) table.Identifier {
	return append(slices.Clone(w.namespace), name)
}

// TableInfo describes one warehouse table.
type TableInfo struct {
	Name   string
	Schema *arrow.Schema
	// Partitioning lists the partition transforms, e.g.
	// "identity(symbol), day(event_time)".
	Partitioning string
	Rows         int64 // total records of the current snapshot (0 if empty)
}

// ListTables lists the tables of the namespace with their Arrow schemas,
// sorted by name.
func (w *Warehouse) ListTables(ctx context.Context) ([]TableInfo, error) {
	var out []TableInfo
	for id, err := range w.cat.ListTables(ctx, w.namespace) {
		if err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", w.cfg.Namespace, err)
		}
		name := id[len(id)-1]
		tbl, err := w.cat.LoadTable(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load table %s: %w", name, err)
		}
		sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
		if err != nil {
			return nil, fmt.Errorf("table %s: schema: %w", name, err)
		}
		info := TableInfo{Name: name, Schema: sc, Partitioning: specString(tbl.Spec(), tbl.Schema())}
		if snap := tbl.CurrentSnapshot(); snap != nil && snap.Summary != nil {
			info.Rows = parseInt64(snap.Summary.Properties["total-records"])
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b TableInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LoadTable loads an existing table; a missing one is ErrNoTable.
func (w *Warehouse) LoadTable(ctx context.Context, name string) (*table.Table, error) {
	tbl, err := w.cat.LoadTable(ctx, w.ident(name))
	if errors.Is(err, icecat.ErrNoSuchTable) {
		return nil, fmt.Errorf("table %s.%s: %w", w.cfg.Namespace, name, ErrNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("load table %s.%s: %w", w.cfg.Namespace, name, err)
	}
	return tbl, nil
}

// Table loads a table fdag knows (KnownTables) for writing, creating it
// with its schema and partitioning when it does not exist yet, and adding
// the columns of its definition that a table created by an earlier version
// lacks (evolve).
func (w *Warehouse) Table(ctx context.Context, name string) (*table.Table, error) {
	def, ok := KnownTables[name]
	if !ok {
		return w.LoadTable(ctx, name)
	}
	return w.TableFor(ctx, name, def)
}

// TableFor is Table for a table whose definition is not in KnownTables
// (the bar tables, one per kind: BarTable).
func (w *Warehouse) TableFor(ctx context.Context, name string, def TableDef) (*table.Table, error) {
	tbl, err := w.cat.LoadTable(ctx, w.ident(name))
	if err == nil {
		return w.evolve(ctx, name, tbl, def)
	}
	if !errors.Is(err, icecat.ErrNoSuchTable) {
		return nil, fmt.Errorf("load table %s.%s: %w", w.cfg.Namespace, name, err)
	}
	spec, err := def.spec()
	if err != nil {
		return nil, fmt.Errorf("table %s: partition spec: %w", name, err)
	}
	tbl, err = w.cat.CreateTable(ctx, w.ident(name), def.Schema,
		icecat.WithPartitionSpec(&spec),
		icecat.WithProperties(tableProperties(def)))
	if errors.Is(err, icecat.ErrTableAlreadyExists) {
		return w.cat.LoadTable(ctx, w.ident(name)) // created by a concurrent writer
	}
	if err != nil {
		return nil, fmt.Errorf("create table %s.%s: %w", w.cfg.Namespace, name, err)
	}
	w.log.Info("created table", "table", name, "partitioning", specString(spec, def.Schema))
	return tbl, nil
}

// tableProperties are the properties of a table fdag creates: its
// definition's on top of the common ones.
func tableProperties(def TableDef) iceberg.Properties {
	props := iceberg.Properties{
		"format-version":            "2",
		"commit.retry.num-retries":  "10",
		table.ParquetCompressionKey: "zstd", // Iceberg's default, said so in the metadata
	}
	maps.Copy(props, def.Properties)
	return props
}

// ensureBucket creates the warehouse's bucket when it does not exist.
func ensureBucket(ctx context.Context, cfg Config) error {
	u, err := url.Parse(cfg.Warehouse)
	if err != nil {
		return fmt.Errorf("warehouse %s: %w", cfg.Warehouse, err)
	}
	bucket := u.Host
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.S3.Region))
	if err != nil {
		return fmt.Errorf("warehouse %s: AWS configuration: %w", cfg.Warehouse, err)
	}
	if cfg.S3.AccessKeyID != "" {
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider(cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey, cfg.S3.SessionToken)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = nilIfEmpty(cfg.S3.Endpoint)
	})
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err == nil {
		return nil
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("create bucket %s at %s: %w", bucket, cfg.S3.Endpoint, err)
	}
	return nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// specString renders a partition spec as "identity(symbol), day(event_time)".
func specString(spec iceberg.PartitionSpec, sc *iceberg.Schema) string {
	var parts []string
	for _, f := range spec.Fields() {
		col := "?"
		if len(f.SourceIDs) > 0 {
			if n, ok := sc.FindColumnName(f.SourceIDs[0]); ok {
				col = n
			}
		}
		parts = append(parts, f.Transform.String()+"("+col+")")
	}
	return strings.Join(parts, ", ")
}
