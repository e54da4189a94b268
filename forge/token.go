package forge

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Token is a forge credential. Its String, Format and LogValue never show
// it, so a token put in a log line or an error by mistake stays hidden.
type Token string

// String returns a placeholder, never the token.
func (Token) String() string { return "[redacted]" }

// GoString returns a placeholder, never the token.
func (Token) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Token) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reveal returns the token itself, for the one place that sends it.
func (t Token) Reveal() string { return string(t) }

// LoadToken reads a token from file (trimmed of surrounding white space) or,
// when file is empty, from the environment variable env. Errors name the
// file or variable, never the content.
func LoadToken(file, env string) (Token, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("token file %s is empty", file)
		}
		return Token(t), nil
	case env != "":
		t := strings.TrimSpace(os.Getenv(env))
		if t == "" {
			return "", fmt.Errorf("token: environment variable %s is empty or unset", env)
		}
		return Token(t), nil
	}
	return "", errors.New("token: give a token file or an environment variable")
}

// Redact replaces every occurrence of each secret in s with "[redacted]".
func Redact(s string, secrets ...Token) string {
	for _, t := range secrets {
		if len(t) >= 4 {
			s = strings.ReplaceAll(s, string(t), "[redacted]")
		}
	}
	return s
}

// RedactError returns err with every secret removed from its message, and
// keeps err's chain for errors.Is and errors.As.
func RedactError(err error, secrets ...Token) error {
	if err == nil {
		return nil
	}
	msg := Redact(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
