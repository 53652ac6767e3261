// Package sftpdeliver delivers files to a tenant's SFTP server
// (delivery.KindSFTP targets) over golang.org/x/crypto/ssh and
// github.com/pkg/sftp.
//
// The server must present the host key pinned in the target (any other key
// is refused, naming both fingerprints). The credential, a password or a
// private key, is read from the target's secret for each delivery and kept
// nowhere else. A file is written under a temporary name in the target
// folder and renamed over its final name only once complete (with
// posix-rename@openssh.com where the server offers it, so a stable name is
// replaced atomically); a failed upload leaves the previous file in place.
// Every failure is a *delivery.Error naming its phase.
package sftpdeliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// Defaults of a Deliverer's bounds.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 20 * time.Second
	DefaultTimeout          = 10 * time.Minute
	DefaultTestTimeout      = 30 * time.Second
)

// Deliverer delivers to SFTP targets. The zero value is not usable: set
// Credentials.
type Deliverer struct {
	// Credentials reads a target's credential from its secret.
	Credentials delivery.CredentialSource
	// DialTimeout bounds the TCP connect (DefaultDialTimeout).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake and authentication
	// (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Timeout bounds a whole delivery (DefaultTimeout), TestTimeout a
	// connection test (DefaultTestTimeout), unless ctx ends sooner.
	Timeout, TestTimeout time.Duration
	// Log gets one line per delivery and test (no secret, ever).
	Log *slog.Logger
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// Deliver uploads r as name into the target's folder: to a temporary name
// first, then renamed over name.
func (d *Deliverer) Deliver(ctx context.Context, t delivery.Target, name string, r io.Reader) (delivery.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.Timeout, DefaultTimeout))
	defer cancel()
	if err := delivery.CheckName(name); err != nil {
		return delivery.Receipt{}, err
	}
	s, err := d.open(ctx, t)
	if err != nil {
		d.logResult(ctx, t, "deliver", err)
		return delivery.Receipt{}, err
	}
	defer s.close()
	n, err := s.upload(name, r)
	d.logResult(ctx, t, "deliver", err, "file", name, "bytes", n)
	if err != nil {
		return delivery.Receipt{}, err
	}
	return delivery.Receipt{Destination: destination(t, name), RemoteName: name, Bytes: n}, nil
}

// Test connects, authenticates, checks the folder, writes a probe file
// and removes it.
func (d *Deliverer) Test(ctx context.Context, t delivery.Target) delivery.TestResult {
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.TestTimeout, DefaultTestTimeout))
	defer cancel()
	s, err := d.open(ctx, t)
	if err == nil {
		defer s.close()
		err = s.probe()
	}
	d.logResult(ctx, t, "test", err)
	if err != nil {
		return delivery.Failed(err) // t.SFTP may be nil
	}
	return delivery.Outcome(nil, fmt.Sprintf("reached %s, authenticated as %s, folder %s writable",
		t.SFTP.Addr(), t.SFTP.User, folderLabel(t.SFTP.Folder)))
}

func (d *Deliverer) logResult(ctx context.Context, t delivery.Target, op string, err error, kv ...any) {
	if t.SFTP != nil {
		kv = append([]any{"addr", t.SFTP.Addr()}, kv...)
	}
	delivery.LogResult(ctx, d.Log, "sftp", t, op, err, kv...)
}

// session is an authenticated SFTP session in the target folder.
type session struct {
	t      delivery.Target
	conn   net.Conn
	ssh    *ssh.Client
	client *sftp.Client
	folder string
	stop   func() bool
}

func (s *session) close() {
	s.stop()
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.ssh != nil {
		_ = s.ssh.Close()
	}
	_ = s.conn.Close()
}

