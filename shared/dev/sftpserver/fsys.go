package sftpserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
)

// fsys serves one session's SFTP requests inside its user's home.
type fsys struct {
	s *Server
	a *account
}

// errNoSpace is what a write past the quota fails with: SSH_FX_FAILURE
// with this text, which is what an SFTP v3 server can say of a full disk.
var errNoSpace = errors.New("no space left on device")

// access is what a request wants to do with a path.
type access int

const (
	read access = iota
	write
)

// resolve maps a client path (absolute in the user's home) to the disk,
// refusing the denied folder and writes into the read-only one.
func (h *fsys) resolve(p string, want access) (string, error) {
	clean := path.Clean("/" + p)
	first, _, _ := strings.Cut(strings.TrimPrefix(clean, "/"), "/")
	switch {
	case first == h.s.cfg.DeniedFolder && clean != "/"+first:
		return "", sftp.ErrSSHFxPermissionDenied
	case first == h.s.cfg.DeniedFolder && want == write:
		return "", sftp.ErrSSHFxPermissionDenied
	case first == h.s.cfg.ReadOnlyFolder && want == write:
		return "", sftp.ErrSSHFxPermissionDenied
	case clean == "/" && want == write:
		return "", sftp.ErrSSHFxPermissionDenied // the home itself is not removed or renamed
	}
	return filepath.Join(h.a.home, filepath.FromSlash(clean)), nil
}

// Fileread opens a file for reading.
func (h *fsys) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p, err := h.resolve(r.Filepath, read)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Filewrite opens a file for writing, under the user's quota.
func (h *fsys) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	p, err := h.resolve(r.Filepath, write)
	if err != nil {
		return nil, err
	}
	pf := r.Pflags()
	flags := os.O_WRONLY
	if pf.Read {
		flags = os.O_RDWR
	}
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &quotaFile{f: f, h: h}, nil
}

// quotaFile writes a file while keeping the home within its quota.
type quotaFile struct {
	f *os.File
	h *fsys
}

func (q *quotaFile) WriteAt(b []byte, off int64) (int, error) {
	a := q.h.a
	if a.QuotaBytes <= 0 {
		return q.f.WriteAt(b, off)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	used, err := usage(a.home)
	if err != nil {
		return 0, err
	}
	st, err := q.f.Stat()
	if err != nil {
		return 0, err
	}
	if grow := off + int64(len(b)) - st.Size(); grow > 0 && used+grow > a.QuotaBytes {
		q.h.s.log.Info("sftp write refused: quota", "user", a.Name, "quota", a.QuotaBytes, "used", used)
		return 0, fmt.Errorf("%w (quota of %d bytes)", errNoSpace, a.QuotaBytes)
	}
	return q.f.WriteAt(b, off)
}

func (q *quotaFile) Close() error { return q.f.Close() }

// usage sums the sizes of the regular files under dir.
func usage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// Filecmd runs Setstat, Rename, Rmdir, Mkdir and Remove; links are not
// offered.
func (h *fsys) Filecmd(r *sftp.Request) error {
	p, err := h.resolve(r.Filepath, write)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		attrs := r.AttrFlags()
		if attrs.Size {
			return os.Truncate(p, int64(r.Attributes().Size))
		}
		return nil // modes and times are accepted and ignored
	case "Rename":
		// SFTP v3 rename (OpenSSH's too) refuses an existing target;
		// posix-rename@openssh.com replaces it.
		target, err := h.resolve(r.Target, write)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(target); err == nil {
			return fmt.Errorf("rename: %s exists", r.Target)
		}
		return os.Rename(p, target)
	case "Rmdir":
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Remove":
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("remove: %s is a folder", r.Filepath)
		}
		return os.Remove(p)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename replaces the target atomically (posix-rename@openssh.com).
func (h *fsys) PosixRename(r *sftp.Request) error {
	p, err := h.resolve(r.Filepath, write)
	if err != nil {
		return err
	}
	target, err := h.resolve(r.Target, write)
	if err != nil {
		return err
	}
	return os.Rename(p, target)
}

// Filelist lists folders and stats paths.
func (h *fsys) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		clean := path.Clean("/" + r.Filepath)
		if clean == "/"+h.s.cfg.DeniedFolder {
			return nil, sftp.ErrSSHFxPermissionDenied
		}
		p, err := h.resolve(r.Filepath, read)
		if err != nil {
			return nil, err
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		infos := make([]os.FileInfo, 0, len(entries))
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				infos = append(infos, info)
			}
		}
		return lister(infos), nil
	case "Stat", "Lstat":
		p, err := h.resolve(r.Filepath, read)
		if err != nil {
			return nil, err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		return lister{info}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

type lister []os.FileInfo

func (l lister) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
