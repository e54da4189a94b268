package sources

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// gitIndex is what proving a working tree clean reads of git's index file
// (https://git-scm.com/docs/index-format, versions 2 to 4). go-git's
// decoder reads the same file through reflection, with allocations per
// field, and costs more than all the stat calls of a 1,000-file tree; this
// reader makes one pass over the file, through a small buffer, and checks
// the same trailing checksum. It refuses, rather than guesses at, what the
// proof does not need to understand (a split or sparse index), which sends
// the caller to go-git's full status.
type gitIndex struct {
	// entries are sorted by name, as git writes them.
	entries []indexEntry
	// modSec and modNsec are the index file's own modification time.
	modSec, modNsec int64
	// tree is the cache-tree extension's root: HEAD's tree when nothing
	// is staged, valid only when treeEntries is not negative.
	tree        plumbing.Hash
	treeEntries int
}

// indexEntry is one file of the index, with the stat data git recorded
// when it last saw the file match hash.
type indexEntry struct {
	name              string
	mtimeSec, mtimeNs uint32
	mode, size        uint32
	hash              plumbing.Hash
	flags, extraFlags uint16
}

// The bits of an entry's flags (and of its extra flags, which versions 3
// and 4 add after the extended bit).
const (
	flagExtended      = 0x4000
	flagStage         = 0x3000
	flagNameLength    = 0x0fff
	extraSkipWorktree = 0x4000
	extraIntentToAdd  = 0x2000
)

// plain reports whether e is an ordinary merged entry: not a conflict
// stage, not sparse (skip-worktree) and not added with intent only.
func (e *indexEntry) plain() bool {
	return e.flags&flagStage == 0 && e.extraFlags&(extraSkipWorktree|extraIntentToAdd) == 0
}

// treeIs reports whether the index's cached tree is valid for the whole
// index and names tree: git writes it on commit and invalidates the paths
// a later add touches, so then nothing is staged.
func (idx *gitIndex) treeIs(tree plumbing.Hash) bool {
	return idx.treeEntries == len(idx.entries) && idx.tree == tree
}

// errIndexFormat is what readIndex wraps when the file is not an index it
// understands.
var errIndexFormat = errors.New("unsupported index format")

// indexBufferSize is the read buffer: every fresh page of memory costs a
// page fault, dear on virtual machines, so the file is not read whole. A
// name longer than the buffer is refused.
const indexBufferSize = 16 << 10

