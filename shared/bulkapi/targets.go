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
