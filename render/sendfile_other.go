//go:build !linux

package render

import (
	"io"
	"os"
)

// copySection writes n bytes of f from off to w.
func copySection(w io.Writer, f *os.File, off, n int64) error {
	_, err := io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}
