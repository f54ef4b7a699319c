// Package filter parses the `filter` parameter of List methods: a small,
// strict subset of AIP-160 that every service shares, so partner tools learn
// one syntax. A filter is a conjunction of terms joined by AND:
//
//	status = ACTIVE AND classification = RANSOMWARE AND "phishing invoice"
//
// A term is `field = value`, `field != value`, or a bare quoted or unquoted
// text that the service searches (full text). Fields a service declares
// ordered (ParseOrdered; times, say) also take `<`, `<=`, `>` and `>=`. Values are bare words
// (letters, digits, '_', '-', '.', ':', '@') or double-quoted strings with
// \" and \\ escapes. Services decide which fields exist; Parse only checks
// the shape and that each field is one the caller allows.
package filter

import (
	"fmt"
	"strings"
	"unicode"
)

// Term is one restriction. Field is empty for a text search term.
type Term struct {
	Field string
	Op    string // "=" or "!=" ("<", "<=", ">", ">=" on ordered fields; "" for text terms)
	Value string
}

// Error is a parse error; its message names the position and the problem so
// it can be returned to the caller as is.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("filter: at position %d: %s", e.Pos, e.Msg) }

// MaxTerms bounds the work one filter can ask for.
const MaxTerms = 20

// Parse parses s. fields lists the field names the caller accepts; a term
// naming any other field is an error naming it.
func Parse(s string, fields ...string) ([]Term, error) {
	return ParseOrdered(s, nil, fields...)
}

// ParseOrdered is Parse where the fields in ordered (which must also be in
// fields) accept the comparison operators too; on any other field they are
// an error.
func ParseOrdered(s string, ordered []string, fields ...string) ([]Term, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	var terms []Term
	i := 0
	for i < len(toks) {
		if len(terms) > 0 {
			if toks[i].kind != tokAnd {
				return nil, &Error{toks[i].pos, fmt.Sprintf("expected AND, found %q", toks[i].text)}
			}
			i++
			if i == len(toks) {
				return nil, &Error{len(s), "expected a term after AND"}
			}
		}
		t := toks[i]
		switch {
		case t.kind == tokWord && i+1 < len(toks) && toks[i+1].kind == tokOp:
			if !contains(fields, t.text) {
				return nil, &Error{t.pos, fmt.Sprintf("unknown field %q (allowed: %s)", t.text, strings.Join(fields, ", "))}
			}
			if i+2 >= len(toks) || (toks[i+2].kind != tokWord && toks[i+2].kind != tokString) {
				return nil, &Error{toks[i+1].pos, fmt.Sprintf("expected a value after %s %s", t.text, toks[i+1].text)}
			}
			if op := toks[i+1].text; op != "=" && op != "!=" && !contains(ordered, t.text) {
				return nil, &Error{toks[i+1].pos, fmt.Sprintf("field %q takes = and != only", t.text)}
			}
			terms = append(terms, Term{Field: t.text, Op: toks[i+1].text, Value: toks[i+2].text})
			i += 3
		case t.kind == tokWord || t.kind == tokString:
			terms = append(terms, Term{Value: t.text})
			i++
		default:
			return nil, &Error{t.pos, fmt.Sprintf("unexpected %q", t.text)}
		}
		if len(terms) > MaxTerms {
			return nil, &Error{t.pos, fmt.Sprintf("at most %d terms", MaxTerms)}
		}
	}
	return terms, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type tokKind int

const (
	tokWord tokKind = iota
	tokString
	tokOp
	tokAnd
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.:@", r)
}

func lex(s string) ([]token, error) {
	var toks []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '=':
			toks = append(toks, token{tokOp, "=", i})
			i++
		case r == '<' || r == '>':
			op := string(r)
			if i+1 < len(rs) && rs[i+1] == '=' {
				op += "="
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		case r == '!':
			if i+1 < len(rs) && rs[i+1] == '=' {
				toks = append(toks, token{tokOp, "!=", i})
				i += 2
				continue
			}
			return nil, &Error{i, "expected != "}
		case r == '"':
			var b strings.Builder
			start := i
			i++
			closed := false
			for i < len(rs) {
				c := rs[i]
				if c == '\\' && i+1 < len(rs) && (rs[i+1] == '"' || rs[i+1] == '\\') {
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteRune(c)
				i++
			}
			if !closed {
				return nil, &Error{start, "unterminated string"}
			}
			toks = append(toks, token{tokString, b.String(), start})
		case isWordRune(r):
			start := i
			for i < len(rs) && isWordRune(rs[i]) {
				i++
			}
			w := string(rs[start:i])
			if w == "AND" {
				toks = append(toks, token{tokAnd, w, start})
			} else {
				toks = append(toks, token{tokWord, w, start})
			}
		default:
			return nil, &Error{i, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return toks, nil
}
