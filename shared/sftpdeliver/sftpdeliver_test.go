package sftpdeliver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/crypto/ssh"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/sftpserver"
	"github.com/ccbulk/bulkops/shared/secretstore"
)

const (
	password   = "sftp-pw-never-logged-91c2"
	passphrase = "key-passphrase-never-logged-5d"
)

// syncBuffer is a log sink shared by the servers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is an SFTP server and a Secrets Manager, both real protocol servers
// on 127.0.0.1, and a Deliverer reading its credentials from the latter.
type rig struct {
	srv     *sftpserver.Server
	store   *secretstore.Store
	d       *Deliverer
	logs    *syncBuffer
	keyPEM  string // the "key" user's private key, passphrase-protected
	plainPK string // the same key without passphrase
	n       int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := ssh.MarshalPrivateKey(priv, "")
	srv, err := sftpserver.Start(sftpserver.Config{
		Addr: "127.0.0.1:0", Root: t.TempDir(), Log: log,
		Users: []sftpserver.User{
			{Name: "pw", Password: password},
			{Name: "key", AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}},
			{Name: "full", Password: password, QuotaBytes: 1000},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("POST /secretsmanager", devstack.NewSecretsManager(log))
	sm := httptest.NewServer(mux)
	t.Cleanup(sm.Close)
	client := secretsmanager.New(secretsmanager.Options{Region: devstack.Region, BaseEndpoint: aws.String(sm.URL + "/secretsmanager"),
		Credentials: credentials.NewStaticCredentialsProvider("local", "localsecret", "")})
	store := &secretstore.Store{API: client, Log: log, Force: true}
	return &rig{srv: srv, store: store, logs: logs, keyPEM: string(pem.EncodeToMemory(enc)), plainPK: string(pem.EncodeToMemory(plain)),
		d: &Deliverer{Credentials: store, Log: log, TestTimeout: 10 * time.Second, Timeout: 20 * time.Second}}
}

// target returns an SFTP target of the rig's server for user, with its
// credential stored in Secrets Manager.
func (r *rig) target(t *testing.T, user, folder string, cred delivery.Credential) delivery.Target {
	t.Helper()
	r.n++
	host, port, _ := net.SplitHostPort(r.srv.Addr())
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	id := "t" + string(rune('a'+r.n))
	arn, err := r.store.Create(context.Background(), "acme", id, cred)
	if err != nil {
		t.Fatal(err)
	}
	tg := delivery.Target{ID: id, Tenant: "acme", Name: "test", Kind: delivery.KindSFTP, SFTP: &delivery.SFTP{
		Host: host, Port: p, User: user, Folder: folder, Auth: cred.Method(), CredentialARN: arn,
		HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(r.srv.HostKey()))), HostKeyFingerprint: ssh.FingerprintSHA256(r.srv.HostKey()),
	}}
	if err := tg.ValidateStored(); err != nil {
		t.Fatal(err)
	}
	return tg
}

func (r *rig) mkdir(t *testing.T, user, dir string) {
	if err := os.MkdirAll(filepath.Join(r.srv.Home(user), dir), 0o755); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDeliverAndTest(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.mkdir(t, "pw", "in")
	r.mkdir(t, "key", "in")
	creds := map[string]struct {
		user string
		cred delivery.Credential
	}{
		"password":           {"pw", delivery.Credential{Password: password}},
		"private key":        {"key", delivery.Credential{PrivateKey: r.plainPK}},
		"private key + pass": {"key", delivery.Credential{PrivateKey: r.keyPEM, Passphrase: passphrase}},
	}
	for name, c := range creds {
		t.Run(name, func(t *testing.T) {
			tg := r.target(t, c.user, "/in", c.cred)
			res := r.d.Test(ctx, tg)
			want := "reached " + r.srv.Addr() + ", authenticated as " + c.user + ", folder /in writable"
			if !res.OK || res.Sentence != want || res.Phase != "" {
				t.Fatalf("Test = %+v, want %q", res, want)
			}
			first := bytes.Repeat([]byte("first version\n"), 20000) // 280 KB: many SFTP packets
			rc, err := r.d.Deliver(ctx, tg, "acme-Agent.zip", bytes.NewReader(first))
			if err != nil {
				t.Fatal(err)
			}
			wantDest := "sftp://" + c.user + "@" + r.srv.Addr() + "/in/acme-Agent.zip"
			if rc.Destination != wantDest || rc.RemoteName != "acme-Agent.zip" || rc.Bytes != int64(len(first)) {
				t.Errorf("receipt %+v, want %s", rc, wantDest)
			}
			// The stable name is replaced by the next delivery.
			if _, err := r.d.Deliver(ctx, tg, "acme-Agent.zip", strings.NewReader("second")); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(r.srv.Home(c.user), "in", "acme-Agent.zip"))
			if err != nil || string(got) != "second" {
				t.Errorf("file = %q, %v", got, err)
			}
			if names := listDir(t, filepath.Join(r.srv.Home(c.user), "in")); len(names) != 1 {
				t.Errorf("folder holds %v: temporary or probe files were left", names)
			}
		})
	}
}

