// Package catalog is fdag's Iceberg warehouse: the catalog configuration
// and opening, the source (CDM) tables with their reads (pushdown, column
// projection, warmup), ingest, and the narrow ft_features table.
//
// With no configuration the warehouse is embedded: iceberg-go's SQL catalog
// on a SQLite file and a local warehouse directory under the project
// directory (.fdag/catalog.db, .fdag/warehouse), created on first use. S3
// storage and a REST catalog are chosen by configuration alone (the
// `catalog:` key of the project's fdag.yaml).
package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigFile is the project's configuration file; its `catalog:` key is a
// Config.
const ConfigFile = "fdag.yaml"

// Defaults of Config.
const (
	DefaultName      = "fdag"
	DefaultNamespace = "fdag"
	// StateDir is the directory under the project holding the embedded
	// catalog and warehouse.
	StateDir = ".fdag"
)

// Catalog types.
const (
	TypeSQL  = "sql"
	TypeREST = "rest"
)

// Config says which catalog and storage to use. The zero value is the
// embedded default. Every string goes through os.ExpandEnv when loaded from
// fdag.yaml, so secrets can stay in the environment
// (`secret_access_key: ${AWS_SECRET_ACCESS_KEY}`).
type Config struct {
	// Type is "sql" (default) or "rest".
	Type string `yaml:"type"`
	// Name is the catalog name; the SQL catalog stores it on every row, so
	// pyiceberg must open the catalog under the same name. Default "fdag".
	Name string `yaml:"name"`
	// URI: for sql, a database/sql DSN of modernc.org/sqlite (default
	// file:PROJECT/.fdag/catalog.db); for rest, the server URL (required).
	URI string `yaml:"uri"`
	// Warehouse is the root of the table data: a local directory or a
	// file:// URL (default PROJECT/.fdag/warehouse), or s3://bucket/prefix.
	Warehouse string `yaml:"warehouse"`
	// Namespace holds fdag's tables (default "fdag"), as the original's
	// schema_name.
	Namespace string `yaml:"namespace"`
	// S3 configures object storage when Warehouse is an s3:// URL.
	S3 S3Config `yaml:"s3"`
	// Properties are passed to iceberg-go as they are (REST credentials,
	// e.g. "credential", "token", "oauth2-server-uri").
	Properties map[string]string `yaml:"properties"`
}

// S3Config is the object storage of an s3:// warehouse. Empty credentials
// fall back to the AWS default chain (environment, shared config).
type S3Config struct {
	Endpoint        string `yaml:"endpoint"` // e.g. http://127.0.0.1:7070; path-style addressing follows
	Region          string `yaml:"region"`   // default us-east-1
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
	// CreateBucket creates the warehouse bucket on open when it is missing.
	CreateBucket bool `yaml:"create_bucket"`
}

