package render

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copySection writes n bytes of f from off to w. When w is a file (a
// terminal, a pipe or a regular file) sendfile(2) moves them inside the
// kernel, so a cache hit never copies the stream through mooring's memory.
func copySection(w io.Writer, f *os.File, off, n int64) error {
	if out, ok := w.(*os.File); ok {
		sent, err := sendfile(out, f, off, n)
		if err == nil {
			return nil
		}
		// sendfile refuses some pairs (an O_APPEND file, for one), and a
		// reader may go away (mooring render | head): write the rest the
		// ordinary way, which fails as any write does, SIGPIPE included.
		off, n = off+sent, n-sent
	}
	_, err := io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}

// sendfile sends n bytes of in from off to out and returns how many it
// sent. It waits on the runtime's poller when out is non-blocking.
func sendfile(out, in *os.File, off, n int64) (int64, error) {
	src, err := in.SyscallConn()
	if err != nil {
		return 0, err
	}
	dst, err := out.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	cerr := src.Read(func(infd uintptr) bool {
		werr := dst.Write(func(outfd uintptr) bool {
			for sent < n {
				m, err := unix.Sendfile(int(outfd), int(infd), &off, int(min(n-sent, 1<<30)))
				sent += int64(max(m, 0))
				switch {
				case errors.Is(err, unix.EINTR):
				case errors.Is(err, unix.EAGAIN):
					return false // wait until out is writable
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
		return true
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}
