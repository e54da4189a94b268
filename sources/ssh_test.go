package sources_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mooringhq/mooring/internal/testbed"
	"github.com/mooringhq/mooring/sources"
)

// sshKey writes a new ed25519 private key in OpenSSH format and returns its
// file and public key.
func sshKey(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return file, sshPub
}

func TestFetchSSH(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", "")
	keyFile, pub := sshKey(t)
	srv := testbed.NewGitSSHServer(t, f.srv.Root, pub)
	url := "ssh://git@" + srv.Addr + "/net.git"
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := f.opts(t)
	opts.Auth = sources.Auth{SSHKeyFile: keyFile, SSHKnownHostsFile: knownHosts}

	for ref, want := range map[string]string{"": f.c2, "v1": f.c1, "pull/1": f.f1} {
		rev, err := sources.Fetch(ctx(t), url, ref, opts)
		if err != nil {
			t.Fatalf("ref %q: %v", ref, err)
		}
		if rev.Commit != want || rev.Repo != url {
			t.Errorf("ref %q: Commit %s Repo %s, want %s", ref, rev.Commit, rev.Repo, want)
		}
	}

	otherKey, _ := sshKey(t)
	bad := opts
	bad.Auth.SSHKeyFile = otherKey
	if _, err := sources.Fetch(ctx(t), url, "main", bad); !errors.Is(err, sources.ErrAuth) {
		t.Errorf("unauthorized key: err = %v, want ErrAuth", err)
	}

	unknown := opts
	unknown.Auth.SSHKnownHostsFile = filepath.Join(t.TempDir(), "empty_known_hosts")
	if err := os.WriteFile(unknown.Auth.SSHKnownHostsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sources.Fetch(ctx(t), url, "main", unknown)
	if !errors.Is(err, sources.ErrAuth) {
		t.Errorf("unknown host key: err = %v, want ErrAuth", err)
	}
	t.Log(err)
}
