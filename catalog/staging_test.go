package catalog

import "testing"

func TestRunOfFile(t *testing.T) {
	id := StagingID{Run: "0123456789abcdef", Part: 7, Attempt: 2}
	u, err := id.uuid()
	if err != nil {
		t.Fatal(err)
	}
	name := "file:///w/ft_features/data/feature_name=x/timestamp_day=2024-01-02/00003-3-" + u.String() + "-00001.parquet"
	if got := RunOfFile(name); got != id.Run {
		t.Errorf("RunOfFile(%s) = %q, want %q", name, got, id.Run)
	}
	for _, bad := range []string{"x.parquet", "00000-0-not-a-uuid-at-all-00001.parquet", "snap-1-2-3.avro"} {
		if got := RunOfFile(bad); got != "" {
			t.Errorf("RunOfFile(%s) = %q", bad, got)
		}
	}
	if _, err := (StagingID{Run: "xyz"}).uuid(); err == nil {
		t.Error("bad run id accepted")
	}
}