// open runs the phases up to the folder: credential, connect, host-key,
// authenticate, folder.
func (d *Deliverer) open(ctx context.Context, t delivery.Target) (*session, error) {
	if t.KindOrDefault() != delivery.KindSFTP || t.SFTP == nil {
		return nil, delivery.Fail(delivery.PhaseConfig, bulkerr.Invalid, nil, "target %s is not an SFTP target", t.ID)
	}
	cfg := *t.SFTP
	pinned, err := delivery.ParseHostKey(cfg.HostKey)
	if err != nil {
		return nil, delivery.Fail(delivery.PhaseConfig, bulkerr.Invalid, err, "the target's pinned host key is unusable: %s", err.Error())
	}
	if d.Credentials == nil {
		return nil, delivery.Fail(delivery.PhaseCredential, bulkerr.Internal, nil, "no credential source")
	}
	cred, err := d.Credentials.Credential(ctx, t.Tenant, cfg.CredentialARN)
	if err != nil {
		return nil, delivery.Fail(delivery.PhaseCredential, bulkerr.KindOf(err), err, "the target's credential could not be read: %s", bulkerr.Message(err))
	}
	auth, err := authMethod(cred)
	if err != nil {
		return nil, err
	}
	addr := cfg.Addr()
	dialer := net.Dialer{Timeout: orDefault(d.DialTimeout, DefaultDialTimeout)}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, delivery.Fail(delivery.PhaseConnect, bulkerr.Transient, err, "%s could not be reached: %s", addr, netReason(err))
	}
	// A context that ends (the delivery's timeout, a cancelled run)
	// closes the connection, so no read or write blocks past it.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	s := &session{t: t, conn: conn, stop: stop}
	fail := func(err error) (*session, error) { s.close(); return nil, err }

	check := &hostKeyCheck{pinned: pinned}
	_ = conn.SetDeadline(time.Now().Add(orDefault(d.HandshakeTimeout, DefaultHandshakeTimeout)))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{auth},
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: hostKeyAlgorithms(pinned.Type),
		ClientVersion:     "SSH-2.0-bulkops-delivery",
	})
	if err != nil {
		return fail(handshakeError(addr, cfg, check, err))
	}
	_ = conn.SetDeadline(time.Time{})
	s.ssh = ssh.NewClient(c, chans, reqs)
	if s.client, err = sftp.NewClient(s.ssh); err != nil {
		return fail(delivery.Fail(delivery.PhaseConnect, bulkerr.Transient, err, "%s accepted the login but offers no SFTP service", addr))
	}
	if s.folder, err = s.checkFolder(cfg.Folder); err != nil {
		return fail(err)
	}
	return s, nil
}

// checkFolder resolves the target folder and checks that it is a folder.
func (s *session) checkFolder(folder string) (string, error) {
	if folder == "" {
		folder = "."
	}
	info, err := s.client.Stat(folder)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "the folder %s does not exist on the server", folderLabel(folder))
	case errors.Is(err, fs.ErrPermission):
		return "", delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "the folder %s cannot be accessed by %s (permission denied)", folderLabel(folder), s.t.SFTP.User)
	case err != nil:
		return "", s.sessionError(delivery.PhaseFolder, err, "the folder %s could not be checked", folderLabel(folder))
	case !info.IsDir():
		return "", delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, nil, "%s is a file, not a folder", folderLabel(folder))
	}
	return folder, nil
}

// upload writes r to a temporary file in the folder and renames it over
// name. The temporary file is removed if anything fails.
func (s *session) upload(name string, r io.Reader) (int64, error) {
	final := path.Join(s.folder, name)
	tmp := path.Join(s.folder, "."+name+"."+randomSuffix()+".part")
	n, err := s.write(tmp, r)
	if err == nil {
		err = s.renameOver(tmp, final, s.posixRename())
	}
	if err != nil {
		_ = s.client.Remove(tmp)
		return n, err
	}
	return n, nil
}

// probe writes and removes a small file, the connection test's proof that
// the folder is writable.
func (s *session) probe() error {
	p := path.Join(s.folder, ".bulkops-probe-"+randomSuffix())
	if _, err := s.write(p, strings.NewReader("bulkops connection test; safe to delete\n")); err != nil {
		_ = s.client.Remove(p)
		return err
	}
	if err := s.client.Remove(p); err != nil {
		return s.sessionError(delivery.PhaseCleanup, err, "the probe file %s was written but could not be removed", p)
	}
	return nil
}

// write creates p (it must not exist) and copies r into it.
func (s *session) write(p string, r io.Reader) (int64, error) {
	f, err := s.client.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return 0, delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "the folder %s is not writable by %s (permission denied)", folderLabel(s.folder), s.t.SFTP.User)
		}
		return 0, s.sessionError(delivery.PhaseFolder, err, "a file could not be created in the folder %s", folderLabel(s.folder))
	}
	n, err := f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, s.writeError(err, n)
	}
	return n, nil
}

func (s *session) writeError(err error, n int64) error {
	var se *sftp.StatusError
	if errors.As(err, &se) && spaceProblem(se.Error()) {
		return delivery.Fail(delivery.PhaseWrite, bulkerr.Transient, err, "writing failed after %d bytes: the server has no space left (disk full or quota reached)", n)
	}
	if errors.Is(err, fs.ErrPermission) {
		return delivery.Fail(delivery.PhaseFolder, bulkerr.Invalid, err, "writing was refused after %d bytes (permission denied)", n)
	}
	return s.sessionError(delivery.PhaseWrite, err, "writing failed after %d bytes", n)
}

// sessionError names a failure of an SFTP request in phase p: a lost
// connection is Transient, a server's refusal Invalid, with the server's
// reason.
func (s *session) sessionError(p delivery.Phase, err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return delivery.Fail(p, bulkerr.Invalid, err, "%s: the server answered %s", msg, statusText(se))
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return delivery.Fail(p, bulkerr.Transient, err, "%s: the connection was lost or timed out", msg)
	}
	return delivery.Fail(p, bulkerr.Transient, err, "%s", msg)
}

