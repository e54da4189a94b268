package sources_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mooringhq/mooring/sources"
)

func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", strings.ToLower(name)+"@mooring.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func armoredPublic(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signedCommit commits a change on a new branch with go-git, signed by key
// (nil: unsigned), and returns its SHA.
func signedCommit(t *testing.T, f *fixture, branch string, key *openpgp.Entity) string {
	t.Helper()
	f.work.Git("checkout", "-q", "-b", branch, f.c2)
	f.work.WriteFiles(map[string]string{"base/" + branch + ".yaml": branch + "\n"})
	r, err := git.PlainOpen(f.work.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Mooring Test", Email: "test@mooring.invalid", When: f.work.NextTime()}
	h, err := wt.Commit("signed change on "+branch, &git.CommitOptions{Author: sig, Committer: sig, SignKey: key})
	if err != nil {
		t.Fatal(err)
	}
	f.work.Git("checkout", "-q", "main")
	f.work.Push(f.bare, branch)
	return h.String()
}

func TestVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	trusted, stranger := newKey(t, "Trusted"), newKey(t, "Stranger")
	good := signedCommit(t, f, "signed", trusted)
	other := signedCommit(t, f, "other", stranger)
	unsigned := signedCommit(t, f, "plain", nil)

	// An SSH-signed commit, made by git itself with ssh-keygen.
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	f.work.Git("checkout", "-q", "-b", "ssh", f.c2)
	if out, err := runCmd(dir, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", key); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	f.work.Git("-c", "gpg.format=ssh", "-c", "user.signingkey="+key+".pub", "commit", "-q", "-S", "--allow-empty", "-m", "ssh signed")
	sshSigned := f.work.Git("rev-parse", "HEAD")
	f.work.Git("checkout", "-q", "main")
	f.work.Push(f.bare, "ssh")

	ring := filepath.Join(t.TempDir(), "trusted.asc")
	if err := os.WriteFile(ring, armoredPublic(t, trusted), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := sources.LoadKeyring(ring)
	if err != nil {
		t.Fatal(err)
	}
	opts := f.opts(t)
	opts.Verify = v

	rev, err := sources.Fetch(ctx(t), f.url, "signed", opts)
	if err != nil {
		t.Fatalf("trusted signature: %v", err)
	}
	if rev.Commit != good || !strings.HasPrefix(rev.Signer, "Trusted <trusted@mooring.invalid> (") {
		t.Errorf("Commit %s Signer %q", rev.Commit, rev.Signer)
	}

	tests := []struct {
		ref, commit string
		kind        error
	}{
		{"plain", unsigned, sources.ErrUnsigned},
		{"main", f.c2, sources.ErrUnsigned},
		{"other", other, sources.ErrUntrustedSignature},
		{"ssh", sshSigned, sources.ErrUnsupportedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			rev, err := sources.Fetch(ctx(t), f.url, tt.ref, opts)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Fetch = %v, %v; want %v", rev, err, tt.kind)
			}
			var se *sources.Error
			if !errors.As(err, &se) || se.Commit != tt.commit || se.Ref != tt.ref || se.Repo != f.url {
				t.Errorf("error fields = %+v", se)
			}
			for _, part := range []string{tt.commit, `"` + tt.ref + `"`, f.url} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not name %s", err, part)
				}
			}
			t.Log(err)
		})
	}

	// Locally too: a clean working tree is its HEAD commit; edits carry no
	// signature.
	f.work.Git("checkout", "-q", "signed")
	if _, err := sources.Fetch(ctx(t), f.work.Dir, "", opts); err != nil {
		t.Errorf("clean signed working tree: %v", err)
	}
	f.work.WriteFiles(map[string]string{"README.md": "edited\n"})
	if _, err := sources.Fetch(ctx(t), f.work.Dir, "", opts); !errors.Is(err, sources.ErrUnsigned) {
		t.Errorf("edited working tree: err = %v, want ErrUnsigned", err)
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	if _, err := sources.LoadKeyring(filepath.Join(t.TempDir(), "absent.asc")); err == nil {
		t.Error("missing keyring loaded")
	}
	bad := filepath.Join(t.TempDir(), "bad.asc")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sources.LoadKeyring(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad keyring: err = %v, want one naming %s", err, bad)
	}
}
