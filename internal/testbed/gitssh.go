package testbed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// GitSSHServer is a git-over-SSH server on 127.0.0.1: an SSH server
// (golang.org/x/crypto/ssh) that runs the real git-upload-pack and
// git-receive-pack on the bare repositories under Root, for clients holding
// the authorized key. Repositories are at ssh://git@Addr/<name>.git.
type GitSSHServer struct {
	// Addr is host:port of the listener.
	Addr string
	// Root is the folder of bare repositories.
	Root string
	// HostKey is the server's public host key, for a known_hosts line.
	HostKey ssh.PublicKey
}

// KnownHostsLine returns the known_hosts line that trusts the server.
func (s *GitSSHServer) KnownHostsLine() string {
	host, port, _ := net.SplitHostPort(s.Addr)
	return "[" + host + "]:" + port + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))
}

// NewGitSSHServer starts a GitSSHServer over root accepting only the
// authorized public key; it stops when the test ends.
func NewGitSSHServer(t testing.TB, root string, authorized ssh.PublicKey) *GitSSHServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("testbed: host key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("testbed: host key: %v", err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	h := &sshHandler{t: t, cfg: cfg, root: root, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns[c] = true
			h.mu.Unlock()
			h.wg.Go(func() { h.serve(c) })
		}
	})
	return &GitSSHServer{Addr: ln.Addr().String(), Root: root, HostKey: signer.PublicKey()}
}

// sshHandler serves connections until the test's cleanup closes them all.
type sshHandler struct {
	t     testing.TB
	cfg   *ssh.ServerConfig
	root  string
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// check logs an error of the SSH protocol plumbing; the client sees the
// failure itself.
func (h *sshHandler) check(what string, err error) {
	if err != nil && !errors.Is(err, io.EOF) {
		h.t.Logf("testbed: git over ssh: %s: %v", what, err)
	}
}

func (h *sshHandler) serve(c net.Conn) {
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		c.Close()
	}()
	conn, chans, reqs, err := ssh.NewServerConn(c, h.cfg)
	if err != nil {
		return // refused keys end here
	}
	defer conn.Close()
	h.wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			h.check("reject channel", nc.Reject(ssh.UnknownChannelType, "only sessions"))
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		h.wg.Go(func() { h.session(ch, chReqs) })
	}
}

// session runs the one git command a session's exec request names.
func (h *sshHandler) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			if req.WantReply {
				h.check("reply", req.Reply(false, nil))
			}
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			h.check("reply", req.Reply(false, nil))
			return
		}
		prog, repo, ok := strings.Cut(payload.Command, " ")
		if !ok || (prog != "git-upload-pack" && prog != "git-receive-pack") {
			h.check("reply", req.Reply(false, nil))
			return
		}
		h.check("reply", req.Reply(true, nil))
		clean := path.Clean("/" + strings.Trim(repo, "'\""))
		cmd := exec.Command(prog, filepath.Join(h.root, filepath.FromSlash(clean)))
		cmd.Env = gitEnv(h.root)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		// A pipe rather than cmd.Stdin = ch: clients keep their side open
		// until the exit status arrives, and Wait would wait for it.
		stdin, err := cmd.StdinPipe()
		if err != nil {
			h.check("stdin", err)
			return
		}
		go func() {
			// Ends when the process exits (write error) or ch closes.
			if _, err := io.Copy(stdin, ch); err == nil {
				stdin.Close()
			}
		}()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 1
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				status = uint32(ee.ExitCode())
			}
		}
		h.check("close write", ch.CloseWrite())
		_, err = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
		h.check("exit status", err)
		return
	}
}
