package pagetoken

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	bind := Bind("ListCases", "agency-1", `status = OPEN`)
	tok := Encode(bind, "2026-01-02T03:04:05.123456Z", "9f0c…")
	keys, err := Decode(tok, bind, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"2026-01-02T03:04:05.123456Z", "9f0c…"}, keys)

	keys, err = Decode("", bind, 2)
	require.NoError(t, err)
	require.Nil(t, keys)
}

func TestRejects(t *testing.T) {
	t.Parallel()
	bind := Bind("ListCases", "agency-1", "")
	other := Bind("ListCases", "agency-1", "status = OPEN")
	tok := Encode(bind, "a", "b")
	for name, tc := range map[string]struct {
		token, bind string
		want        int
	}{
		"other filter": {tok, other, 2},
		"garbage":      {"!!!not-base64", bind, 2},
		"not json":     {"bm90IGpzb24", bind, 2},
		"wrong arity":  {tok, bind, 3},
		"other agency": {tok, Bind("ListCases", "agency-2", ""), 2},
	} {
		_, err := Decode(tc.token, tc.bind, tc.want)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

func FuzzDecode(f *testing.F) {
	bind := Bind("x")
	f.Add(Encode(bind, "a", "b"))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, token string) {
		keys, err := Decode(token, bind, 2)
		if err == nil && token != "" && len(keys) != 2 {
			t.Fatalf("accepted token with %d keys", len(keys))
		}
	})
}
