package tableio

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

// Compression is a Parquet page codec by name. The zero value is the
// default, Snappy.
type Compression string

// The codecs a Parquet write offers (bench/README.md compares their size
// and speed on a feature table).
const (
	Snappy       Compression = "snappy"
	LZ4          Compression = "lz4"
	ZSTD         Compression = "zstd" // level 1
	Uncompressed Compression = "none"
)

// Compressions lists the codecs, the default first.
var Compressions = []Compression{Snappy, LZ4, ZSTD, Uncompressed}

// ParseCompression reads a codec name (case-insensitive; "" is the default).
func ParseCompression(s string) (Compression, error) {
	c := Compression(strings.ToLower(s))
	if _, err := c.codec(); err != nil {
		return "", err
	}
	return c, nil
}

func (c Compression) codec() (compress.Compression, error) {
	switch c {
	case "", Snappy:
		return compress.Codecs.Snappy, nil
	case LZ4:
		return compress.Codecs.Lz4Raw, nil
	case ZSTD:
		return compress.Codecs.Zstd, nil
	case Uncompressed:
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want %s)", string(c), joinCompressions())
}

func joinCompressions() string {
	names := make([]string, len(Compressions))
	for i, c := range Compressions {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}
