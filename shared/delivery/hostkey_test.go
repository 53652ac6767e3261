package delivery

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testKeys(t testing.TB) map[string]ssh.PublicKey {
	t.Helper()
	out := map[string]ssh.PublicKey{}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, signer := range map[string]any{
		"ed25519": ed,
		"p256":    must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"p384":    must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"p521":    must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)),
		"rsa2048": must(rsa.GenerateKey(rand.Reader, 2048)),
		"rsa1024": must(rsa.GenerateKey(rand.Reader, 1024)),
	} {
		s, err := ssh.NewSignerFromKey(signer)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s.PublicKey()
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestParseHostKeyMatchesSSH(t *testing.T) {
	for name, pub := range testKeys(t) {
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
		forms := map[string]string{
			"authorized_keys":  line,
			"pub with comment": line + " root@host",
			"known_hosts":      "sftp.example.com,10.0.0.1 " + line,
			"keyscan":          "# sftp.example.com:22 SSH-2.0-OpenSSH_9.6\n[sftp.example.com]:2222 " + line + "\n",
		}
		for form, text := range forms {
			k, err := ParseHostKey(text)
			if name == "rsa1024" {
				if err == nil || !strings.Contains(err.Error(), "too weak") {
					t.Errorf("%s %s: err = %v, want too weak", name, form, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", name, form, err)
				continue
			}
			if k.Fingerprint != ssh.FingerprintSHA256(pub) {
				t.Errorf("%s %s: fingerprint %s, ssh says %s", name, form, k.Fingerprint, ssh.FingerprintSHA256(pub))
			}
			if k.AuthorizedKey() != line || k.Type != pub.Type() {
				t.Errorf("%s %s: %q, want %q", name, form, k.AuthorizedKey(), line)
			}
		}
	}
}

func TestParseHostKeyRefuses(t *testing.T) {
	keys := testKeys(t)
	ed := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(keys["ed25519"])))
	p256 := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(keys["p256"])))
	edBlob := keys["ed25519"].Marshal()
	relabel := "ssh-rsa " + base64.StdEncoding.EncodeToString(edBlob)
	trailing := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(append(append([]byte{}, edBlob...), 0))
	short := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(edBlob[:len(edBlob)-1])
	p256Blob := keys["p256"].Marshal()
	bent := append([]byte{}, p256Blob...)
	bent[len(bent)-1] ^= 1
	offCurve := "ecdsa-sha2-nistp256 " + base64.StdEncoding.EncodeToString(bent)
	tests := []struct{ name, text, want string }{
		{"empty", "", "no public key"},
		{"comments only", "# nothing\n\n", "no public key"},
		{"two keys", ed + "\n" + p256, "2 keys found"},
		{"dsa", "ssh-dss AAAAB3NzaC1kc3M=", "DSA"},
		{"cert", "ssh-ed25519-cert-v01@openssh.com AAAA", "certificate"},
		{"sk", "sk-ssh-ed25519@openssh.com AAAA", "security-key"},
		{"marker", "@cert-authority *.example.com " + ed, "marker"},
		{"unknown type", "ssh-foo AAAA", "key type"},
		{"no base64", "ssh-ed25519", "without its base64"},
		{"bad base64", "ssh-ed25519 !!!", "not valid base64"},
		{"relabelled", relabel, "it says it is"},
		{"trailing", trailing, "bytes after the key"},
		{"truncated", short, "truncated"},
		{"off curve", offCurve, "not on the curve"},
		{"too long", strings.Repeat("a", MaxHostKeyText+1), "longer than"},
		{"private key", "-----BEGIN OPENSSH PRIVATE KEY-----", "key type"},
	}
	for _, tt := range tests {
		_, err := ParseHostKey(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParseHostKey: no input panics, and every key accepted is one
// x/crypto/ssh accepts too, with the same fingerprint; its authorized_keys
// form parses back to the same key.
func FuzzParseHostKey(f *testing.F) {
	for _, pub := range testKeys(f) {
		line := string(ssh.MarshalAuthorizedKey(pub))
		f.Add(line)
		f.Add("host.example.com " + line)
		f.Add("[h]:2222,10.0.0.1 " + strings.TrimSpace(line) + " comment\n# x\n")
	}
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==")
	f.Add("@revoked * ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, text string) {
		k, err := ParseHostKey(text)
		if err != nil {
			return
		}
		pub, err := ssh.ParsePublicKey(k.Blob)
		if err != nil {
			t.Fatalf("accepted %q, which ssh refuses: %v", text, err)
		}
		if pub.Type() != k.Type || ssh.FingerprintSHA256(pub) != k.Fingerprint {
			t.Fatalf("accepted %q as %s %s, ssh reads %s %s", text, k.Type, k.Fingerprint, pub.Type(), ssh.FingerprintSHA256(pub))
		}
		again, err := ParseHostKey(k.AuthorizedKey())
		if err != nil || again.Fingerprint != k.Fingerprint {
			t.Fatalf("authorized_keys form %q does not parse back: %v", k.AuthorizedKey(), err)
		}
	})
}
