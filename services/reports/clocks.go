package reports

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	reportsv1 "github.com/casebridge/casebridge/gen/casebridge/reports/v1"
)

// Regime is the reporting regime: the clocks' lengths and the state
// agencies that receive reports. The defaults follow CIRCIA and New York's
// municipal law: an incident within 72 hours of discovery, a ransom payment
// within 24 hours of paying it. New Jersey (72 h) fits the default; Texas
// (48 h) is IncidentDue = 48h.
type Regime struct {
	// IncidentDue runs from discovery to the initial report
	// (--incident-report-due).
	IncidentDue time.Duration
	// RansomDue runs from a ransom payment to its report, initial or
	// supplemental (--ransom-payment-report-due).
	RansomDue time.Duration
	// ConclusionDue runs from recovery to the concluding report
	// (--incident-conclusion-report-due; 0: no such clock, the default;
	// Texas: 240h).
	ConclusionDue time.Duration
	// TriageORIs are the agencies that triage every submitted report
	// (--incident-report-triage); the first receives it and numbers it.
	TriageORIs []string
}

// Defaults of the regime.
const (
	DefaultIncidentDue = 72 * time.Hour
	DefaultRansomDue   = 24 * time.Hour
)

// DefaultTriageORIs: CTIC receives reports, the CSP unit triages them too.
var DefaultTriageORIs = []string{"CTCTIC000", "CTCSP0000"}

// withDefaults fills unset fields.
func (r Regime) withDefaults() Regime {
	if r.IncidentDue <= 0 {
		r.IncidentDue = DefaultIncidentDue
	}
	if r.RansomDue <= 0 {
		r.RansomDue = DefaultRansomDue
	}
	if len(r.TriageORIs) == 0 {
		r.TriageORIs = DefaultTriageORIs
	}
	return r
}

// clock builds one clock started at start and reported at reported (nil:
// not yet); late is decided against the reported time, or for a clock not
// yet reported, against now.
func clock(kind reportsv1.ClockKind, start time.Time, due time.Duration, reported *time.Time, now time.Time, seq int32) *reportsv1.Clock {
	dueAt := start.Add(due)
	c := &reportsv1.Clock{Kind: kind, StartTime: timestamppb.New(start), DueTime: timestamppb.New(dueAt), SupplementSequence: seq}
	if reported != nil {
		c.ReportTime = timestamppb.New(*reported)
		c.Late = reported.After(dueAt)
	} else {
		c.Late = now.After(dueAt)
	}
	return c
}

// initialClocks are the clocks of the initial report: the incident clock
// from discovery and, when the report says a ransom was paid, the payment
// clock. reported is the submission time (nil for a draft).
func initialClocks(d *reportsv1.IncidentDetails, r Regime, reported *time.Time, now time.Time) []*reportsv1.Clock {
	var out []*reportsv1.Clock
	if d.GetDiscoveryTime() != nil {
		out = append(out, clock(reportsv1.ClockKind_CLOCK_KIND_INCIDENT, d.GetDiscoveryTime().AsTime(), r.IncidentDue, reported, now, 0))
	}
	if rs := d.GetRansom(); rs.GetPaid() && rs.GetPaymentTime() != nil {
		out = append(out, clock(reportsv1.ClockKind_CLOCK_KIND_RANSOM_PAYMENT, rs.GetPaymentTime().AsTime(), r.RansomDue, reported, now, 0))
	}
	return out
}
