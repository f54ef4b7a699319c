package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

const (
	keyDir  = "dev-issuer"
	keyFile = "signing-key.pem"
	keyBits = 2048
)

// Issuer is the development issuer. It is safe for concurrent use.
type Issuer struct {
	path string

	mu       sync.RWMutex
	current  jose.JSONWebKey  // private
	previous *jose.JSONWebKey // public part of the key before the last Rotate
}

// Load returns the issuer whose signing key is kept at
// <dataDir>/dev-issuer/signing-key.pem, creating the key (RSA 2048, mode 0600,
// directory 0700) on first use. Concurrent first uses by several processes
// agree on one key: the new key is written to a temporary file and linked
// into place only if no key exists yet, and the loser reads the winner's key.
// A key file readable by other users is refused, as ssh does.
func Load(dataDir string) (*Issuer, error) {
	dir := filepath.Join(dataDir, keyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: creating key directory: %w", err)
	}
	path := filepath.Join(dir, keyFile)
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	jwk, err := newJWK(key)
	if err != nil {
		return nil, err
	}
	return &Issuer{path: path, current: jwk}, nil
}

// KeyID returns the key id (RFC 7638 thumbprint) of the current signing key.
func (i *Issuer) KeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.current.KeyID
}

// Rotate replaces the signing key with a new one, on disk and in memory.
// The JWKS keeps publishing the previous public key so tokens minted before
// the rotation stay valid until they expire; verifiers pick up the new key
// when they first see its key id. Other processes that loaded the old key
// keep signing with it until they reload.
func (i *Issuer) Rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("devissuer: generating key: %w", err)
	}
	jwk, err := newJWK(key)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	tmp, err := writeTemp(filepath.Dir(i.path), key)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, i.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("devissuer: replacing key: %w", err)
	}
	prev := i.current.Public()
	i.previous = &prev
	i.current = jwk
	return nil
}

// publicKeys returns the keys the JWKS publishes, current first.
func (i *Issuer) publicKeys() []jose.JSONWebKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	keys := []jose.JSONWebKey{i.current.Public()}
	if i.previous != nil {
		keys = append(keys, *i.previous)
	}
	return keys
}

func readKey(path string) (*rsa.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err // fs.ErrNotExist tells Load to create it
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("devissuer: signing key %s is accessible by other users (mode %04o); run chmod 600 on it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devissuer: reading signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("devissuer: %s holds no PEM block", path)
	}
	var parsed any
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("devissuer: %s holds a %q block, want PRIVATE KEY", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("devissuer: parsing signing key %s: %w", path, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < keyBits {
		return nil, fmt.Errorf("devissuer: %s is not an RSA key of at least %d bits", path, keyBits)
	}
	return key, nil
}

// createKey generates a key and publishes it at path unless another process
// got there first, in which case that key wins. os.Link fails if the target
// exists, which makes publication atomic without overwriting; filesystems
// without hard links fall back to rename (last writer wins, then everyone
// re-reads the file so at least this process signs with what is on disk).
func createKey(path string) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generating key: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), key)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("devissuer: publishing signing key: %w", err)
		}
	}
	return readKey(path)
}

// writeTemp writes key as PKCS #8 PEM to a new 0600 file in dir, synced to
// disk, and returns its name.
func writeTemp(dir string, key *rsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("devissuer: encoding key: %w", err)
	}
	f, err := os.CreateTemp(dir, ".signing-key-*.tmp") // mode 0600
	if err != nil {
		return "", fmt.Errorf("devissuer: creating key file: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("devissuer: writing key file: %w", err)
	}
	return f.Name(), nil
}

// newJWK wraps key as an RS256 signing JWK whose key id is its RFC 7638
// thumbprint, so the id is stable across restarts and identical in every
// process that loaded the same file.
func newJWK(key *rsa.PrivateKey) (jose.JSONWebKey, error) {
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(jose.RS256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("devissuer: key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}
