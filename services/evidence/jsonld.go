package evidence

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// case.jsonld: the case as CASE/UCO 1.4.0 JSON-LD. Every node is named (no
// blank nodes; CASE forbids them for UCO objects) by an IRI ending in a
// UUID — the resource's own id where it has one, else a name-based (v5)
// UUID derived from it, so the same case exports to the same IRIs. Times
// are typed xsd:dateTime, hash values xsd:hexBinary.

// jsonldContext is the @context of case.jsonld.
var jsonldContext = map[string]string{
	"kb":                 "urn:casebridge:",
	"case-investigation": "https://ontology.caseontology.org/case/investigation/",
	"uco-action":         "https://ontology.unifiedcyberontology.org/uco/action/",
	"uco-core":           "https://ontology.unifiedcyberontology.org/uco/core/",
	"uco-identity":       "https://ontology.unifiedcyberontology.org/uco/identity/",
	"uco-observable":     "https://ontology.unifiedcyberontology.org/uco/observable/",
	"uco-tool":           "https://ontology.unifiedcyberontology.org/uco/tool/",
	"uco-types":          "https://ontology.unifiedcyberontology.org/uco/types/",
	"xsd":                "http://www.w3.org/2001/XMLSchema#",
}

// jsonldNamespace seeds the name-based UUIDs of nodes without an id.
var jsonldNamespace = uuid.MustParse("6a0b6f0e-8a39-4a8e-9a51-1f4b0c0d2e14")

type node = map[string]any

func ref(iri string) node { return node{"@id": iri} }

func refs(iris []string) []node {
	out := make([]node, 0, len(iris))
	for _, i := range iris {
		out = append(out, ref(i))
	}
	return out
}

func typed(typ, v string) node { return node{"@type": typ, "@value": v} }

func dateTime(s string) node { return typed("xsd:dateTime", s) }

func derivedIRI(kind, from string) string {
	return "kb:" + kind + "-" + uuid.NewSHA1(jsonldNamespace, []byte(kind+":"+from)).String()
}

// agencyInfo is what the package says about an agency.
type agencyInfo struct{ Name, ORI string }

// caseGraph collects the nodes of case.jsonld.
type caseGraph struct {
	nodes    []node
	people   map[string]bool
	agencies map[string]agencyInfo
	seenOrg  map[string]bool
	tools    map[string]string // tool name -> IRI
}

func (g *caseGraph) add(n node) { g.nodes = append(g.nodes, n) }

func (g *caseGraph) org(id string) string {
	iri := "kb:organization-" + id
	if !g.seenOrg[id] {
		g.seenOrg[id] = true
		a := g.agencies[id]
		n := node{"@id": iri, "@type": "uco-identity:Organization", "uco-core:name": a.Name}
		if a.ORI != "" {
			n["uco-core:description"] = "ORI " + a.ORI
		}
		g.add(n)
	}
	return iri
}

func (g *caseGraph) person(userID, email, agencyID string) string {
	iri := "kb:person-" + userID
	if !g.people[userID] {
		g.people[userID] = true
		n := node{"@id": iri, "@type": "uco-identity:Person", "uco-core:name": email}
		if agencyID != "" {
			n["uco-core:description"] = "of " + g.agencies[agencyID].Name
		}
		g.add(n)
	}
	return iri
}

func (g *caseGraph) tool(name string) string {
	if iri, ok := g.tools[name]; ok {
		return iri
	}
	iri := derivedIRI("tool", name)
	g.tools[name] = iri
	g.add(node{"@id": iri, "@type": "uco-tool:Tool", "uco-core:name": name})
	return iri
}

// observableIRI names an exhibit's observable object.
func observableIRI(it *store.Item) string {
	if it.Kind == "DEVICE" {
		return "kb:device-" + it.ID
	}
	return "kb:file-" + it.ID
}

