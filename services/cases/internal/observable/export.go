package observable

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Item is one observable as exported.
type Item struct {
	ID, Type, Chain, Platform, Value, Canonical, Description, TLP string
	FirstSeen, LastSeen                                           *time.Time
	CreateTime                                                    time.Time
}

// Source names who exports: the case and the agency that leads it.
type Source struct {
	CaseID, CaseNumber   string
	AgencyID, AgencyName string
	Time                 time.Time
}

// stixTime is STIX's timestamp form (UTC, millisecond precision).
func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// tlpMarkings are the OASIS TLP 2.0 marking definitions (STIX 2.1 does not
// predefine TLP 2.0; these objects are published by the CTI TC in
// cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
var tlpMarkings = map[string]string{
	"CLEAR":        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	"GREEN":        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	"AMBER":        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	"AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	"RED":          "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

const tlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

func tlpMarking(tlp string) map[string]any {
	return map[string]any{
		"type": "marking-definition", "spec_version": "2.1", "id": tlpMarkings[tlp],
		"created": "2022-10-01T00:00:00.000Z", "name": "TLP:" + tlp,
		"extensions": map[string]any{tlp2Extension: map[string]any{
			"extension_type": "property-extension", "tlp_2_0": strings.ToLower(tlp)}},
	}
}

// scoNamespace is the STIX 2.1 namespace for deterministic SCO ids (§2.9).
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// Custom SCO types for selectors STIX 2.1 has no object for. Their property
// is "value", like the standard address objects.
var customSCO = map[string]string{
	"PHONE":         "x-casebridge-phone-number",
	"CRYPTO_WALLET": "x-casebridge-crypto-wallet",
	"BANK_ACCOUNT":  "x-casebridge-bank-account",
	"OTHER":         "x-casebridge-observable",
}

var standardSCO = map[string]string{
	"EMAIL": "email-addr", "DOMAIN": "domain-name", "URL": "url", "IPV4": "ipv4-addr", "IPV6": "ipv6-addr",
}

// patternQuote quotes s as a STIX pattern string literal.
func patternQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// sco returns the cyber-observable object of it and the indicator pattern
// matching it.
func sco(it Item) (map[string]any, string) {
	var typ string
	var props map[string]any
	var pattern string
	switch it.Type {
	case "FILE_SHA256":
		typ = "file"
		props = map[string]any{"hashes": map[string]any{"SHA-256": it.Canonical}}
		pattern = "[file:hashes.'SHA-256' = " + patternQuote(it.Canonical) + "]"
	case "HANDLE":
		typ = "user-account"
		props = map[string]any{"account_login": it.Canonical, "account_type": strings.ToLower(it.Platform)}
		pattern = "[user-account:account_login = " + patternQuote(it.Canonical) +
			" AND user-account:account_type = " + patternQuote(strings.ToLower(it.Platform)) + "]"
	default:
		typ = standardSCO[it.Type]
		if typ == "" {
			typ = customSCO[it.Type]
		}
		props = map[string]any{"value": it.Canonical}
		if it.Type == "CRYPTO_WALLET" {
			props["chain"] = strings.ToLower(it.Chain)
		}
		pattern = "[" + typ + ":value = " + patternQuote(it.Canonical) + "]"
	}
	idJSON, _ := json.Marshal(props) // map keys sort: the canonical form §2.9 asks for
	obj := map[string]any{"type": typ, "spec_version": "2.1", "id": typ + "--" + uuid.NewSHA1(scoNamespace, idJSON).String()}
	for k, v := range props {
		obj[k] = v
	}
	return obj, pattern
}

// STIXBundle renders items as a STIX 2.1 bundle: the exporting agency's
// identity, the TLP 2.0 markings used, and per item an indicator (its
// pattern, marked with the item's TLP) and an observed-data with the SCO.
func STIXBundle(src Source, items []Item) ([]byte, error) {
	now := stixTime(src.Time)
	identity := "identity--" + uuid.NewSHA1(scoNamespace, []byte("casebridge-agency:"+src.AgencyID)).String()
	objects := []any{map[string]any{
		"type": "identity", "spec_version": "2.1", "id": identity, "created": now, "modified": now,
		"name": src.AgencyName, "identity_class": "organization",
	}}
	used := map[string]bool{}
	for _, it := range items {
		if _, ok := tlpMarkings[it.TLP]; !ok {
			return nil, fmt.Errorf("observable %s: unknown TLP %q", it.ID, it.TLP)
		}
		if !used[it.TLP] {
			used[it.TLP] = true
			objects = append(objects, tlpMarking(it.TLP))
		}
		marks := []string{tlpMarkings[it.TLP]}
		obj, pattern := sco(it)
		obj["object_marking_refs"] = marks
		created := stixTime(it.CreateTime)
		first, last := it.CreateTime, it.CreateTime
		if it.FirstSeen != nil {
			first = *it.FirstSeen
		}
		if it.LastSeen != nil {
			last = *it.LastSeen
		}
		if last.Before(first) {
			last = first
		}
		ind := map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": "indicator--" + it.ID,
			"created": created, "modified": created, "created_by_ref": identity,
			"name": it.Type + " " + it.Value, "pattern": pattern, "pattern_type": "stix",
			"valid_from": stixTime(first), "object_marking_refs": marks,
			"labels": []string{"casebridge-case:" + src.CaseNumber},
		}
		if it.Description != "" {
			ind["description"] = it.Description
		}
		od := map[string]any{
			"type": "observed-data", "spec_version": "2.1",
			"id":      "observed-data--" + uuid.NewSHA1(scoNamespace, []byte("observed:"+it.ID)).String(),
			"created": created, "modified": created, "created_by_ref": identity,
			"first_observed": stixTime(first), "last_observed": stixTime(last), "number_observed": 1,
			"object_refs": []string{obj["id"].(string)}, "object_marking_refs": marks,
		}
		objects = append(objects, obj, ind, od)
	}
	return json.MarshalIndent(map[string]any{
		"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": objects,
	}, "", "  ")
}