// LoadConfig reads the `catalog:` key of PROJECT/fdag.yaml. A missing file
// or key is the embedded default; an unknown key is an error, so a typo
// does not silently fall back to the default.
func LoadConfig(project string) (Config, error) {
	path := filepath.Join(project, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("catalog config: %w", err)
	}
	var doc struct {
		Catalog yaml.Node `yaml:"catalog"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("catalog config %s: %w", path, err)
	}
	var cfg Config
	if doc.Catalog.Kind == 0 {
		return cfg, nil
	}
	if err := decodeStrict(&doc.Catalog, &cfg); err != nil {
		return Config{}, fmt.Errorf("catalog config %s: catalog: %w", path, err)
	}
	cfg.expandEnv()
	return cfg, nil
}

// decodeStrict decodes n into v rejecting unknown keys.
func decodeStrict(n *yaml.Node, v any) error {
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func (c *Config) expandEnv() {
	for _, p := range []*string{&c.Type, &c.Name, &c.URI, &c.Warehouse, &c.Namespace,
		&c.S3.Endpoint, &c.S3.Region, &c.S3.AccessKeyID, &c.S3.SecretAccessKey, &c.S3.SessionToken} {
		*p = os.ExpandEnv(*p)
	}
	for k, v := range c.Properties {
		c.Properties[k] = os.ExpandEnv(v)
	}
}

// resolved returns the config with defaults filled in for project.
func (c Config) resolved(project string) (Config, error) {
	abs, err := filepath.Abs(project)
	if err != nil {
		return c, fmt.Errorf("project %s: %w", project, err)
	}
	if c.Type == "" {
		c.Type = TypeSQL
	}
	c.Type = strings.ToLower(c.Type)
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	switch c.Type {
	case TypeSQL:
		if c.URI == "" {
			c.URI = "file:" + filepath.Join(abs, StateDir, "catalog.db")
		}
	case TypeREST:
		if c.URI == "" {
			return c, errors.New("catalog type rest needs uri (the REST server URL)")
		}
	default:
		return c, fmt.Errorf("catalog type %q: want sql or rest", c.Type)
	}
	if c.Warehouse == "" && c.Type == TypeSQL {
		c.Warehouse = filepath.Join(abs, StateDir, "warehouse")
	}
	if c.Warehouse != "" && !strings.Contains(c.Warehouse, "://") {
		w := c.Warehouse
		if !filepath.IsAbs(w) {
			w = filepath.Join(abs, w)
		}
		c.Warehouse = "file://" + filepath.ToSlash(w)
	}
	if c.S3.Region == "" {
		c.S3.Region = "us-east-1"
	}
	return c, nil
}

// isS3 reports whether the warehouse is on S3.
func (c Config) isS3() bool {
	return strings.HasPrefix(c.Warehouse, "s3://") || strings.HasPrefix(c.Warehouse, "s3a://")
}

// localWarehouseDir returns the directory of a file:// warehouse, or "".
func (c Config) localWarehouseDir() string {
	if d, ok := strings.CutPrefix(c.Warehouse, "file://"); ok {
		return filepath.FromSlash(d)
	}
	return ""
}

// sqliteFile returns the database file of a file: SQLite DSN, or "".
func (c Config) sqliteFile() string {
	if c.Type != TypeSQL {
		return ""
	}
	dsn := strings.TrimPrefix(c.URI, "file://")
	dsn = strings.TrimPrefix(dsn, "file:")
	dsn, _, _ = strings.Cut(dsn, "?")
	if dsn == "" || dsn == ":memory:" {
		return ""
	}
	return dsn
}

// sqliteConcurrency is the URI of a SQLite catalog with a busy timeout, so
// that concurrent users (fdag run's shards, the Flight server's calls, a
// second process) wait for each other's writes instead of failing with
// SQLITE_BUSY. A URI that sets busy_timeout itself is kept.
func sqliteConcurrency(c Config) string {
	if c.sqliteFile() == "" || strings.Contains(c.URI, "busy_timeout") {
		return c.URI
	}
	sep := "?"
	if strings.Contains(c.URI, "?") {
		sep = "&"
	}
	return c.URI + sep + "_pragma=busy_timeout(30000)"
}

// Properties returns the iceberg-go catalog properties of a resolved config.
func (c Config) properties() map[string]string {
	p := map[string]string{"type": c.Type, "uri": sqliteConcurrency(c)}
	if c.Warehouse != "" {
		p["warehouse"] = c.Warehouse
	}
	if c.Type == TypeSQL {
		p["sql.driver"] = "sqlite"
		p["sql.dialect"] = "sqlite"
		p["init_catalog_tables"] = "true"
	}
	if c.S3.Endpoint != "" {
		p["s3.endpoint"] = c.S3.Endpoint
	}
	if c.S3.Region != "" {
		p["s3.region"] = c.S3.Region
	}
	if c.S3.AccessKeyID != "" {
		p["s3.access-key-id"] = c.S3.AccessKeyID
	}
	if c.S3.SecretAccessKey != "" {
		p["s3.secret-access-key"] = c.S3.SecretAccessKey
	}
	if c.S3.SessionToken != "" {
		p["s3.session-token"] = c.S3.SessionToken
	}
	for k, v := range c.Properties {
		p[k] = v
	}
	return p
}
