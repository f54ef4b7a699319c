// Package observable owns what the Cases service knows about selectors
// independent of storage and transport: the canonical form of each type (so
// the same wallet or phone number matches however it was typed), the keyed
// digests that deconfliction compares instead of values, and the STIX 2.1
// and MISP renderings of an export.
package observable

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// Types are the observable types, as the API spells them.
var Types = []string{"EMAIL", "PHONE", "CRYPTO_WALLET", "HANDLE", "DOMAIN", "URL", "IPV4", "IPV6",
	"FILE_SHA256", "BANK_ACCOUNT", "OTHER"}

// TLPs are the Traffic Light Protocol 2.0 markings, least restrictive first.
var TLPs = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

// TLPRank orders markings: CLEAR 0 … RED 4; -1 for an unknown one.
func TLPRank(tlp string) int {
	for i, t := range TLPs {
		if t == tlp {
			return i
		}
	}
	return -1
}

// ErrInvalid wraps every refusal of Canonical; its text names what is wrong
// in words a user can act on.
var ErrInvalid = errors.New("invalid observable")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	phoneJunk = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "", "\u00a0", "")
	account   = regexp.MustCompile(`^[A-Z0-9]{4,34}$`)
	label     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	wallet    = regexp.MustCompile(`^[A-Za-z0-9:_-]{8,128}$`)
	handle    = regexp.MustCompile(`^[^\s]{1,200}$`)
)

// Canonical returns the canonical form of value for typ, or an error
// wrapping ErrInvalid. The rules, per type:
//
//   - EMAIL: trimmed and lower-cased as a whole; provider-specific rules
//     (Gmail's dots and +tags) are left alone, since they are the provider's
//     and a different spelling may be a different account elsewhere.
//   - PHONE: E.164. Spaces, dashes, dots and parentheses are dropped; a
//     leading 00 becomes +; ten digits without a country code are taken as
//     North American (+1), the numbering plan of the agencies using it.
//   - CRYPTO_WALLET: trimmed, case kept: checksummed addresses (EIP-55,
//     Base58Check, bech32) carry meaning in their case.
//   - HANDLE: trimmed, a leading @ dropped, lower-cased (platforms treat
//     handles case-insensitively).
//   - DOMAIN: lower-cased, trailing dot dropped, labels checked.
//   - URL: scheme and host lower-cased, default port dropped, the rest kept.
//   - IPV4, IPV6: parsed and printed in their standard form (RFC 5952 for
//     IPv6); an IPv4-mapped IPv6 address is an IPV4.
//   - FILE_SHA256: lower-case hex, 64 digits.
//   - BANK_ACCOUNT: upper-cased, spaces and dashes dropped (IBAN style).
//   - OTHER: trimmed, inner white space collapsed.
func Canonical(typ, value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", invalid("value is empty")
	}
	switch typ {
	case "EMAIL":
		v = strings.ToLower(v)
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t<>") {
			return "", invalid("%q is not an e-mail address", value)
		}
		if _, err := domain(v[at+1:]); err != nil {
			return "", invalid("%q is not an e-mail address: %v", value, err)
		}
		return v, nil
	case "PHONE":
		p := phoneJunk.Replace(v)
		switch {
		case strings.HasPrefix(p, "00"):
			p = "+" + p[2:]
		case strings.HasPrefix(p, "+"):
		case len(p) == 10:
			p = "+1" + p
		case len(p) == 11 && p[0] == '1':
			p = "+" + p
		}
		if !e164.MatchString(p) {
			return "", invalid("%q is not a phone number (E.164, e.g. +18605550100)", value)
		}
		return p, nil
	case "CRYPTO_WALLET":
		if !wallet.MatchString(v) {
			return "", invalid("%q is not a wallet address", value)
		}
		return v, nil
	case "HANDLE":
		v = strings.ToLower(strings.TrimPrefix(v, "@"))
		if !handle.MatchString(v) {
			return "", invalid("%q is not a handle", value)
		}
		return v, nil
	case "DOMAIN":
		return domain(v)
	case "URL":
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return "", invalid("%q is not an absolute URL", value)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
			port = ""
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port != "" {
			host += ":" + port
		}
		u.Host = host
		return u.String(), nil
	case "IPV4", "IPV6":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", invalid("%q is not an IP address", value)
		}
		a = a.Unmap()
		if typ == "IPV4" && !a.Is4() {
			return "", invalid("%q is not an IPv4 address", value)
		}
		if typ == "IPV6" && !a.Is6() {
			return "", invalid("%q is not an IPv6 address (record it as IPV4)", value)
		}
		return a.String(), nil
	case "FILE_SHA256":
		v = strings.ToLower(v)
		if !sha256Hex.MatchString(v) {
			return "", invalid("%q is not a SHA-256 (64 hex digits)", value)
		}
		return v, nil
	case "BANK_ACCOUNT":
		v = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(v))
		if !account.MatchString(v) {
			return "", invalid("%q is not an account number (4 to 34 letters and digits)", value)
		}
		return v, nil
	case "OTHER":
		return strings.Join(strings.Fields(v), " "), nil
	}
	return "", invalid("unknown type %q", typ)
}

func domain(v string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(v), ".")
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return "", invalid("%q is not a domain name", v)
	}
	for _, l := range labels {
		if !label.MatchString(l) {
			return "", invalid("%q is not a domain name", v)
		}
	}
	return d, nil
}
