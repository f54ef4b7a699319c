package web

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"

	casesv1 "github.com/casebridge/casebridge/gen/casebridge/cases/v1"
)

// Small server-rendered pictures. Every text is escaped here; the template
// inserts the result as HTML.

var esc = template.HTMLEscapeString

// agencyGraph draws the lead agency in the middle and every participant
// agency around it, each edge labelled with its relation (and "via task
// force" / "via referral" when the relation comes from one).
func agencyGraph(c *casesv1.Case, parts []*casesv1.Participant) string {
	var others []*casesv1.Participant
	leadName := c.GetLeadAgencyOri()
	for _, p := range parts {
		if p.GetRelation() == casesv1.Relation_RELATION_LEAD {
			leadName = p.GetAgencyName()
			continue
		}
		others = append(others, p)
	}
	const w, h, cx, cy, rad = 640, 360, 320, 180, 135
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="graph-title">`, w, h)
	fmt.Fprintf(&b, `<title id="graph-title">Agencies on case %s: lead %s; %d other agencies</title>`, esc(c.GetCaseNumber()), esc(leadName), len(others))
	type pos struct{ x, y float64 }
	nodes := make([]pos, len(others))
	for i := range others {
		ang := -math.Pi/2 + 2*math.Pi*float64(i)/float64(max(len(others), 1))
		nodes[i] = pos{cx + rad*1.6*math.Cos(ang), cy + rad*math.Sin(ang)}
	}
	for i, p := range others {
		n := nodes[i]
		dash := ""
		if p.GetExpireTime() != nil {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%.0f" y2="%.0f" stroke="#7a8ca5" stroke-width="2"%s/>`, cx, cy, n.x, n.y, dash)
		rel := label(p.GetEffectiveRelation().String())
		if p.GetEffectiveRelation() == casesv1.Relation_RELATION_UNSPECIFIED {
			rel = "nothing now"
		}
		switch {
		case p.GetAgencyOri() == "":
			rel += " (task force share)"
		case p.GetTaskforceId() != "":
			rel += " (task force)"
		case strings.HasPrefix(p.GetSource(), "referral:"):
			rel += " (referral)"
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="middle" fill="#334">%s</text>`, (cx+n.x)/2, (cy+n.y)/2-4, esc(rel))
	}
	node := func(x, y float64, name, fill string) {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="190" height="34" rx="8" fill="%s" stroke="#334"/>`, x-95, y-17, fill)
		if r := []rune(name); len(r) > 30 {
			name = string(r[:29]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="middle" fill="#111">%s</text>`, x, y+4, esc(name))
	}
	node(cx, cy, leadName+" (lead)", "#cfe3ff")
	for i, p := range others {
		node(nodes[i].x, nodes[i].y, p.GetAgencyName(), "#f3f3f3")
	}
	if len(others) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" text-anchor="middle" fill="#555">Not shared with any other agency</text>`, cx, cy+50)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// palette colours classifications in the chart.
var palette = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// openCasesSVG is a stacked bar chart of open (not closed) cases by month
// of opening (the last 12 months that have any) and classification.
func openCasesSVG(cases []*casesv1.Case) string {
	counts := map[string]map[string]int{}
	classes := map[string]bool{}
	for _, c := range cases {
		if c.GetStatus() == casesv1.Status_STATUS_CLOSED {
			continue
		}
		m := c.GetCreateTime().AsTime().Format("2006-01")
		cl := label(c.GetClassification().String())
		if cl == "" {
			cl = "Unclassified"
		}
		if counts[m] == nil {
			counts[m] = map[string]int{}
		}
		counts[m][cl]++
		classes[cl] = true
	}
	months := make([]string, 0, len(counts))
	for m := range counts {
		months = append(months, m)
	}
	slices.Sort(months)
	if len(months) > 12 {
		months = months[len(months)-12:]
	}
	cls := make([]string, 0, len(classes))
	for c := range classes {
		cls = append(cls, c)
	}
	slices.Sort(cls)
	top := 1
	for _, m := range months {
		n := 0
		for _, v := range counts[m] {
			n += v
		}
		top = max(top, n)
	}
	const w, h, left, bottom, plotH = 640, 300, 40, 250, 210
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title">`, w, h)
	total := 0
	for _, m := range months {
		for _, v := range counts[m] {
			total += v
		}
	}
	fmt.Fprintf(&b, `<title id="chart-title">My agency's open cases by month opened and classification: %d cases</title>`, total)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, bottom, w-150, bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end">%d</text><text x="%d" y="%d" font-size="11" text-anchor="end">0</text>`,
		left-4, bottom-plotH+4, top, left-4, bottom+4)
	if len(months) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#555">No open cases</text>`, left+20, bottom-100)
	}
	barW := float64(w-150-left-10) / float64(max(len(months), 1))
	for i, m := range months {
		x := float64(left) + 5 + barW*float64(i)
		y := float64(bottom)
		for ci, cl := range cls {
			n := counts[m][cl]
			if n == 0 {
				continue
			}
			hgt := float64(plotH) * float64(n) / float64(top)
			y -= hgt
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
				x, y, barW*0.7, hgt, palette[ci%len(palette)], esc(m), esc(cl), n)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>`, x+barW*0.35, bottom+16, esc(m))
	}
	for ci, cl := range cls {
		y := 20 + ci*18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>`,
			w-140, y, palette[ci%len(palette)], w-122, y+10, esc(cl))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
