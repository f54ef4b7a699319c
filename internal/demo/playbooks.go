package demo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PlaybookTask is one task of a demo playbook (the JSON shape of
// cases.playbooks.tasks).
type PlaybookTask struct {
	Key              string `json:"key"`
	Title            string `json:"title"`
	Group            string `json:"group,omitempty"`
	Mandatory        bool   `json:"mandatory,omitempty"`
	RequiresLog      bool   `json:"requires_log,omitempty"`
	DueOffsetSeconds int64  `json:"due_offset_seconds,omitempty"`
}

// Playbook is a demo playbook of an agency.
type Playbook struct {
	Key, Agency, Name, TitlePrefix, Priority string
	Classifications                          []string
	Tasks                                    []PlaybookTask
}

const hour = 3600

// Phases follow NIST SP 800-61r3 (CSF 2.0 functions) with CISA's playbook
// steps inside them.
const (
	phDetect  = "Detect — report and assess"
	phAnalyse = "Respond — analysis"
	phContain = "Respond — containment"
	phEradic  = "Respond — eradication"
	phRecover = "Recover"
	phLegal   = "Respond — legal process"
	phLearn   = "Lessons learned"
)

// Playbooks are the CSP unit's playbooks for the three commonest cases it
// works, written from the public NIST SP 800-61r3 / CISA playbook
// structure: report, assess impact, collect data, identify indicators and
// techniques, contain, eradicate, reset credentials and patch, recover,
// hold a hotwash.
var Playbooks = []Playbook{
	{Key: "csp-ransomware", Agency: "csp", Name: "Ransomware", TitlePrefix: "Ransomware: ", Priority: "HIGH",
		Classifications: []string{"RANSOMWARE"}, Tasks: []PlaybookTask{
			{"intake", "Take the victim's report and identify their point of contact", phDetect, true, false, 4 * hour},
			{"scope", "Assess impact: systems encrypted, data stolen, services down", phDetect, true, true, 24 * hour},
			{"note", "Collect the ransom note, wallet addresses and leak-site listing", phAnalyse, true, false, 24 * hour},
			{"images", "Image affected hosts and collect logs before rebuild", phAnalyse, true, true, 48 * hour},
			{"iocs", "Identify indicators and ATT&CK techniques; share with CTIC", phAnalyse, false, false, 72 * hour},
			{"isolate", "Confirm infected hosts are isolated and backups are offline", phContain, true, false, 24 * hour},
			{"preserve", "Send preservation requests to providers used by the actor", phLegal, false, false, 48 * hour},
			{"creds", "Confirm credentials reset and exploited systems patched", phEradic, false, false, 7 * 24 * hour},
			{"restore", "Confirm restore from clean backups", phRecover, false, false, 14 * 24 * hour},
			{"hotwash", "Hold a hotwash with the victim and record lessons learned", phLearn, true, true, 30 * 24 * hour},
		}},
	{Key: "csp-bec", Agency: "csp", Name: "Business email compromise", TitlePrefix: "BEC: ", Priority: "HIGH",
		Classifications: []string{"BUSINESS_EMAIL_COMPROMISE", "WIRE_FRAUD"}, Tasks: []PlaybookTask{
			{"intake", "Take the report: amount, date, beneficiary bank and account", phDetect, true, false, 2 * hour},
			{"recall", "Ask the victim's bank to recall the wire; file IC3 for the Recovery Asset Team", phContain, true, true, 4 * hour},
			{"headers", "Collect the fraudulent e-mails with full headers", phAnalyse, true, false, 24 * hour},
			{"rules", "Check the mailbox for forwarding rules and unknown sign-ins", phAnalyse, false, false, 24 * hour},
			{"preserve", "Send preservation request to the mail provider", phLegal, true, false, 48 * hour},
			{"subpoena", "Subpoena the beneficiary bank for account records", phLegal, false, false, 7 * 24 * hour},
			{"reset", "Confirm the compromised accounts' passwords reset and MFA on", phEradic, false, false, 48 * hour},
			{"hotwash", "Debrief the victim on payment verification and close out", phLearn, true, true, 30 * 24 * hour},
		}},
	{Key: "csp-intrusion", Agency: "csp", Name: "Account intrusion", TitlePrefix: "Intrusion: ", Priority: "MEDIUM",
		Classifications: []string{"INTRUSION", "IDENTITY_THEFT"}, Tasks: []PlaybookTask{
			{"intake", "Take the report: which accounts, when, what was done", phDetect, true, false, 4 * hour},
			{"logs", "Collect sign-in and audit logs for the affected accounts", phAnalyse, true, true, 48 * hour},
			{"iocs", "Identify source IPs, devices and techniques used", phAnalyse, false, false, 72 * hour},
			{"lockout", "Confirm sessions revoked and attacker access removed", phContain, true, false, 24 * hour},
			{"preserve", "Send preservation requests for the attacker's accounts and IPs", phLegal, false, false, 48 * hour},
			{"reset", "Confirm credentials reset, MFA enrolled and recovery options checked", phEradic, false, false, 72 * hour},
			{"hotwash", "Record lessons learned and advise the victim", phLearn, true, true, 30 * 24 * hour},
		}},
}

// PlaybookID is the fixed id of a demo playbook.
func PlaybookID(key string) string { return uuid.NewSHA1(namespace, []byte("playbook:"+key)).String() }

// seedPlaybooks writes the demo playbooks; an existing one (same id, or
// the same agency and name) is left as it is.
func seedPlaybooks(ctx context.Context, tx pgx.Tx) (int64, error) {
	var n int64
	for _, p := range Playbooks {
		tasks, err := json.Marshal(p.Tasks)
		if err != nil {
			return 0, err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO cases.playbooks (id, agency_id, name, classifications, title_prefix,
			default_priority, tasks, create_time, update_time, update_user_email)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(), 'demo') ON CONFLICT DO NOTHING`,
			PlaybookID(p.Key), AgencyID(p.Agency), p.Name, p.Classifications, p.TitlePrefix, p.Priority, tasks)
		if err != nil {
			return 0, fmt.Errorf("seed playbook %s: %w", p.Key, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