// caseJSONLD renders the case, its exhibits and their custody events.
func caseJSONLD(c *casesv1.Case, items []*store.Item, events map[string][]*store.Event, agencies map[string]agencyInfo) ([]byte, error) {
	g := &caseGraph{people: map[string]bool{}, agencies: agencies, seenOrg: map[string]bool{}, tools: map[string]string{}}
	invIRI := "kb:investigation-" + c.GetId()
	var objects, authorizations []string
	byID := map[string]*store.Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	objects = append(objects, g.org(c.GetLeadAgencyId()))
	seenAuth := map[string]string{}
	for _, it := range items {
		obsIRI := observableIRI(it)
		obs := node{"@id": obsIRI, "uco-core:name": it.ExhibitNumber, "uco-core:description": it.Description}
		if it.Kind == "DEVICE" {
			obs["@type"] = "uco-observable:Device"
		} else {
			obs["@type"] = "uco-observable:File"
		}
		var facets []string
		var hashes []string
		for _, h := range []struct{ method, value string }{{"SHA256", it.SHA256}, {"SHA1", it.SHA1}, {"MD5", it.MD5}} {
			if h.value == "" {
				continue
			}
			iri := derivedIRI("hash", it.ID+":"+h.method)
			hashes = append(hashes, iri)
			g.add(node{"@id": iri, "@type": "uco-types:Hash",
				"uco-types:hashMethod": typed("xsd:string", h.method),
				"uco-types:hashValue":  typed("xsd:hexBinary", strings.ToUpper(h.value))})
		}
		if len(hashes) > 0 || it.SizeBytes > 0 {
			iri := derivedIRI("content-data-facet", it.ID)
			f := node{"@id": iri, "@type": "uco-observable:ContentDataFacet"}
			if len(hashes) > 0 {
				f["uco-observable:hash"] = refs(hashes)
			}
			if it.SizeBytes > 0 {
				f["uco-observable:sizeInBytes"] = typed("xsd:integer", itoa(it.SizeBytes))
			}
			g.add(f)
			facets = append(facets, iri)
		}
		if it.Kind != "DEVICE" {
			iri := derivedIRI("file-facet", it.ID)
			f := node{"@id": iri, "@type": "uco-observable:FileFacet", "uco-observable:fileName": it.ExhibitNumber}
			if it.SizeBytes > 0 {
				f["uco-observable:sizeInBytes"] = typed("xsd:integer", itoa(it.SizeBytes))
			}
			g.add(f)
			facets = append(facets, iri)
		}
		if len(facets) > 0 {
			obs["uco-core:hasFacet"] = refs(facets)
		}
		obs["uco-core:objectCreatedTime"] = dateTime(canonicalTime(it.CreateTime))
		g.add(obs)

		// The provenance record of the exhibit: its number and the number
		// of the exhibit it was ultimately derived from.
		root := it
		for hops := 0; root.ParentID != nil && byID[*root.ParentID] != nil && hops < len(items); hops++ {
			root = byID[*root.ParentID]
		}
		provIRI := derivedIRI("provenance-record", it.ID)
		g.add(node{"@id": provIRI, "@type": "case-investigation:ProvenanceRecord",
			"case-investigation:exhibitNumber": it.ExhibitNumber, "case-investigation:rootExhibitNumber": root.ExhibitNumber,
			"uco-core:object": refs([]string{obsIRI})})
		objects = append(objects, obsIRI, provIRI)

		if it.AuthorityType != "UNSPECIFIED" {
			key := it.AuthorityType + "\x00" + it.AuthorityIdentifier + "\x00" + it.AuthorityIssuer
			iri, ok := seenAuth[key]
			if !ok {
				iri = derivedIRI("authorization", c.GetId()+":"+key)
				seenAuth[key] = iri
				a := node{"@id": iri, "@type": "case-investigation:Authorization",
					"case-investigation:authorizationType": strings.ToLower(strings.ReplaceAll(it.AuthorityType, "_", " "))}
				if it.AuthorityIdentifier != "" {
					a["case-investigation:authorizationIdentifier"] = it.AuthorityIdentifier
				}
				if it.AuthorityIssuer != "" {
					a["uco-core:description"] = "Issued by " + it.AuthorityIssuer
				}
				if it.AuthorityExpireTime != nil {
					a["uco-core:endTime"] = dateTime(canonicalTime(*it.AuthorityExpireTime))
				}
				g.add(a)
				authorizations = append(authorizations, iri)
				objects = append(objects, iri)
			}
		}

		for _, e := range events[it.ID] {
			actIRI := "kb:investigative-action-" + e.ID
			act := node{"@id": actIRI, "@type": "case-investigation:InvestigativeAction",
				"uco-core:name":           strings.ToLower(strings.ReplaceAll(e.Action, "_", " ")),
				"uco-action:startTime":    dateTime(canonicalTime(e.EventTime)),
				"uco-action:performer":    ref(g.person(e.ActorUserID, e.ActorEmail, e.ActorAgencyID)),
				"uco-action:object":       refs([]string{obsIRI}),
				"uco-action:result":       refs([]string{provIRI}),
				"uco-action:actionStatus": typed("xsd:string", "Complete/Finish"),
			}
			desc := e.Purpose
			if e.LateEntry {
				desc += " (late entry: " + e.LateReason + ")"
			}
			if e.CheckMatch != nil {
				result := "match"
				if !*e.CheckMatch {
					result = "MISMATCH"
				}
				desc += " — integrity check: computed SHA-256 " + e.CheckSHA256 + ", sealed " + e.CheckExpectedSHA256 + ": " + result
			}
			act["uco-core:description"] = desc
			participants := []string{g.org(e.HoldingAgencyID)}
			if e.FromAgencyID != "" && e.FromAgencyID != e.HoldingAgencyID {
				participants = append(participants, g.org(e.FromAgencyID))
			}
			act["uco-action:participant"] = refs(participants)
			tool := e.CheckTool
			if e.Action == actionIntake && it.AcquireTool != "" {
				tool = strings.TrimSpace(it.AcquireTool + " " + it.AcquireToolVersion)
			}
			if tool != "" {
				act["uco-action:instrument"] = refs([]string{g.tool(tool)})
			}
			g.add(act)
			objects = append(objects, actIRI)
		}
	}
	inv := node{"@id": invIRI, "@type": "case-investigation:Investigation",
		"uco-core:name":                          c.GetCaseNumber() + " " + c.GetTitle(),
		"uco-core:description":                   c.GetSummary(),
		"case-investigation:focus":               strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(c.GetClassification().String(), "CLASSIFICATION_"), "_", " ")),
		"case-investigation:investigationStatus": strings.ToLower(strings.TrimPrefix(c.GetStatus().String(), "STATUS_")),
		"case-investigation:investigationForm":   typed("xsd:string", "case"),
		"uco-core:object":                        refs(objects),
	}
	if t := c.GetCreateTime(); t != nil {
		inv["uco-core:startTime"] = dateTime(canonicalTime(t.AsTime()))
	}
	if len(authorizations) > 0 {
		inv["case-investigation:relevantAuthorization"] = refs(authorizations)
	}
	g.nodes = append([]node{inv}, g.nodes...)
	return json.MarshalIndent(node{"@context": jsonldContext, "@graph": g.nodes}, "", "  ")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