// readIndex reads the index file at path, and its modification time from
// the same open file (so the time always belongs to the content read).
func readIndex(path string) (*gitIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	idx, err := decodeIndex(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	idx.modSec, idx.modNsec = fi.ModTime().Unix(), int64(fi.ModTime().Nanosecond())
	return idx, nil
}

// indexDecoder reads an index's bytes in order, hashing them on the way.
type indexDecoder struct {
	r     *bufio.Reader
	sum   hash.Hash
	names strings.Builder // every name, end to end
	prev  []byte          // the last name, which a version 4 name builds on
}

// decodeIndex decodes an index of size bytes read from r.
func decodeIndex(r io.Reader, size int64) (*gitIndex, error) {
	const header, trailer = 12, sha1.Size
	if size < header+trailer {
		return nil, fmt.Errorf("%w: %d bytes", errIndexFormat, size)
	}
	d := &indexDecoder{sum: sha1.New()}
	// The checksum covers all but itself: the buffer reads only that far.
	d.r = bufio.NewReaderSize(io.TeeReader(io.LimitReader(r, size-trailer), d.sum), indexBufferSize)
	b, err := d.next(header)
	if err != nil || string(b[:4]) != "DIRC" {
		return nil, fmt.Errorf("%w: no index signature", errIndexFormat)
	}
	version, n := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	if version < 2 || version > 4 {
		return nil, fmt.Errorf("%w: version %d", errIndexFormat, version)
	}
	// Each entry takes at least 63 bytes: a bound on n before allocating.
	if int64(n) > size/63 {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", errIndexFormat, n, size)
	}
	idx := &gitIndex{entries: make([]indexEntry, n), treeEntries: -1}
	// Names take what the fixed part of the entries leaves, or (version 4
	// shares prefixes) about that.
	d.names.Grow(max(0, int(size)-header-trailer-int(n)*62))
	if err := d.entries(idx.entries, version); err != nil {
		return nil, err
	}
	if err := d.extensions(idx); err != nil {
		return nil, err
	}
	var want [trailer]byte
	if _, err := io.ReadFull(r, want[:]); err != nil {
		return nil, fmt.Errorf("%w: no checksum: %w", errIndexFormat, err)
	}
	if !bytes.Equal(d.sum.Sum(nil), want[:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errIndexFormat)
	}
	return idx, nil
}

// next returns the next n bytes, valid until the following read.
func (d *indexDecoder) next(n int) ([]byte, error) {
	b, err := d.r.Peek(n)
	if err != nil {
		return nil, fmt.Errorf("%w: truncated: %w", errIndexFormat, err)
	}
	_, err = d.r.Discard(n)
	return b, err
}

// entries decodes the entries, then cuts their names from one string
// rather than allocating each.
func (d *indexDecoder) entries(es []indexEntry, version uint32) error {
	ends := make([]uint32, len(es))
	for i := range es {
		if err := d.entry(&es[i], version); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		ends[i] = uint32(d.names.Len())
	}
	names, start := d.names.String(), uint32(0)
	for i := range es {
		es[i].name, start = names[start:ends[i]], ends[i]
		// Equal names are stages of a conflict, which the proof refuses.
		if i > 0 && es[i].name < es[i-1].name {
			return fmt.Errorf("%w: entry %q is out of order", errIndexFormat, es[i].name)
		}
	}
	return nil
}

// entry decodes one entry, appending its name to d.names.
func (d *indexDecoder) entry(e *indexEntry, version uint32) error {
	// ctime, mtime (seconds and nanoseconds each), dev, ino, mode, uid,
	// gid, size, hash, flags.
	const fixed = 40 + 20 + 2
	p, err := d.next(fixed)
	if err != nil {
		return err
	}
	e.mtimeSec = binary.BigEndian.Uint32(p[8:])
	e.mtimeNs = binary.BigEndian.Uint32(p[12:])
	e.mode = binary.BigEndian.Uint32(p[24:])
	e.size = binary.BigEndian.Uint32(p[36:])
	copy(e.hash[:], p[40:60])
	e.flags = binary.BigEndian.Uint16(p[60:])
	n := fixed
	if e.flags&flagExtended != 0 {
		if version < 3 {
			return fmt.Errorf("%w: extended flags in version %d", errIndexFormat, version)
		}
		if p, err = d.next(2); err != nil {
			return err
		}
		e.extraFlags = binary.BigEndian.Uint16(p)
		n += 2
	}
	if version == 4 {
		return d.nameV4()
	}
	name, err := d.r.ReadSlice(0)
	if err != nil {
		return fmt.Errorf("%w: bad entry name: %w", errIndexFormat, err)
	}
	name = name[:len(name)-1]
	if l := int(e.flags & flagNameLength); l != flagNameLength && l != len(name) {
		return fmt.Errorf("%w: entry name of %d bytes, flags say %d", errIndexFormat, len(name), l)
	}
	d.names.Write(name)
	// Versions 2 and 3 pad each entry with 1 to 8 NULs to a multiple of
	// 8; ReadSlice took the first.
	n += len(name)
	_, err = d.next((n+8)&^7 - n - 1)
	return err
}

// nameV4 decodes a version 4 name: how many bytes to drop from the end of
// the previous name, then the NUL-terminated rest of the name.
func (d *indexDecoder) nameV4() error {
	drop, err := d.uvarint()
	if err != nil || drop > uint64(len(d.prev)) {
		return fmt.Errorf("%w: bad entry name", errIndexFormat)
	}
	rest, err := d.r.ReadSlice(0)
	if err != nil {
		return fmt.Errorf("%w: bad entry name: %w", errIndexFormat, err)
	}
	d.prev = append(d.prev[:len(d.prev)-int(drop)], rest[:len(rest)-1]...)
	d.names.Write(d.prev)
	return nil
}

// uvarint decodes git's variable-length integer, where each continuation
// byte also adds one (unlike encoding/binary's).
func (d *indexDecoder) uvarint() (uint64, error) {
	var v uint64
	for i := 0; ; i++ {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if i > 0 {
			v++
		}
		if v > 1<<56 {
			return 0, errors.New("varint overflows")
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// extensions reads the cache-tree extension and skips the other optional
// ones; a required extension (a lowercase signature: a split or sparse
// index) is one the proof does not handle.
func (d *indexDecoder) extensions(idx *gitIndex) error {
	for {
		if _, err := d.r.Peek(1); err == io.EOF {
			return nil
		}
		b, err := d.next(8)
		if err != nil {
			return err
		}
		sig, size := string(b[:4]), int(binary.BigEndian.Uint32(b[4:]))
		switch {
		case sig == "TREE":
			// The root comes first: "", NUL, its entry count, a space,
			// its subtree count, a newline and, when valid, its hash.
			b, _ := d.r.Peek(min(size, 64))
			if err := idx.treeRoot(b); err != nil {
				return err
			}
		case sig[0] < 'A' || sig[0] > 'Z':
			return fmt.Errorf("%w: required extension %q", errIndexFormat, sig)
		}
		if n, err := d.r.Discard(size); n != size {
			return fmt.Errorf("%w: truncated extension %q: %w", errIndexFormat, sig, err)
		}
	}
}

// treeRoot reads the cache tree's root entry from the start of b.
func (idx *gitIndex) treeRoot(b []byte) error {
	if len(b) == 0 || b[0] != 0 {
		return nil // no root entry: nothing cached
	}
	sp := bytes.IndexByte(b, ' ')
	nl := bytes.IndexByte(b, '\n')
	if sp < 2 || nl < sp {
		return fmt.Errorf("%w: bad cache tree", errIndexFormat)
	}
	count, err := strconv.Atoi(string(b[1:sp]))
	if err != nil {
		return fmt.Errorf("%w: bad cache tree: %w", errIndexFormat, err)
	}
	if count < 0 {
		return nil
	}
	if len(b) < nl+1+len(idx.tree) {
		return fmt.Errorf("%w: truncated cache tree", errIndexFormat)
	}
	copy(idx.tree[:], b[nl+1:])
	idx.treeEntries = count
	return nil
}