// mispType maps a type to MISP's attribute type and category.
func mispType(it Item) (string, string) {
	switch it.Type {
	case "EMAIL":
		return "email", "Social network"
	case "PHONE":
		return "phone-number", "Person"
	case "CRYPTO_WALLET":
		return "btc", "Financial fraud"
	case "HANDLE":
		return "text", "Social network"
	case "DOMAIN":
		return "domain", "Network activity"
	case "URL":
		return "url", "Network activity"
	case "IPV4", "IPV6":
		return "ip-dst", "Network activity"
	case "FILE_SHA256":
		return "sha256", "Payload delivery"
	case "BANK_ACCOUNT":
		return "bank-account-nr", "Financial fraud"
	}
	return "text", "Other"
}

// MISPEvent renders items as a MISP event ({"Event": {…}}), each item an
// Attribute tagged with its TLP. Wallets of chains other than bitcoin are
// "text" attributes (MISP's btc type checks a bitcoin address); a handle's
// platform goes into the comment.
func MISPEvent(src Source, items []Item) ([]byte, error) {
	ts := strconv.FormatInt(src.Time.Unix(), 10)
	attrs := make([]any, 0, len(items))
	worst := "CLEAR"
	for _, it := range items {
		if TLPRank(it.TLP) < 0 {
			return nil, fmt.Errorf("observable %s: unknown TLP %q", it.ID, it.TLP)
		}
		if TLPRank(it.TLP) > TLPRank(worst) {
			worst = it.TLP
		}
		typ, cat := mispType(it)
		if it.Type == "CRYPTO_WALLET" && !strings.EqualFold(it.Chain, "bitcoin") {
			typ = "text"
		}
		comment := it.Description
		if it.Type == "HANDLE" || it.Type == "CRYPTO_WALLET" {
			comment = strings.TrimSpace(strings.ToLower(it.Platform+it.Chain) + ": " + comment)
		}
		attrs = append(attrs, map[string]any{
			"uuid": it.ID, "type": typ, "category": cat, "value": it.Canonical, "to_ids": false,
			"distribution": "0", "comment": comment,
			"timestamp": strconv.FormatInt(it.CreateTime.Unix(), 10),
			"Tag":       []any{map[string]any{"name": "tlp:" + strings.ToLower(it.TLP)}},
		})
	}
	return json.MarshalIndent(map[string]any{"Event": map[string]any{
		"uuid": uuid.NewSHA1(scoNamespace, []byte("casebridge-case:"+src.CaseID)).String(),
		"info": "Casebridge case " + src.CaseNumber + " observables", "date": src.Time.UTC().Format("2006-01-02"),
		"threat_level_id": "4", "analysis": "1", "distribution": "0", "published": false, "timestamp": ts,
		"Orgc":      map[string]any{"name": src.AgencyName, "uuid": src.AgencyID},
		"Tag":       []any{map[string]any{"name": "tlp:" + strings.ToLower(worst)}},
		"Attribute": attrs,
	}}, "", "  ")
}
