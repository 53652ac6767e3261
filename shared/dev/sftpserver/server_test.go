package sftpserver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

func dial(t *testing.T, s *Server, user string, auth ssh.AuthMethod) (*ssh.Client, *sftp.Client) {
	t.Helper()
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.FixedHostKey(s.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return c, sc
}

func TestServer(t *testing.T) {
	root := t.TempDir()
	keyFile := filepath.Join(root, "keys", "host")
	s, err := Start(Config{Addr: "127.0.0.1:0", Root: filepath.Join(root, "homes"), HostKeyFile: keyFile,
		Users: []User{{Name: "u", Password: "p", QuotaBytes: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub, err := os.ReadFile(keyFile + ".pub")
	if err != nil || strings.TrimSpace(string(pub)) != strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey()))) {
		t.Fatalf("host key .pub: %q %v", pub, err)
	}
	c, sc := dial(t, s, "u", ssh.Password("p"))

	// Paths stay in the home: "/.." is the home.
	f, err := sc.Create("/../a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 60)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "homes", "u", "a.txt")); err != nil {
		t.Errorf("not in the home: %v", err)
	}
	// The quota: 60 of 100 bytes used, 50 more do not fit.
	f, _ = sc.Create("/b.txt")
	_, err = f.Write(bytes.Repeat([]byte("y"), 50))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("write past the quota: %v", err)
	}
	f.Close()
	// Plain rename refuses an existing target; posix-rename replaces it.
	if err := sc.Rename("/b.txt", "/a.txt"); err == nil {
		t.Error("rename over an existing file succeeded")
	}
	if err := sc.PosixRename("/b.txt", "/a.txt"); err != nil {
		t.Error(err)
	}
	// The denied folder refuses, the read-only one refuses writes.
	for _, p := range []string{"/denied/x", "/readonly/x"} {
		if _, err := sc.Create(p); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("create %s: %v", p, err)
		}
	}
	if _, err := sc.ReadDir("/denied"); err == nil {
		t.Error("listing the denied folder succeeded")
	}
	if _, err := sc.ReadDir("/readonly"); err != nil {
		t.Errorf("listing the read-only folder: %v", err)
	}
	// No shell, no exec.
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Run("id"); err == nil {
		t.Error("exec succeeded")
	}
	// A wrong password is refused.
	if _, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: "u", Auth: []ssh.AuthMethod{ssh.Password("q")}, HostKeyCallback: ssh.FixedHostKey(s.HostKey())}); err == nil {
		t.Error("wrong password accepted")
	}
	// The same host key is loaded again.
	again, err := LoadOrCreateHostKey(keyFile)
	if err != nil || !bytes.Equal(again.PublicKey().Marshal(), s.HostKey().Marshal()) {
		t.Errorf("host key not kept: %v", err)
	}
}

func TestOnlyLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.0.0.1:22", "example.com:22"} {
		if _, err := Start(Config{Addr: addr, Root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "address") {
			t.Errorf("Start(%s) = %v", addr, err)
		}
	}
}
