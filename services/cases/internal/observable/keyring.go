package observable

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Key is one deconfliction key.
type Key struct {
	ID     string
	secret []byte
}

// Keyring holds the server's deconfliction keys. The first is current: new
// observables are digested under every key of the ring, so during a rotation
// a value recorded after the new key was added matches values recorded
// under the old one; an old key is dropped from the file once no observable
// needs it (observables recorded only under it stop matching).
//
// The secrets never leave the process: digests are computed here, stored
// next to the observable, and compared in SQL.
type Keyring struct {
	keys []Key
}

// KeySize is the length of a deconfliction secret in bytes.
const KeySize = 32

var keyID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// NewKeyring returns a ring of keys given as (id, secret) pairs, current first.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("deconfliction: no key")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !keyID.MatchString(k.ID) || seen[k.ID] {
			return nil, fmt.Errorf("deconfliction: bad or repeated key id %q", k.ID)
		}
		if len(k.secret) < 16 {
			return nil, fmt.Errorf("deconfliction: key %s is shorter than 16 bytes", k.ID)
		}
		seen[k.ID] = true
	}
	return &Keyring{keys: keys}, nil
}

// NewKey returns a key from its id and secret.
func NewKey(id string, secret []byte) Key { return Key{ID: id, secret: append([]byte(nil), secret...)} }

// Digest is a keyed digest of one value under one key.
type Digest struct {
	KeyID string
	Sum   []byte
}

// Digests returns the HMAC-SHA256 of (type, chain, platform, canonical)
// under every key of the ring, current first. The fields are joined with NUL
// (which none of them holds) so that no two tuples share a message.
func (r *Keyring) Digests(typ, chain, platform, canonical string) []Digest {
	msg := []byte(strings.Join([]string{typ, strings.ToLower(chain), strings.ToLower(platform), canonical}, "\x00"))
	out := make([]Digest, 0, len(r.keys))
	for _, k := range r.keys {
		m := hmac.New(sha256.New, k.secret)
		m.Write(msg)
		out = append(out, Digest{KeyID: k.ID, Sum: m.Sum(nil)})
	}
	return out
}

// CurrentID is the id of the current key.
func (r *Keyring) CurrentID() string { return r.keys[0].ID }

// LoadOrCreateKeyring reads the key file at path: one key a line, "ID
// BASE64SECRET", current first; blank lines and lines starting with # are
// ignored. The file must not be readable by others (mode 0600). When it does
// not exist, it is created with one fresh random key named by today's date.
//
// To rotate: put a new line first and restart; keep the old line while
// observables recorded under it should still match.
func LoadOrCreateKeyring(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, KeySize)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		line := "k" + time.Now().UTC().Format("20060102") + " " + base64.StdEncoding.EncodeToString(secret) + "\n"
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
			return LoadOrCreateKeyring(path)
		}
		if err != nil {
			return nil, err
		}
		_, werr := f.WriteString("# Casebridge deconfliction keys: ID BASE64SECRET, current first.\n" + line)
		if err := errors.Join(werr, f.Close()); err != nil {
			return nil, err
		}
		return LoadOrCreateKeyring(path)
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("deconfliction: key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("deconfliction: %s line %d: want ID BASE64SECRET", path, n)
		}
		secret, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			return nil, fmt.Errorf("deconfliction: %s line %d: secret is not base64", path, n)
		}
		keys = append(keys, NewKey(f[0], secret))
	}
	return NewKeyring(keys...)
}
