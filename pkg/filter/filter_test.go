package filter

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	fields := []string{"status", "classification", "lead_agency"}
	for _, tc := range []struct {
		in   string
		want []Term
	}{
		{"", nil},
		{"status = ACTIVE", []Term{{"status", "=", "ACTIVE"}}},
		{`status=OPEN AND lead_agency = "CTCSP0000" AND "phishing \"invoice\""`, []Term{
			{"status", "=", "OPEN"}, {"lead_agency", "=", "CTCSP0000"}, {"", "", `phishing "invoice"`},
		}},
		{"ransomware", []Term{{"", "", "ransomware"}}},
		{"classification != OTHER", []Term{{"classification", "!=", "OTHER"}}},
	} {
		got, err := Parse(tc.in, fields...)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"owner = x":          `unknown field "owner"`,
		"status =":           "expected a value",
		"status = OPEN OR x": "expected AND",
		"status = OPEN AND":  "expected a term after AND",
		`"unterminated`:      "unterminated string",
		"status = (OPEN)":    "unexpected character",
		"status ! OPEN":      "expected !=",
		"= OPEN":             `unexpected "="`,
	} {
		_, err := Parse(in, "status")
		require.ErrorContains(t, err, want, in)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "status = OPEN", `a = "b" AND "c"`, "x != y AND z", `"\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := Parse(s, "status", "a", "x")
		if err != nil {
			return
		}
		for _, tm := range terms {
			if tm.Field != "" && tm.Field != "status" && tm.Field != "a" && tm.Field != "x" {
				t.Fatalf("accepted unknown field %q", tm.Field)
			}
		}
	})
}

func TestParseOrdered(t *testing.T) {
	t.Parallel()
	got, err := ParseOrdered(`time >= "2026-01-01T00:00:00Z" AND time<2026-02-01T00:00:00Z AND user = a@b.example`, []string{"time"}, "time", "user")
	require.NoError(t, err)
	require.Equal(t, []Term{{"time", ">=", "2026-01-01T00:00:00Z"}, {"time", "<", "2026-02-01T00:00:00Z"}, {"user", "=", "a@b.example"}}, got)
	_, err = ParseOrdered("user > x", []string{"time"}, "time", "user")
	require.ErrorContains(t, err, `field "user" takes = and != only`)
	_, err = Parse("status <= OPEN", "status")
	require.ErrorContains(t, err, "takes = and != only")
}
