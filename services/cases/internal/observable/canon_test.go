package observable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	ok := []struct{ typ, in, want string }{
		{"EMAIL", " John.Doe+tag@GMail.COM ", "john.doe+tag@gmail.com"},
		{"PHONE", "(860) 555-0100", "+18605550100"},
		{"PHONE", "1-860-555-0100", "+18605550100"},
		{"PHONE", "0044 20 7946 0000", "+442079460000"},
		{"PHONE", "+44 20 7946 0000", "+442079460000"},
		{"CRYPTO_WALLET", " 0x52908400098527886E0F7030069857D2E4169EE7 ", "0x52908400098527886E0F7030069857D2E4169EE7"},
		{"HANDLE", "@Scammer_01", "scammer_01"},
		{"DOMAIN", "Evil.Example.", "evil.example"},
		{"URL", "HTTPS://Pay.Evil.Example:443/Ransom?id=1", "https://pay.evil.example/Ransom?id=1"},
		{"URL", "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"},
		{"IPV4", "192.0.2.1", "192.0.2.1"},
		{"IPV4", "::ffff:192.0.2.1", "192.0.2.1"},
		{"IPV6", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"FILE_SHA256", strings.Repeat("AB", 32), strings.Repeat("ab", 32)},
		{"BANK_ACCOUNT", "GB82 WEST 1234-5698 7654 32", "GB82WEST12345698765432"},
		{"OTHER", "  crew's   Jabber room ", "crew's Jabber room"},
	}
	for _, c := range ok {
		got, err := Canonical(c.typ, c.in)
		require.NoError(t, err, "%s %q", c.typ, c.in)
		require.Equal(t, c.want, got, "%s %q", c.typ, c.in)
	}
	bad := []struct{ typ, in string }{
		{"EMAIL", "no-at-sign"}, {"EMAIL", "a@b"}, {"EMAIL", "@example.com"},
		{"PHONE", "call me"}, {"PHONE", "555-0100"},
		{"CRYPTO_WALLET", "short"}, {"HANDLE", "two words"},
		{"DOMAIN", "localhost"}, {"DOMAIN", "-bad-.example"},
		{"URL", "evil.example/path"}, {"IPV4", "2001:db8::1"}, {"IPV6", "10.0.0.1"}, {"IPV4", "300.1.1.1"},
		{"FILE_SHA256", "abc"}, {"BANK_ACCOUNT", "12"}, {"CAR", "x"}, {"EMAIL", "   "},
	}
	for _, c := range bad {
		_, err := Canonical(c.typ, c.in)
		require.ErrorIs(t, err, ErrInvalid, "%s %q", c.typ, c.in)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("PHONE", "(860) 555-0100")
	f.Add("URL", "https://x.example/%zz")
	f.Add("EMAIL", "a@b.example")
	f.Fuzz(func(t *testing.T, typ, v string) {
		c, err := Canonical(typ, v)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalid))
			return
		}
		// Canonical forms are fixed points: matching must not depend on
		// how often a value went through it.
		again, err := Canonical(typ, c)
		require.NoError(t, err)
		require.Equal(t, c, again)
	})
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "deconfliction.keys")
	old, err := LoadOrCreateKeyring(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	again, err := LoadOrCreateKeyring(path)
	require.NoError(t, err)
	require.Equal(t, old.Digests("EMAIL", "", "", "a@b.example"), again.Digests("EMAIL", "", "", "a@b.example"), "the created key is kept")

	// Rotation: a new current key first, the old one kept.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append([]byte("k2 "+strings.Repeat("QUJD", 11)+"\n"), data...), 0o600))
	rotated, err := LoadOrCreateKeyring(path)
	require.NoError(t, err)
	require.Equal(t, "k2", rotated.CurrentID())
	d := rotated.Digests("EMAIL", "", "", "a@b.example")
	require.Len(t, d, 2)
	require.Equal(t, old.Digests("EMAIL", "", "", "a@b.example")[0], d[1], "values digested under the old key still match")
	require.NotEqual(t, d[0].Sum, d[1].Sum)
	// The tuple is part of the message: the same text as another type or
	// on another chain is another digest.
	require.NotEqual(t, d[0].Sum, rotated.Digests("OTHER", "", "", "a@b.example")[0].Sum)
	require.NotEqual(t, rotated.Digests("CRYPTO_WALLET", "bitcoin", "", "x")[0].Sum, rotated.Digests("CRYPTO_WALLET", "litecoin", "", "x")[0].Sum)

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadOrCreateKeyring(path)
	require.ErrorContains(t, err, "readable by others")
	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, os.WriteFile(path, []byte("k1 not-base64!\n"), 0o600))
	_, err = LoadOrCreateKeyring(path)
	require.Error(t, err)
	require.NoError(t, os.WriteFile(path, []byte("k1 "+strings.Repeat("QUJD", 11)+"\nk1 "+strings.Repeat("QUJD", 11)+"\n"), 0o600))
	_, err = LoadOrCreateKeyring(path)
	require.ErrorContains(t, err, "repeated")
}
