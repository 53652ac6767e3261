// Package sftpserver is the local stack's SFTP server: a real SSH server
// (golang.org/x/crypto/ssh) serving the SFTP subsystem (github.com/pkg/sftp's
// request server) on 127.0.0.1 only, so delivery tests talk the real
// protocol to a real server.
//
// Every user has a home folder under Config.Root, which is "/" for them (no
// path leaves it). Users log in with a password, a public key, or both. A
// user may have a quota: a write that would take the files in the home
// folder past it fails with SSH_FX_FAILURE "no space left on device", as a
// full disk does. In every home, the folder named Config.DeniedFolder
// exists but refuses everything (permission denied), and Config.ReadOnlyFolder
// can be listed and read but not written. The host key is generated once
// and kept in Config.HostKeyFile (and its .pub beside it), so a target can
// pin it.
package sftpserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// User is one account of the server.
type User struct {
	Name string
	// Password logs the user in when not empty.
	Password string
	// AuthorizedKeys log the user in with the matching private keys.
	AuthorizedKeys []ssh.PublicKey
	// QuotaBytes bounds the bytes of the files in the user's home (0: no
	// bound); writes past it fail with "no space left on device".
	QuotaBytes int64
}

// Config configures a Server.
type Config struct {
	// Addr is the listen address; its host must be a loopback address.
	// "127.0.0.1:0" picks a free port.
	Addr string
	// Root holds one home folder per user, Root/<name>, created as needed.
	Root string
	// HostKeyFile keeps the server's ed25519 host key (OpenSSH PEM),
	// created when missing, with its public key in HostKeyFile+".pub". Empty:
	// HostKey, or a new key for this run only.
	HostKeyFile string
	// HostKey is the host key when HostKeyFile is empty.
	HostKey ssh.Signer
	Users   []User
	// DeniedFolder names the folder in every home that refuses every
	// operation (default "denied").
	DeniedFolder string
	// ReadOnlyFolder names the folder in every home that can be read but
	// not written (default "readonly").
	ReadOnlyFolder string
	// HandshakeTimeout bounds the SSH handshake and authentication
	// (default 30 s).
	HandshakeTimeout time.Duration
	Log              *slog.Logger
}

// Server is a running SFTP server.
type Server struct {
	cfg     Config
	ln      net.Listener
	hostKey ssh.Signer
	ssh     *ssh.ServerConfig
	users   map[string]*account
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

type account struct {
	User
	home string
	// mu serializes the quota's accounting of this user's writes.
	mu sync.Mutex
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Server, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sftpserver: address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sftpserver: address %q: only a loopback address (127.0.0.1) may be served", cfg.Addr)
	}
	if cfg.Root == "" {
		return nil, errors.New("sftpserver: Root is required")
	}
	if cfg.DeniedFolder == "" {
		cfg.DeniedFolder = "denied"
	}
	if cfg.ReadOnlyFolder == "" {
		cfg.ReadOnlyFolder = "readonly"
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	hostKey := cfg.HostKey
	if cfg.HostKeyFile != "" {
		if hostKey, err = LoadOrCreateHostKey(cfg.HostKeyFile); err != nil {
			return nil, err
		}
	}
	if hostKey == nil {
		if hostKey, err = NewHostKey(); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, hostKey: hostKey, users: map[string]*account{}, log: log, conns: map[net.Conn]struct{}{}}
	for _, u := range cfg.Users {
		if u.Name == "" || u.Name != filepath.Base(u.Name) || u.Name == "." || u.Name == ".." {
			return nil, fmt.Errorf("sftpserver: user name %q is not a plain name", u.Name)
		}
		a := &account{User: u, home: filepath.Join(cfg.Root, u.Name)}
		for _, dir := range []string{a.home, filepath.Join(a.home, cfg.DeniedFolder), filepath.Join(a.home, cfg.ReadOnlyFolder)} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("sftpserver: %w", err)
			}
		}
		s.users[u.Name] = a
	}
	s.ssh = &ssh.ServerConfig{
		MaxAuthTries:      6,
		PasswordCallback:  s.checkPassword,
		PublicKeyCallback: s.checkKey,
		ServerVersion:     "SSH-2.0-bulkops-local-sftp",
	}
	s.ssh.AddHostKey(hostKey)
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("sftpserver: %w", err)
	}
	s.wg.Add(1)
	go s.accept()
	log.Info("sftp server listening", "addr", s.ln.Addr().String(), "hostKey", ssh.FingerprintSHA256(hostKey.PublicKey()), "users", len(s.users))
	return s, nil
}

// Addr returns the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HostKey returns the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// Home returns the folder on disk that is user's "/".
func (s *Server) Home(user string) string { return filepath.Join(s.cfg.Root, user) }

// Close stops listening, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(c, s.ssh)
	if err != nil {
		s.log.Info("ssh handshake failed", "remote", c.RemoteAddr().String(), "error", err.Error())
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer conn.Close()
	a := s.users[conn.User()]
	s.log.Info("ssh login", "user", conn.User(), "method", conn.Permissions.Extensions["method"])
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.serveSession(a, ch, chReqs)
	}
}

// serveSession answers a session's requests: the sftp subsystem only (no
// shell, no exec).
func (s *Server) serveSession(a *account, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		ok := req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if !ok {
			continue
		}
		h := &fsys{s: s, a: a}
		rs := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}, sftp.WithStartDirectory("/"))
		if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
			s.log.Info("sftp session ended", "user", a.Name, "error", err.Error())
		}
		_ = rs.Close()
		return
	}
}

func (s *Server) checkPassword(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	a, ok := s.users[meta.User()]
	if ok && a.Password != "" && subtle.ConstantTimeCompare([]byte(a.Password), pw) == 1 {
		return &ssh.Permissions{Extensions: map[string]string{"method": "password"}}, nil
	}
	s.log.Info("ssh password refused", "user", meta.User())
	return nil, errors.New("password refused")
}

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if a, ok := s.users[meta.User()]; ok {
		for _, k := range a.AuthorizedKeys {
			if k.Type() == key.Type() && subtle.ConstantTimeCompare(k.Marshal(), key.Marshal()) == 1 {
				return &ssh.Permissions{Extensions: map[string]string{"method": "publickey"}}, nil
			}
		}
	}
	return nil, errors.New("key refused")
}

// NewHostKey returns a new ed25519 host key.
func NewHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// LoadOrCreateHostKey reads the OpenSSH PEM private key in path, or
// creates an ed25519 one there (mode 0600) with its authorized_keys line in
// path+".pub".
func LoadOrCreateHostKey(path string) (ssh.Signer, error) {
	return loadOrCreateKey(path, "bulkops-local-sftp")
}

// LoadOrCreateClientKey is LoadOrCreateHostKey for a client's key pair
// (the local stack's key-authenticated user).
func LoadOrCreateClientKey(path string) (ssh.Signer, error) {
	return loadOrCreateKey(path, "bulkops-local-client")
}

func loadOrCreateKey(path, comment string) (ssh.Signer, error) {
	if b, err := os.ReadFile(path); err == nil {
		k, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("sftpserver: key %s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	return signer, nil
}

// Serve runs a server until ctx ends (the cmd/sftpserver loop).
func Serve(ctx context.Context, cfg Config) error {
	s, err := Start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}