func TestLoginFolder(t *testing.T) {
	r := newRig(t)
	tg := r.target(t, "pw", "", delivery.Credential{Password: password})
	if res := r.d.Test(context.Background(), tg); !res.OK || !strings.HasSuffix(res.Sentence, "folder (login folder) writable") {
		t.Fatalf("Test = %+v", res)
	}
	r.mkdir(t, "pw", "rel")
	tg = r.target(t, "pw", "rel", delivery.Credential{Password: password})
	rc, err := r.d.Deliver(context.Background(), tg, "a.csv", strings.NewReader("a,b\n"))
	if err != nil || !strings.HasSuffix(rc.Destination, "/~/rel/a.csv") {
		t.Fatalf("Deliver = %+v, %v", rc, err)
	}
}

// TestFailures: each failure is reported in its phase, with a sentence
// that says what failed, and leaves no file behind.
func TestFailures(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pw := delivery.Credential{Password: password}
	other, _ := sftpserver.NewHostKey()

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().(*net.TCPAddr)
	closed.Close()

	tests := []struct {
		name  string
		setup func() delivery.Target
		phase delivery.Phase
		kind  bulkerr.Kind
		want  []string
	}{
		{"wrong host key", func() delivery.Target {
			tg := r.target(t, "pw", "", pw)
			tg.SFTP.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey())))
			return tg
		}, delivery.PhaseHostKey, bulkerr.Invalid, []string{"presented the host key " + ssh.FingerprintSHA256(r.srv.HostKey()), "not the pinned " + ssh.FingerprintSHA256(other.PublicKey()), "refused"}},
		{"host key of another type", func() delivery.Target {
			tg := r.target(t, "pw", "", pw)
			tg.SFTP.HostKey = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
			return tg
		}, delivery.PhaseHostKey, bulkerr.Invalid, []string{"has no ecdsa-sha2-nistp256 host key"}},
		{"wrong password", func() delivery.Target {
			return r.target(t, "pw", "", delivery.Credential{Password: "wrong-" + password})
		}, delivery.PhaseAuthenticate, bulkerr.Invalid, []string{"refused the login of pw with the target's password"}},
		{"unknown key", func() delivery.Target {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			b, _ := ssh.MarshalPrivateKey(priv, "")
			return r.target(t, "key", "", delivery.Credential{PrivateKey: string(pem.EncodeToMemory(b))})
		}, delivery.PhaseAuthenticate, bulkerr.Invalid, []string{"refused the login of key with the target's private key"}},
		{"missing passphrase", func() delivery.Target {
			return r.target(t, "key", "", delivery.Credential{PrivateKey: r.keyPEM})
		}, delivery.PhaseCredential, bulkerr.Invalid, []string{"protected by a passphrase"}},
		{"wrong passphrase", func() delivery.Target {
			return r.target(t, "key", "", delivery.Credential{PrivateKey: r.keyPEM, Passphrase: "nope"})
		}, delivery.PhaseCredential, bulkerr.Invalid, []string{"could not be read"}},
		{"secret gone", func() delivery.Target {
			tg := r.target(t, "pw", "", pw)
			if err := r.store.Delete(ctx, "acme", tg.SFTP.CredentialARN); err != nil {
				t.Fatal(err)
			}
			return tg
		}, delivery.PhaseCredential, bulkerr.NotFound, []string{"credential could not be read"}},
		{"connection refused", func() delivery.Target {
			tg := r.target(t, "pw", "", pw)
			tg.SFTP.Port = closedAddr.Port
			return tg
		}, delivery.PhaseConnect, bulkerr.Transient, []string{"could not be reached: connection refused"}},
		{"missing folder", func() delivery.Target { return r.target(t, "pw", "/nope", pw) },
			delivery.PhaseFolder, bulkerr.Invalid, []string{"the folder /nope does not exist"}},
		{"denied folder", func() delivery.Target { return r.target(t, "pw", "/denied", pw) },
			delivery.PhaseFolder, bulkerr.Invalid, []string{"not writable by pw (permission denied)"}},
		{"inside the denied folder", func() delivery.Target { return r.target(t, "pw", "/denied/x", pw) },
			delivery.PhaseFolder, bulkerr.Invalid, []string{"cannot be accessed by pw (permission denied)"}},
		{"read-only folder", func() delivery.Target { return r.target(t, "pw", "/readonly", pw) },
			delivery.PhaseFolder, bulkerr.Invalid, []string{"permission denied"}},
		{"a file, not a folder", func() delivery.Target {
			_ = os.WriteFile(filepath.Join(r.srv.Home("pw"), "afile"), []byte("x"), 0o644)
			return r.target(t, "pw", "/afile", pw)
		}, delivery.PhaseFolder, bulkerr.Invalid, []string{"/afile is a file, not a folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := tt.setup()
			res := r.d.Test(ctx, tg)
			t.Log(res.Sentence)
			if res.OK || res.Phase != tt.phase || !strings.HasPrefix(res.Sentence, "failed at "+string(tt.phase)+": ") {
				t.Errorf("Test = %+v, want phase %s", res, tt.phase)
			}
			_, err := r.d.Deliver(ctx, tg, "x.zip", strings.NewReader("data"))
			if delivery.PhaseOf(err) != tt.phase || bulkerr.KindOf(err) != tt.kind {
				t.Errorf("Deliver: phase %s kind %s (%v), want %s %s", delivery.PhaseOf(err), bulkerr.KindOf(err), err, tt.phase, tt.kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Sentence, w) || !strings.Contains(bulkerr.Message(err), w) {
					t.Errorf("sentence %q / message %q: want %q", res.Sentence, bulkerr.Message(err), w)
				}
			}
		})
	}
	// Nothing was written anywhere by the failed deliveries.
	for _, u := range []string{"pw", "key"} {
		_ = filepath.Walk(r.srv.Home(u), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && info.Name() != "afile" {
				t.Errorf("left behind: %s", p)
			}
			return nil
		})
	}
}

