package catalog

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/google/uuid"
)

// A run's staged files are named after it: every data file a worker
// stages for a run carries a write UUID whose first 8 bytes are the run id
// and whose last 8 are the shard and attempt (iceberg-go names data files
// PARTITION-TASK-UUID-COUNT.parquet). So the files of a run that died
// before its commit can be told from a live run's by name alone, without
// a list the dead run would have had to write.

// NewRunID returns a fresh run id: 16 lower-case hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// StagingID names the files one worker stages: the run, the part (shard
// index) and the attempt.
type StagingID struct {
	Run     string // NewRunID's form
	Part    uint32
	Attempt uint32
}

// uuid is the write UUID of the staged files.
func (s StagingID) uuid() (uuid.UUID, error) {
	var u uuid.UUID
	run, err := hex.DecodeString(s.Run)
	if err != nil || len(run) != 8 {
		return u, fmt.Errorf("run id %q: want 16 hex digits", s.Run)
	}
	copy(u[:8], run)
	binary.BigEndian.PutUint32(u[8:12], s.Part)
	binary.BigEndian.PutUint32(u[12:16], s.Attempt)
	return u, nil
}

// RunOfFile returns the run id a data file's name carries ("" for a name
// not of iceberg-go's form). Files written by ingest or other writers have
// random UUIDs, which match no run's lease except by a 2^-64 chance; gc
// judges those by age instead.
func RunOfFile(file string) string {
	name := path.Base(file)
	// PARTITION-TASK-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx-COUNT.ext
	parts := strings.Split(name, "-")
	if len(parts) < 8 {
		return ""
	}
	u, err := uuid.Parse(strings.Join(parts[2:7], "-"))
	if err != nil {
		return ""
	}
	return hex.EncodeToString(u[:8])
}
