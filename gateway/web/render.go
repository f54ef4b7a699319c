package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// view is what every template receives: the session (nil when signed out),
// the page's data, and the current path for the navigation.
type view struct {
	S    *session
	D    map[string]any
	Path string
	// Unread is the user's unread notification count for the bell (-1
	// when it could not be read: the bell then shows no number).
	Unread int32
}

// Has reports whether the signed-in user holds role (for navigation hints
// only; the API decides).
func (v view) Has(role string) bool { return v.S != nil && slices.Contains(v.S.Roles, role) }

var funcs = template.FuncMap{
	// label turns an enum value name into words: "STATUS_OPEN" → "Open",
	// "CLASSIFICATION_BUSINESS_EMAIL_COMPROMISE" → "Business email compromise".
	"label": label,
	"when": func(ts *timestamppb.Timestamp) string {
		if ts == nil || !ts.IsValid() || ts.AsTime().IsZero() || ts.GetSeconds() == 0 {
			return ""
		}
		return ts.AsTime().Local().Format("2006-01-02 15:04")
	},
	"iso": func(ts *timestamppb.Timestamp) string {
		if ts == nil || ts.GetSeconds() == 0 {
			return ""
		}
		return ts.AsTime().UTC().Format(time.RFC3339)
	},
	"lower": strings.ToLower,
	"join":  strings.Join,
	"short": func(s string) string {
		r := []rune(s)
		if len(r) > 60 {
			return string(r[:60]) + "…"
		}
		return s
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"str": func(v any) string { return fmt.Sprint(v) },
	"add": func(a, b int) int { return a + b },
	"svg": func(s string) template.HTML { return template.HTML(s) }, // only for SVG built by svg.go, which escapes every text
	// Incident reports (issue 19): plain words for the reporter's form.
	"dataLabel":  func(v any) string { return dataLabels[fmt.Sprint(v)] },
	"hundredths": func(v int64) string { return fmt.Sprintf("%d.%02d", v/100, v%100) },
	"partyLabel": func(v any) string { return partyLabels[fmt.Sprint(v)] },
}

// dataLabels and partyLabels say the incident report's enums in words a
// town clerk knows.
var (
	dataLabels = map[string]string{
		"DATA_CATEGORY_PII":             "Personal information (names with SSNs, driver's licences, addresses)",
		"DATA_CATEGORY_PHI":             "Health information",
		"DATA_CATEGORY_CJI":             "Police or court records (criminal justice information)",
		"DATA_CATEGORY_STUDENT_RECORDS": "Student records",
		"DATA_CATEGORY_FINANCIAL":       "Bank, card or payroll information",
	}
	partyLabels = map[string]string{
		"NOTIFIED_PARTY_CISA":            "CISA (federal Cybersecurity and Infrastructure Security Agency)",
		"NOTIFIED_PARTY_MS_ISAC":         "MS-ISAC",
		"NOTIFIED_PARTY_FBI_IC3":         "FBI or IC3",
		"NOTIFIED_PARTY_INSURER":         "Our cyber insurer",
		"NOTIFIED_PARTY_OUTSIDE_COUNSEL": "Our lawyers (outside counsel)",
		"NOTIFIED_PARTY_OTHER":           "Someone else",
	}
)

// label turns an enum name into words.
func label(v any) string {
	s := fmt.Sprint(v)
	for _, p := range []string{"STATUS_", "CLASSIFICATION_", "PRIORITY_", "RELATION_", "REFERRAL_KIND_", "REFERRAL_STATE_",
		"HELP_WANTED_", "URGENCY_", "REFERRAL_REASON_", "SHARE_RELATION_", "KIND_", "CUSTODY_ACTION_", "NOTE_KIND_",
		"DISPOSITION_", "LEGAL_AUTHORITY_TYPE_", "AGENCY_KIND_", "DATA_CATEGORY_", "CHANNEL_", "ROLE_GRANT_STATE_",
		"REPORT_STATE_", "INCIDENT_TYPE_", "CLOCK_KIND_", "SUPPLEMENT_KIND_", "OUTCOME_", "INDICATOR_TYPE_", "AGENCY_SECTOR_"} {
		if strings.HasPrefix(s, p) {
			s = strings.TrimPrefix(s, p)
			break
		}
	}
	if s == "UNSPECIFIED" {
		return ""
	}
	if s == "DDOS" {
		return "Denial of service (DDoS)"
	}
	s = strings.ToLower(strings.ReplaceAll(s, "_", " "))
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// render writes page with data. It renders into a buffer first, so a
// template error never sends half a page.
//
// A page whose API call answered that the sign-in is no longer valid (the
// token was signed out, the user deactivated or signed out everywhere) is
// not rendered: the browser is sent to sign in, whichever page it was.
func (a *App) render(w http.ResponseWriter, r *http.Request, code int, page string, s *session, data map[string]any) {
	if s != nil && signedOutBy(data) {
		a.fail(w, r, s, status.Error(codes.Unauthenticated, "session ended"))
		return
	}
	t, ok := a.pages[page]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view{S: s, D: data, Path: r.URL.Path, Unread: a.unread(r, s)}); err != nil {
		a.logger.Error("web: rendering", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// signedOutBy reports whether a page's data holds an API refusal of the
// session's token.
func signedOutBy(data map[string]any) bool {
	for _, v := range data {
		var p *problem
		switch v := v.(type) {
		case *problem:
			p = v
		case section:
			p = v.Problem
		}
		if p != nil && p.Code == codes.Unauthenticated {
			return true
		}
	}
	return false
}