// TestFullDisk: a write past the server's space fails in the write phase,
// and the previous file under the same name is left as it was.
func TestFullDisk(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tg := r.target(t, "full", "", delivery.Credential{Password: password})
	if _, err := r.d.Deliver(ctx, tg, "report.csv", strings.NewReader("old content\n")); err != nil {
		t.Fatal(err)
	}
	_, err := r.d.Deliver(ctx, tg, "report.csv", bytes.NewReader(make([]byte, 5000)))
	if delivery.PhaseOf(err) != delivery.PhaseWrite || bulkerr.KindOf(err) != bulkerr.Transient ||
		!strings.Contains(bulkerr.Message(err), "the server has no space left") {
		t.Fatalf("Deliver = %v (phase %s, kind %s), want a write-phase no-space error", err, delivery.PhaseOf(err), bulkerr.KindOf(err))
	}
	if got, _ := os.ReadFile(filepath.Join(r.srv.Home("full"), "report.csv")); string(got) != "old content\n" {
		t.Errorf("previous file = %q", got)
	}
	if names := listDir(t, r.srv.Home("full")); len(names) != 3 { // denied, readonly, report.csv
		t.Errorf("home holds %v: the partial upload was left", names)
	}
	// With the disk nearly full, the connection test's probe fails too.
	if err := os.WriteFile(filepath.Join(r.srv.Home("full"), "big"), make([]byte, 980), 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.d.Test(ctx, tg)
	if res.OK || res.Phase != delivery.PhaseWrite || !strings.Contains(res.Sentence, "no space left") {
		t.Errorf("Test = %+v", res)
	}
}

// TestRenameWithoutPosixRename: against a server without
// posix-rename@openssh.com, the previous file is removed, then the upload
// renamed over it.
func TestRenameWithoutPosixRename(t *testing.T) {
	r := newRig(t)
	tg := r.target(t, "pw", "", delivery.Credential{Password: password})
	s, err := r.d.open(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	home := r.srv.Home("pw")
	_ = os.WriteFile(filepath.Join(home, "final"), []byte("old"), 0o644)
	_ = os.WriteFile(filepath.Join(home, "tmp"), []byte("new"), 0o644)
	// The server's plain rename refuses an existing target, as OpenSSH's does.
	if err := s.client.Rename("tmp", "final"); err == nil {
		t.Fatal("plain rename over an existing file succeeded")
	}
	if err := s.renameOver("tmp", "final", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(home, "final")); string(got) != "new" {
		t.Errorf("final = %q", got)
	}
}

func TestBadFileName(t *testing.T) {
	r := newRig(t)
	tg := r.target(t, "pw", "", delivery.Credential{Password: password})
	if _, err := r.d.Deliver(context.Background(), tg, "../etc/passwd", strings.NewReader("x")); delivery.PhaseOf(err) != delivery.PhaseConfig || bulkerr.KindOf(err) != bulkerr.Invalid {
		t.Errorf("Deliver = %v", err)
	}
}

// TestTimeout: a server that accepts TCP but never speaks SSH is given up
// on after the handshake timeout, in the connect phase.
func TestTimeout(t *testing.T) {
	r := newRig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tg := r.target(t, "pw", "", delivery.Credential{Password: password})
	tg.SFTP.Port = ln.Addr().(*net.TCPAddr).Port
	d := *r.d
	d.HandshakeTimeout = 300 * time.Millisecond
	res := d.Test(context.Background(), tg)
	if res.OK || res.Phase != delivery.PhaseConnect || !strings.Contains(res.Sentence, "timed out") {
		t.Errorf("Test = %+v", res)
	}
}

// TestSecretsNeverShown: the password, the passphrase and the private key
// appear in no log line (the deliverer's, the secret store's, the SFTP
// and Secrets Manager servers'), receipt, sentence or error.
func TestSecretsNeverShown(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var shown []string
	for _, c := range []struct {
		user string
		cred delivery.Credential
	}{
		{"pw", delivery.Credential{Password: password}},
		{"pw", delivery.Credential{Password: "wrong" + password}},
		{"key", delivery.Credential{PrivateKey: r.keyPEM, Passphrase: passphrase}},
		{"key", delivery.Credential{PrivateKey: r.keyPEM, Passphrase: "wrong" + passphrase}},
		{"full", delivery.Credential{Password: password}},
	} {
		tg := r.target(t, c.user, "", c.cred)
		res := r.d.Test(ctx, tg)
		rc, err := r.d.Deliver(ctx, tg, "f.bin", bytes.NewReader(make([]byte, 3000)))
		shown = append(shown, res.Sentence, rc.Destination, rc.RemoteName)
		if err != nil {
			shown = append(shown, err.Error(), bulkerr.Message(err))
		}
	}
	keyLines := strings.Split(strings.TrimSpace(r.keyPEM), "\n")
	all := strings.Join(shown, "\n") + "\n" + r.logs.String()
	for _, secret := range append([]string{password, passphrase}, keyLines[1:len(keyLines)-1]...) {
		if strings.Contains(all, secret) {
			t.Errorf("a secret is shown: %q", secret)
		}
	}
	if !strings.Contains(r.logs.String(), `"msg":"sftp delivery done"`) || !strings.Contains(r.logs.String(), `"msg":"sftp delivery failed"`) {
		t.Errorf("the deliverer logs nothing: %s", r.logs.String())
	}
}
