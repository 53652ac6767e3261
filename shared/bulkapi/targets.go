package bulkapi

import "github.com/ccbulk/bulkops/shared/delivery"

// TargetRequest is the body of POST /v1/targets: a target's settings and,
// for an SFTP target, its credential. The credential is accepted only
// here, stored in Secrets Manager, and never shown again.
type TargetRequest struct {
	Name   string           `json:"name"`
	Kind   delivery.Kind    `json:"kind,omitempty"`
	SFTP   *SFTPRequest     `json:"sftp,omitempty"`
	Bucket *delivery.Bucket `json:"bucket,omitempty"`
}

// SFTPRequest is an SFTP target's settings with its credential: a
// password, or a private key (PEM) with its passphrase if it has one.
type SFTPRequest struct {
	Host               string              `json:"host"`
	Port               int                 `json:"port,omitempty"`
	User               string              `json:"user"`
	Folder             string              `json:"folder,omitempty"`
	HostKey            string              `json:"hostKey"`
	HostKeyFingerprint string              `json:"hostKeyFingerprint,omitempty"`
	Auth               delivery.AuthMethod `json:"auth,omitempty"`
	Password           string              `json:"password,omitempty"`
	PrivateKey         string              `json:"privateKey,omitempty"`
	Passphrase         string              `json:"passphrase,omitempty"`
}

// Credential returns the request's credential (a secret).
func (s SFTPRequest) Credential() delivery.Credential {
	return delivery.Credential{Password: s.Password, PrivateKey: s.PrivateKey, Passphrase: s.Passphrase}
}

// Target is a target as the API shows it: its settings, with the pinned
// host key's fingerprint and the ARN of the credential's secret, never the
// credential.
type Target struct {
	delivery.Target
}

// TargetPage is one page of GET /v1/targets, oldest first.
type TargetPage struct {
	Targets    []Target `json:"targets"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

// TargetTest is the answer of POST /v1/targets/{id}/test: the sentence,
// and the phase that failed.
type TargetTest struct {
	delivery.TestResult
}

// TargetUpdate is the body of PATCH /v1/targets/{id}: the fields given
// change, the others stay. The kind cannot change. For an SFTP target, a
// password or private key given replaces the credential (a new version of
// its secret; auth follows the credential's kind); a changed host key is
// pinned anew.
type TargetUpdate struct {
	Name   *string       `json:"name,omitempty"`
	SFTP   *SFTPUpdate   `json:"sftp,omitempty"`
	Bucket *BucketUpdate `json:"bucket,omitempty"`
}

// SFTPUpdate is the part of an SFTP target a PATCH may change.
type SFTPUpdate struct {
	Host    *string `json:"host,omitempty"`
	Port    *int    `json:"port,omitempty"`
	User    *string `json:"user,omitempty"`
	Folder  *string `json:"folder,omitempty"`
	HostKey *string `json:"hostKey,omitempty"`
	// The new credential (write-only): a password, or a private key (PEM)
	// with its passphrase if it has one.
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// Credential returns the update's credential (a secret; zero: none given).
func (s SFTPUpdate) Credential() delivery.Credential {
	return delivery.Credential{Password: s.Password, PrivateKey: s.PrivateKey, Passphrase: s.Passphrase}
}

// BucketUpdate is the part of a tenant-bucket target a PATCH may change.
type BucketUpdate struct {
	Bucket  *string `json:"bucket,omitempty"`
	Prefix  *string `json:"prefix,omitempty"`
	Region  *string `json:"region,omitempty"`
	RoleARN *string `json:"roleArn,omitempty"`
}
