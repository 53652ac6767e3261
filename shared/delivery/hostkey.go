package delivery

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// HostKey is an SSH server's public host key.
type HostKey struct {
	// Type is the key's algorithm name: ssh-ed25519, ssh-rsa or
	// ecdsa-sha2-nistp256/384/521.
	Type string
	// Blob is the key in the SSH wire format (RFC 4253 section 6.6).
	Blob []byte
	// Fingerprint is "SHA256:" and the unpadded base64 of the blob's
	// SHA-256, the form ssh-keygen -l and ssh print.
	Fingerprint string
}

// AuthorizedKey returns the key in authorized_keys form, "type base64",
// the form a target pins.
func (k HostKey) AuthorizedKey() string {
	return k.Type + " " + base64.StdEncoding.EncodeToString(k.Blob)
}

// Fingerprint returns the SHA256 fingerprint of an SSH wire-format key.
func Fingerprint(blob []byte) string {
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// MaxHostKeyText is the longest host key text ParseHostKey reads.
const MaxHostKeyText = 16 << 10

// minRSABits is the smallest RSA host key accepted.
const minRSABits = 2048

// ParseHostKey reads one public host key given as
//
//   - an authorized_keys or .pub line: "ssh-ed25519 AAAA... comment";
//   - a known_hosts or ssh-keyscan line: "host[,host...] ssh-ed25519 AAAA...".
//
// Blank lines and lines starting with '#' are skipped; exactly one key must
// remain. Certificates, @cert-authority and @revoked lines, DSA and
// security-key types, and RSA keys under 2048 bits are refused. The key's
// wire form is checked field by field, so a key accepted here is one an SSH
// client can verify a server against.
func ParseHostKey(text string) (HostKey, error) {
	if len(text) > MaxHostKeyText {
		return HostKey{}, fmt.Errorf("longer than %d bytes: one public key is expected", MaxHostKeyText)
	}
	var found []HostKey
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeyLine(line)
		if err != nil {
			return HostKey{}, fmt.Errorf("line %d: %w", n+1, err)
		}
		found = append(found, k)
	}
	switch len(found) {
	case 0:
		return HostKey{}, errors.New("no public key found: expected \"ssh-ed25519 AAAA...\"")
	case 1:
		return found[0], nil
	default:
		return HostKey{}, fmt.Errorf("%d keys found: pin exactly one (ssh-ed25519 is preferred)", len(found))
	}
}

// keyTypes are the host key types accepted.
var keyTypes = map[string]bool{
	"ssh-ed25519": true, "ssh-rsa": true,
	"ecdsa-sha2-nistp256": true, "ecdsa-sha2-nistp384": true, "ecdsa-sha2-nistp521": true,
}

func parseKeyLine(line string) (HostKey, error) {
	fields := strings.Fields(line)
	if strings.HasPrefix(fields[0], "@") {
		return HostKey{}, fmt.Errorf("marker %q: a plain host key is expected, not a known_hosts %s line", shorten(fields[0]), shorten(fields[0]))
	}
	// The type is the first field, or the second after known_hosts' host
	// patterns.
	at := 0
	if !looksLikeType(fields[0]) && len(fields) > 1 {
		at = 1
	}
	typ := fields[at]
	switch {
	case strings.HasSuffix(typ, "-cert-v01@openssh.com"):
		return HostKey{}, fmt.Errorf("%s is a certificate: pin the server's plain host key", shorten(typ))
	case typ == "ssh-dss":
		return HostKey{}, errors.New("ssh-dss (DSA) host keys are refused as insecure: pin the server's ssh-ed25519, ecdsa or rsa key")
	case strings.HasPrefix(typ, "sk-"):
		return HostKey{}, fmt.Errorf("%s is a security-key type, not a host key", shorten(typ))
	case !keyTypes[typ]:
		return HostKey{}, fmt.Errorf("key type %q: expected ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa", shorten(typ))
	}
	if len(fields) < at+2 {
		return HostKey{}, fmt.Errorf("%s without its base64 key", typ)
	}
	blob, err := base64.StdEncoding.DecodeString(fields[at+1])
	if err != nil {
		return HostKey{}, fmt.Errorf("the %s key is not valid base64", typ)
	}
	if err := checkBlob(typ, blob); err != nil {
		return HostKey{}, fmt.Errorf("the %s key is malformed: %w", typ, err)
	}
	return HostKey{Type: typ, Blob: blob, Fingerprint: Fingerprint(blob)}, nil
}

func looksLikeType(f string) bool {
	return keyTypes[f] || f == "ssh-dss" || strings.HasPrefix(f, "sk-") || strings.HasSuffix(f, "@openssh.com")
}

// checkBlob checks the SSH wire form of a key of type typ: its own type
// name first, then the type's fields, nothing after.
func checkBlob(typ string, b []byte) error {
	name, b, err := readString(b)
	if err != nil {
		return err
	}
	if string(name) != typ {
		return fmt.Errorf("it says it is %q", shorten(string(name)))
	}
	switch typ {
	case "ssh-ed25519":
		var key []byte
		if key, b, err = readString(b); err != nil {
			return err
		}
		if len(key) != 32 {
			return fmt.Errorf("an ed25519 key has 32 bytes, not %d", len(key))
		}
	case "ssh-rsa":
		var e, n []byte
		if e, b, err = readString(b); err != nil {
			return err
		}
		if n, b, err = readString(b); err != nil {
			return err
		}
		if err := checkMPInt(e); err != nil {
			return fmt.Errorf("exponent: %w", err)
		}
		if err := checkMPInt(n); err != nil {
			return fmt.Errorf("modulus: %w", err)
		}
		exp := new(big.Int).SetBytes(e)
		if exp.BitLen() > 31 || exp.Int64() < 3 || exp.Bit(0) == 0 {
			return errors.New("the exponent is not a small odd number")
		}
		if bits := new(big.Int).SetBytes(n).BitLen(); bits < minRSABits {
			return fmt.Errorf("an RSA key of %d bits is too weak: at least %d bits", bits, minRSABits)
		}
	default: // ecdsa-sha2-<curve>
		curve := strings.TrimPrefix(typ, "ecdsa-sha2-")
		var id, point []byte
		if id, b, err = readString(b); err != nil {
			return err
		}
		if string(id) != curve {
			return fmt.Errorf("curve %q, not %s", shorten(string(id)), curve)
		}
		if point, b, err = readString(b); err != nil {
			return err
		}
		size := map[string]int{"nistp256": 32, "nistp384": 48, "nistp521": 66}[curve]
		if len(point) != 1+2*size || point[0] != 4 {
			return fmt.Errorf("the curve point is not an uncompressed %s point", curve)
		}
		if _, err := ecdhCurves[curve].NewPublicKey(point); err != nil {
			return errors.New("the point is not on the curve")
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%d bytes after the key", len(b))
	}
	return nil
}

var ecdhCurves = map[string]ecdh.Curve{"nistp256": ecdh.P256(), "nistp384": ecdh.P384(), "nistp521": ecdh.P521()}

func readString(b []byte) (s, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errors.New("truncated")
	}
	return b[4 : 4+n], b[4+n:], nil
}

// checkMPInt checks an SSH mpint that must be positive: no needless
// leading zero byte, high bit clear.
func checkMPInt(v []byte) error {
	switch {
	case len(v) == 0:
		return errors.New("zero")
	case v[0]&0x80 != 0:
		return errors.New("negative")
	case v[0] == 0 && (len(v) == 1 || v[1]&0x80 == 0):
		return errors.New("not in minimal form")
	}
	return nil
}
