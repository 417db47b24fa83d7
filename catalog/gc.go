package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdfs "io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// Staged files of a run are not referenced by any snapshot until the
// run commits. A run that dies first (SIGKILL, a lost machine) leaves them
// behind. To tell them from the files of a run still going, a run holds a
// lease while it stages: a small JSON file beside the table's data
// (LOCATION/fdag-runs/RUN.json) naming the host and process and renewed
// every LeaseRenewal. A lease is dead when its process is gone (same host)
// or its renewal is older than LeaseExpiry (another host).

// Lease timing.
const (
	LeaseRenewal = 10 * time.Second
	LeaseExpiry  = 2 * time.Minute
)

// leaseDir is the directory of a table's run leases.
func leaseDir(tbl *table.Table) string {
	return strings.TrimSuffix(tbl.Location(), "/") + "/fdag-runs"
}

type leaseFile struct {
	Run     string    `json:"run"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Renewed time.Time `json:"renewed"`
}

// RunLease is a live run's claim on its staged files; End releases it.
type RunLease struct {
	w     *Warehouse
	path  string
	fs    iceio.WriteFileIO
	info  leaseFile
	stop  chan struct{}
	done  sync.WaitGroup
	ended sync.Once
}

// BeginRun takes the lease of run on ft_features (creating the table if
// needed) and renews it until End. The coordinator of a run takes it
// before any shard stages, in whatever process the shards run.
func (w *Warehouse) BeginRun(ctx context.Context, run string) (*RunLease, error) {
	tbl, err := w.Table(ctx, FeaturesTable)
	if err != nil {
		return nil, err
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("run lease: %w", err)
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("run lease: storage %T cannot write files", fsys)
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	l := &RunLease{w: w, path: leaseDir(tbl) + "/" + run + ".json", fs: wfs, stop: make(chan struct{}),
		info: leaseFile{Run: run, Host: host, PID: os.Getpid(), Started: now, Renewed: now}}
	if err := l.write(); err != nil {
		return nil, err
	}
	l.done.Add(1)
	go l.renew()
	return l, nil
}

func (l *RunLease) write() error {
	data, _ := json.Marshal(l.info)
	if mk, ok := l.fs.(interface{ MkdirAll(string) error }); ok {
		_ = mk.MkdirAll(l.path[:strings.LastIndex(l.path, "/")])
	}
	if err := l.fs.WriteFile(l.path, data); err != nil {
		return fmt.Errorf("run lease %s: %w", l.path, err)
	}
	return nil
}

func (l *RunLease) renew() {
	defer l.done.Done()
	t := time.NewTicker(LeaseRenewal)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.info.Renewed = time.Now().UTC()
			if err := l.write(); err != nil {
				l.w.log.Warn("cannot renew the run lease", "run", l.info.Run, "err", err)
			}
		}
	}
}

// End stops renewing and removes the lease (after the commit, or after
// the run's own cleanup).
func (l *RunLease) End() {
	l.ended.Do(func() {
		close(l.stop)
		l.done.Wait()
		if err := l.fs.Remove(l.path); err != nil {
			l.w.log.Warn("cannot remove the run lease", "run", l.info.Run, "err", err)
		}
	})
}

// alive reports whether a lease's run may still be going.
func (f leaseFile) alive(now time.Time) bool {
	host, _ := os.Hostname()
	if f.Host == host && f.PID > 0 {
		if f.PID == os.Getpid() {
			return true
		}
		err := syscall.Kill(f.PID, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	return now.Sub(f.Renewed) < LeaseExpiry
}

// GCOptions configure CollectGarbage.
type GCOptions struct {
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// OlderThan is the age from which an unreferenced file that names no
	// run (written by an ingest or another writer, which hold no lease)
	// is removed; files of dead runs go whatever their age. Default 1h.
	OlderThan time.Duration
	// ExpireSnapshotsOlderThan, when positive, first expires the
	// snapshots older than it (always keeping RetainLast, default 1, and
	// the current one), making the files only they referenced removable.
	ExpireSnapshotsOlderThan time.Duration
	RetainLast               int
	// DeadRunsOnly removes only the files of dead runs (what a new run
	// does before it starts), with no snapshot expiry.
	DeadRunsOnly bool
	// Run, when set, removes only the unreferenced files that name this
	// run, whatever its lease: a distributed run's own clean-up after its
	// commit or abort (the files of attempts killed after they staged,
	// which the driver never heard of).
	Run string
}

// GCReport is what CollectGarbage found (and, unless DryRun, removed).
type GCReport struct {
	Table            string   `json:"table"`
	DeadRunFiles     []string `json:"dead_run_files"`
	OldOrphanFiles   []string `json:"old_orphan_files"`
	LiveRunFiles     int      `json:"live_run_files"` // kept: their run holds a lease
	YoungOrphanFiles int      `json:"young_orphans"`  // kept: no run, younger than OlderThan
	Bytes            int64    `json:"bytes"`          // of the removed (or removable) files
	DeadLeases       []string `json:"dead_leases"`    // run ids whose leases were removed
	ExpiredSnapshots int      `json:"expired_snapshots"`
}

// CollectGarbage removes the data files of table name that no snapshot
// references: those of dead runs, and others older than OlderThan. Files of
// a run holding a live lease are kept. With ExpireSnapshotsOlderThan it
// expires old snapshots first.
func (w *Warehouse) CollectGarbage(ctx context.Context, name string, opts GCOptions) (GCReport, error) {
	rep := GCReport{Table: name}
	if opts.OlderThan <= 0 {
		opts.OlderThan = time.Hour
	}
	if opts.RetainLast <= 0 {
		opts.RetainLast = 1
	}
	tbl, err := w.LoadTable(ctx, name)
	if err != nil {
		return rep, err
	}
	if opts.ExpireSnapshotsOlderThan > 0 && !opts.DeadRunsOnly {
		if tbl, err = w.expireSnapshots(ctx, tbl, opts, &rep); err != nil {
			return rep, err
		}
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return rep, fmt.Errorf("gc %s: %w", name, err)
	}
	leases, err := readLeases(fsys, leaseDir(tbl))
	if err != nil {
		return rep, fmt.Errorf("gc %s: %w", name, err)
	}
	now := time.Now()
	plan, err := tbl.PlanOrphanFiles(ctx, table.WithLocation(strings.TrimSuffix(tbl.Location(), "/")+"/data"),
		table.WithFilesOlderThan(0), table.WithPrefixMismatchMode(table.PrefixMismatchIgnore))
	if err != nil && !errors.Is(err, stdfs.ErrNotExist) {
		return rep, fmt.Errorf("gc %s: finding unreferenced files: %w", name, err)
	}
	var remove []string
	for _, f := range plan.OrphanFiles() {
		run := RunOfFile(f.Path)
		l, leased := leases[run]
		switch {
		case opts.Run != "" && run != opts.Run:
			continue
		case opts.Run != "":
			rep.DeadRunFiles = append(rep.DeadRunFiles, f.Path)
		case run != "" && leased && l.alive(now):
			rep.LiveRunFiles++
			continue
		case run != "" && leased:
			rep.DeadRunFiles = append(rep.DeadRunFiles, f.Path)
		case opts.DeadRunsOnly:
			// a file naming no lease: an ingest's or a run that never
			// leased; only its age can tell, which a new run does not judge
			continue
		default:
			info, err := statFile(fsys, f.Path)
			if err != nil || now.Sub(info) < opts.OlderThan {
				rep.YoungOrphanFiles++
				continue
			}
			rep.OldOrphanFiles = append(rep.OldOrphanFiles, f.Path)
		}
		remove = append(remove, f.Path)
		rep.Bytes += f.SizeBytes
	}
	for run, l := range leases {
		if !l.alive(now) {
			rep.DeadLeases = append(rep.DeadLeases, run)
		}
	}
	if opts.DryRun {
		return rep, nil
	}
	for _, p := range remove {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, stdfs.ErrNotExist) {
			return rep, fmt.Errorf("gc %s: remove %s: %w", name, p, err)
		}
	}
	for _, run := range rep.DeadLeases {
		if err := fsys.Remove(leaseDir(tbl) + "/" + run + ".json"); err != nil && !errors.Is(err, stdfs.ErrNotExist) {
			w.log.Warn("gc: cannot remove a dead lease", "run", run, "err", err)
		}
	}
	if len(remove) > 0 || len(rep.DeadLeases) > 0 {
		w.log.Info("gc", "table", name, "dead_run_files", len(rep.DeadRunFiles), "old_orphans", len(rep.OldOrphanFiles),
			"bytes", rep.Bytes, "dead_leases", len(rep.DeadLeases))
	}
	return rep, nil
}

func (w *Warehouse) expireSnapshots(ctx context.Context, tbl *table.Table, opts GCOptions, rep *GCReport) (*table.Table, error) {
	before := len(tbl.Metadata().Snapshots())
	if opts.DryRun {
		cut := time.Now().Add(-opts.ExpireSnapshotsOlderThan).UnixMilli()
		snaps := tbl.Metadata().Snapshots()
		for i, s := range snaps {
			cur := tbl.CurrentSnapshot()
			if i < len(snaps)-opts.RetainLast && s.TimestampMs < cut && (cur == nil || s.SnapshotID != cur.SnapshotID) {
				rep.ExpiredSnapshots++
			}
		}
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithOlderThan(opts.ExpireSnapshotsOlderThan), table.WithRetainLast(opts.RetainLast)); err != nil {
		return nil, fmt.Errorf("expire snapshots of %s: %w", tbl.Identifier(), err)
	}
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("expire snapshots of %s: %w", tbl.Identifier(), err)
	}
	rep.ExpiredSnapshots = before - len(out.Metadata().Snapshots())
	return out, nil
}

// readLeases reads the run leases of dir (none when it does not exist).
func readLeases(fsys iceio.IO, dir string) (map[string]leaseFile, error) {
	out := map[string]leaseFile{}
	lst, ok := fsys.(iceio.ListableIO)
	if !ok {
		return out, nil
	}
	err := lst.WalkDir(dir, func(p string, d stdfs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, stdfs.ErrNotExist) {
				return stdfs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return nil // removed meanwhile
		}
		defer f.Close()
		var l leaseFile
		if json.NewDecoder(f).Decode(&l) == nil && l.Run != "" {
			out[l.Run] = l
		}
		return nil
	})
	if errors.Is(err, stdfs.ErrNotExist) {
		err = nil
	}
	return out, err
}

func statFile(fsys iceio.IO, p string) (time.Time, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return info.ModTime(), nil
}
