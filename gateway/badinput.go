package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/casebridge/casebridge/pkg/rpc"
)

// maxBodyBytes bounds a request body; larger bodies answer 413.
const maxBodyBytes = 1 << 20

// screenedHeaders are the request headers that reach the services as gRPC
// metadata (directly, or through grpc-gateway's own forwarding). gRPC
// metadata must be printable ASCII: anything else would fail in the
// gateway's client with an internal error, before any service could
// record the call.
var screenedHeaders = []string{"Authorization", "User-Agent", "X-Purpose", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host"}

type tooLargeKey struct{}

// bodyTooLarge reports whether screen refused r's body for its size.
func bodyTooLarge(ctx context.Context) bool { return ctx.Value(tooLargeKey{}) != nil }

// screen makes bad bytes bad input. Bytes that are not UTF-8 in the path,
// a query parameter, a forwarded header or the body, and a body over
// maxBodyBytes, are not answered here: for the API (/v1/) the request goes
// on to its service with the offending bytes replaced by U+FFFD (or the
// body dropped) and a refusal mark (rpc.InvalidUTF8Header,
// rpc.BodyTooLargeHeader), and the service's chain refuses it — 400 naming
// the field, or 413 — after auditing it like any other refused call. Other
// paths (the web application, the development issuer) answer 400 or 413
// here. Valid non-ASCII header text is escaped (\uXXXX) so that gRPC
// metadata can carry it.
func screen(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(rpc.InvalidUTF8Header)
		r.Header.Del(rpc.BodyTooLargeHeader)
		api := strings.HasPrefix(r.URL.Path, "/v1/")
		bad := ""
		if !utf8.ValidString(r.URL.Path) {
			bad = "path"
			r.URL.Path = strings.ToValidUTF8(r.URL.Path, "\uFFFD")
			r.URL.RawPath = ""
		}
		if q, field := screenQuery(r.URL.RawQuery); field != "" {
			r.URL.RawQuery = q
			if bad == "" {
				bad = field
			}
		}
		for _, h := range screenedHeaders {
			v := r.Header.Get(h)
			if v == "" {
				continue
			}
			if !utf8.ValidString(v) && bad == "" {
				bad = h
			}
			if esc := asciiEscape(v); esc != v {
				r.Header.Set(h, esc)
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, tooLarge, err := readBody(r)
			switch {
			case err != nil:
				writeError(w, r, statusInvalid("request body could not be read"))
				return
			case tooLarge:
				if !api {
					writeErrorCode(w, r, http.StatusRequestEntityTooLarge, statusTooLarge())
					return
				}
				r.Header.Set(rpc.BodyTooLargeHeader, strconv.Itoa(maxBodyBytes))
				r = r.WithContext(context.WithValue(r.Context(), tooLargeKey{}, true))
				body = []byte("{}")
			case !utf8.Valid(body) || (!api && formInvalid(r, body)):
				if bad == "" {
					bad = "body"
				}
				body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		if bad != "" {
			if !api {
				writeError(w, r, statusInvalid(bad+": must be valid UTF-8"))
				return
			}
			r.Header.Set(rpc.InvalidUTF8Header, asciiEscape(bad))
		}
		next.ServeHTTP(w, r)
	})
}

// readBody reads at most maxBodyBytes of r's body; tooLarge when it holds
// more (or announces more).
func readBody(r *http.Request) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > maxBodyBytes {
		return nil, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > maxBodyBytes {
		return nil, true, nil
	}
	return body, false, nil
}

// screenQuery returns the query with every key and value made valid UTF-8
// and the lowerCamelCase name of the first parameter that was not, or
// ("", "") when all were. An unparsable query is left to grpc-gateway (400).
func screenQuery(raw string) (string, string) {
	if raw == "" {
		return "", ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", ""
	}
	field := ""
	out := url.Values{}
	for k, vs := range q {
		ok := utf8.ValidString(k)
		for _, v := range vs {
			ok = ok && utf8.ValidString(v)
			out.Add(strings.ToValidUTF8(k, "\uFFFD"), strings.ToValidUTF8(v, "\uFFFD"))
		}
		if !ok && (field == "" || k < field) {
			field = k
		}
	}
	if field == "" {
		return "", ""
	}
	return out.Encode(), lowerCamel(strings.ToValidUTF8(field, "\uFFFD"))
}

// formInvalid reports whether an url-encoded form body decodes to bytes
// that are not UTF-8 (the web application's forms).
func formInvalid(r *http.Request, body []byte) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return false
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return true
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return true
			}
		}
	}
	return false
}

// asciiEscape keeps printable ASCII and writes everything else as \uXXXX
// (\u005c for a backslash, so the escaping is unambiguous).
func asciiEscape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r >= 0x20 && r < 0x7f && r != '\\' {
			b.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			fmt.Fprintf(&b, `\U%08x`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// lowerCamel turns a snake_case parameter name into its JSON form.
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
