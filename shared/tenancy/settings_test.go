package tenancy

import (
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvread"
)

func TestSettingsCheck(t *testing.T) {
	hard := HardCeilings()
	tests := []struct {
		name     string
		in       Settings
		pointer  string   // "" when valid
		says     []string // in the message
		wantKind []string // DeliveryTargets after a valid Check
	}{
		{name: "zero", in: Settings{}},
		{name: "large files, ceiling", in: Settings{LargeFiles: true, MaxRows: 1_000_000, MaxBytes: 500 << 20}},
		{name: "lowered without large files", in: Settings{MaxRows: 100, MaxBytes: 1 << 20}},
		{name: "rows over the default ceiling", in: Settings{MaxRows: 5001}, pointer: "/maxRows", says: []string{"5001", "5000", "largeFiles"}},
		{name: "rows over the hard maximum", in: Settings{LargeFiles: true, MaxRows: 1_000_001}, pointer: "/maxRows", says: []string{"1000001", "1000000"}},
		{name: "negative rows", in: Settings{MaxRows: -1}, pointer: "/maxRows", says: []string{"-1", "negative"}},
		{name: "bytes over the default ceiling", in: Settings{MaxBytes: 5<<20 + 1}, pointer: "/maxBytes", says: []string{"5242881", "5242880"}},
		{name: "bytes over the hard maximum", in: Settings{LargeFiles: true, MaxBytes: 500<<20 + 1}, pointer: "/maxBytes", says: []string{"524288001", "524288000"}},
		{name: "negative bytes", in: Settings{MaxBytes: -5}, pointer: "/maxBytes", says: []string{"-5"}},
		{name: "unknown target kind", in: Settings{DeliveryTargets: []string{"sftp", "ftp"}}, pointer: "/deliveryTargets/1", says: []string{`"ftp"`, "s3link, sftp, s3bucket"}},
		{name: "kinds canonical", in: Settings{DeliveryTargets: []string{"S3Bucket", " sftp", "sftp"}}, wantKind: []string{"sftp", "s3bucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.in
			err := s.Check(hard)
			if tt.pointer == "" {
				if err != nil {
					t.Fatalf("Check(%+v) = %v, want nil", tt.in, err)
				}
				if tt.wantKind != nil && strings.Join(s.DeliveryTargets, ",") != strings.Join(tt.wantKind, ",") {
					t.Fatalf("DeliveryTargets = %v, want %v", s.DeliveryTargets, tt.wantKind)
				}
				return
			}
			ptr, detail, ok := bulkerr.FieldOf(err)
			if bulkerr.KindOf(err) != bulkerr.Invalid || !ok || ptr != tt.pointer {
				t.Fatalf("Check(%+v) = %v (field %q), want Invalid at %s", tt.in, err, ptr, tt.pointer)
			}
			for _, w := range tt.says {
				if !strings.Contains(detail, w) {
					t.Errorf("message %q does not say %q", detail, w)
				}
			}
		})
	}
}

func TestFileLimits(t *testing.T) {
	c := Ceilings{Default: csvread.Limits{MaxRows: 10, MaxBytes: 1000, Raise: "raise"}, Large: csvread.Limits{MaxRows: 100, MaxBytes: 10000}}
	tests := []struct {
		in   Settings
		want csvread.Limits
	}{
		{Settings{}, c.Default}, // no settings: unchanged
		{Settings{LargeFiles: true}, c.Large},
		{Settings{MaxRows: 5}, csvread.Limits{MaxRows: 5, MaxBytes: 1000, Raise: "raise"}},
		{Settings{LargeFiles: true, MaxRows: 50, MaxBytes: 2000}, csvread.Limits{MaxRows: 50, MaxBytes: 2000}},
		{Settings{MaxRows: 500, MaxBytes: 5000}, c.Default},  // never over the ceiling
		{Settings{LargeFiles: true, MaxRows: 5000}, c.Large}, // a ceiling smaller than what was stored wins
	}
	for _, tt := range tests {
		if got := tt.in.FileLimits(c); got != tt.want {
			t.Errorf("FileLimits(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestAllowsTarget(t *testing.T) {
	tests := []struct {
		in   Settings
		kind string
		want bool
	}{
		{Settings{}, TargetS3Link, true},
		{Settings{}, TargetSFTP, false},
		{Settings{}, TargetS3Bucket, false},
		{Settings{DeliveryTargets: []string{TargetSFTP}}, TargetSFTP, true},
		{Settings{DeliveryTargets: []string{TargetSFTP}}, TargetS3Bucket, false},
		{Settings{DeliveryTargets: []string{TargetSFTP}}, TargetS3Link, true},
		{Settings{DeliveryTargets: []string{TargetS3Bucket}}, "ftp", false},
	}
	for _, tt := range tests {
		if got := tt.in.AllowsTarget(tt.kind); got != tt.want {
			t.Errorf("%+v.AllowsTarget(%q) = %v, want %v", tt.in, tt.kind, got, tt.want)
		}
	}
}
