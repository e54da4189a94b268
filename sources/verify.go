package sources

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Verifier checks commit signatures against a keyring of trusted OpenPGP
// public keys.
//
// go-git v5.19.3 verifies OpenPGP signatures only; a commit signed with SSH
// (gpg.format=ssh) or X.509 fails with ErrUnsupportedSignature.
type Verifier struct {
	armored string
	keys    openpgp.EntityList
	source  string
}

// LoadKeyring reads armored OpenPGP public keys (`gpg --export --armor`) from
// the file at path.
func LoadKeyring(path string) (*Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	v, err := NewVerifier(b)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	v.source = "keyring " + path
	return v, nil
}

// NewVerifier builds a Verifier from armored OpenPGP public keys.
func NewVerifier(armored []byte) (*Verifier, error) {
	keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("not an armored OpenPGP keyring: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no keys in keyring")
	}
	return &Verifier{armored: string(armored), keys: keys, source: "the keyring"}, nil
}

// Keys returns the number of keys in the keyring.
func (v *Verifier) Keys() int { return len(v.keys) }

// verify checks c and returns who signed it ("Name <email> (FINGERPRINT)").
// The *Error it returns names the commit; the caller adds repository and
// ref.
func (v *Verifier) verify(c *object.Commit) (string, *Error) {
	fail := func(kind error, msg string) (string, *Error) {
		return "", &Error{Kind: kind, Commit: c.Hash.String(), msg: "commit " + c.Hash.String() + msg}
	}
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return fail(ErrUnsigned, " is not signed, and signatures are required")
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return fail(ErrUnsupportedSignature, " is signed with an SSH key, an unsupported format (mooring verifies OpenPGP signatures only)")
	case strings.HasPrefix(sig, "-----BEGIN SIGNED MESSAGE-----"):
		return fail(ErrUnsupportedSignature, " is signed with X.509 (gpgsm), an unsupported format (mooring verifies OpenPGP signatures only)")
	}
	e, err := c.Verify(v.armored)
	if err != nil {
		msg := " is signed"
		if id := issuer(sig); id != "" {
			msg += " by key " + id
		}
		return fail(ErrUntrustedSignature, msg+", which "+v.source+" does not trust ("+err.Error()+")")
	}
	return signer(e), nil
}

// issuer returns the key ID a signature names, or "".
func issuer(armored string) string {
	block, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return ""
	}
	p, err := packet.NewReader(block.Body).Next()
	if err != nil {
		return ""
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return ""
	}
	if s.IssuerFingerprint != nil {
		return fmt.Sprintf("%X", s.IssuerFingerprint)
	}
	if s.IssuerKeyId != nil {
		return fmt.Sprintf("%016X", *s.IssuerKeyId)
	}
	return ""
}

func signer(e *openpgp.Entity) string {
	id := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	if pi := e.PrimaryIdentity(); pi != nil {
		return pi.Name + " (" + id + ")"
	}
	return id
}