func (s *session) posixRename() bool {
	_, ok := s.client.HasExtension("posix-rename@openssh.com")
	return ok
}

// renameOver moves tmp to final, replacing final: atomically with
// posix-rename, else by removing final first (SFTP v3's rename refuses an
// existing target).
func (s *session) renameOver(tmp, final string, posix bool) error {
	var err error
	if posix {
		err = s.client.PosixRename(tmp, final)
	} else {
		if rerr := s.client.Remove(final); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return s.sessionError(delivery.PhaseRename, rerr, "the previous %s could not be replaced", final)
		}
		err = s.client.Rename(tmp, final)
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return delivery.Fail(delivery.PhaseRename, bulkerr.Invalid, err, "the upload could not be renamed to %s (permission denied)", final)
		}
		return s.sessionError(delivery.PhaseRename, err, "the upload could not be renamed to %s", final)
	}
	return nil
}

// hostKeyCheck pins the server's host key and remembers what it saw.
type hostKeyCheck struct {
	pinned   delivery.HostKey
	seen     string // the fingerprint the server presented
	mismatch bool
}

func (h *hostKeyCheck) callback(_ string, _ net.Addr, key ssh.PublicKey) error {
	h.seen = ssh.FingerprintSHA256(key)
	if key.Type() == h.pinned.Type && h.seen == h.pinned.Fingerprint {
		return nil
	}
	h.mismatch = true
	return errHostKey
}

var errHostKey = errors.New("host key mismatch")

// hostKeyAlgorithms asks the server for the pinned key's type only, so a
// server with several keys presents the pinned one.
func hostKeyAlgorithms(typ string) []string {
	if typ == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{typ}
}

func handshakeError(addr string, cfg delivery.SFTP, h *hostKeyCheck, err error) error {
	switch {
	case h.mismatch:
		return delivery.Fail(delivery.PhaseHostKey, bulkerr.Invalid, err,
			"%s presented the host key %s, not the pinned %s: the connection was refused (if the server's key really changed, update the target's host key)",
			addr, h.seen, h.pinned.Fingerprint)
	case strings.Contains(err.Error(), "no common algorithm for host key"):
		return delivery.Fail(delivery.PhaseHostKey, bulkerr.Invalid, err,
			"%s has no %s host key, the type of the pinned %s: the connection was refused", addr, h.pinned.Type, h.pinned.Fingerprint)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return delivery.Fail(delivery.PhaseAuthenticate, bulkerr.Invalid, err,
			"%s refused the login of %s with the target's %s", addr, cfg.User, authLabel(cfg.Auth))
	case h.seen == "":
		return delivery.Fail(delivery.PhaseConnect, bulkerr.Transient, err, "%s does not speak SSH or closed the connection: %s", addr, netReason(err))
	default:
		return delivery.Fail(delivery.PhaseAuthenticate, bulkerr.Transient, err, "the login at %s did not complete: %s", addr, netReason(err))
	}
}

func authMethod(c delivery.Credential) (ssh.AuthMethod, error) {
	if c.PrivateKey == "" {
		return ssh.Password(c.Password), nil
	}
	var signer ssh.Signer
	var err error
	if c.Passphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.PrivateKey), []byte(c.Passphrase))
	} else {
		signer, err = ssh.ParsePrivateKey([]byte(c.PrivateKey))
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, delivery.Fail(delivery.PhaseCredential, bulkerr.Invalid, nil, "the target's private key is protected by a passphrase, and the credential has none")
		}
		// The parser's error may quote key material: it is not kept.
		return nil, delivery.Fail(delivery.PhaseCredential, bulkerr.Invalid, nil, "the target's private key could not be read (wrong passphrase or not an SSH private key)")
	}
	return ssh.PublicKeys(signer), nil
}

// spaceProblem reports whether a server's status message says the disk or
// quota is full (SFTP v3 has no code for it: servers send SSH_FX_FAILURE).
func spaceProblem(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "no space") || strings.Contains(m, "quota") || strings.Contains(m, "disk full")
}

// statusText is a server status without the library's decoration.
func statusText(se *sftp.StatusError) string {
	return strings.TrimPrefix(se.Error(), "sftp: ")
}

func netReason(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "no such host"):
		return "no such host"
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return "the connection was closed"
	}
	return "network error"
}

func authLabel(a delivery.AuthMethod) string {
	if a == delivery.AuthPrivateKey {
		return "private key"
	}
	return "password"
}

func folderLabel(f string) string {
	if f == "" || f == "." {
		return "(login folder)"
	}
	return f
}

func destination(t delivery.Target, name string) string {
	p := delivery.JoinRemote(t.SFTP.Folder, name)
	if !strings.HasPrefix(p, "/") {
		p = "/~/" + p // relative to the login folder
	}
	return "sftp://" + t.SFTP.User + "@" + t.SFTP.Addr() + p
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
