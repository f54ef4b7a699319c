package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/stretchr/testify/require"

	"github.com/casebridge/casebridge/internal/apptest"
	"github.com/casebridge/casebridge/internal/demo"
)

// TestTasksInBrowser (issue 17): a detective opens a ransomware case with
// the CSP playbook and sees its checklist by phase; closing with mandatory
// tasks open is refused, naming them; a task given to the FBI (a
// contributor) shows in the FBI liaison's My tasks, who starts it; a
// preservation request shows its 90-day countdown and its extension to
// 180; playbooks are listed for the supervisor — and New Haven sees none
// of it.
func TestTasksInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := apptest.Start(t)
	alvarez := signIn(t, s, exe, "det.alvarez@csp.example")

	alvarez.open("/cases/new", "#title")
	alvarez.run(chromedp.SetValue(chromedp.CSS("#title"), "Clinic EHR encrypted"),
		chromedp.SetValue(chromedp.CSS("#classification"), "CLASSIFICATION_RANSOMWARE"),
		chromedp.SetValue(chromedp.CSS("#playbook"), demo.PlaybookID("csp-ransomware")),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#case-number")))
	casePath := alvarez.path()
	caseID := strings.TrimPrefix(casePath, "/cases/")
	require.Contains(t, alvarez.text("h1"), "Ransomware: Clinic EHR encrypted")
	tasks := alvarez.text("#tasks")
	require.Contains(t, tasks, "Detect — report and assess")
	require.Contains(t, tasks, "Take the victim's report and identify their point of contact")
	require.Contains(t, tasks, "Hold a hotwash")
	alvarez.screenshot("t01-checklist")

	// Complete the first task with a note.
	alvarez.run(chromedp.SetValue(chromedp.CSS(`#tasks li:first-child input[name="note"]`), "Spoke to the clinic's IT manager"),
		chromedp.Click(chromedp.CSS(`#tasks li:first-child form[action$="/complete"] button`)),
		chromedp.WaitVisible(`//li[contains(., "Take the victim's report")]//span[contains(@class, "task-status") and .="Completed"]`))

	// Cancelling needs a reason: the API's answer shows on the page.
	alvarez.run(chromedp.Click(`//li[contains(., "Confirm restore from clean backups")]//summary[.="Cancel this task"]`),
		chromedp.SetValue(`//li[contains(., "Confirm restore from clean backups")]//input[@name="reason"]`, "Victim rebuilt from scratch"),
		chromedp.Click(`//li[contains(., "Confirm restore from clean backups")]//form[contains(@action, "/cancel")]//button`),
		chromedp.WaitVisible(`//li[contains(., "Confirm restore from clean backups")]//span[contains(@class, "task-status") and .="Cancelled"]`))

	// The supervisor cannot close it yet: the notice names what is open.
	brooks := signIn(t, s, exe, "sgt.brooks@csp.example")
	brooks.open(casePath, "#case-number")
	brooks.run(chromedp.Click(`//summary[.="Close this case"]`), chromedp.WaitVisible(chromedp.CSS("#close-reason")),
		chromedp.SetValue(chromedp.CSS("#close-reason"), "Victim restored"),
		chromedp.Click(chromedp.CSS(`form[action$="/close"] button`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, brooks.text(".notice"), "open mandatory tasks")
	require.Contains(t, brooks.text(".notice"), "Hold a hotwash")
	require.NotContains(t, brooks.text(".notice"), "Take the victim's report")
	brooks.screenshot("t02-close-refused")

	// The FBI becomes a contributor; the detective gives it a task.
	r := s.Do(t, "sgt.brooks@csp.example", "POST", "/v1/cases/"+caseID+"/participants", map[string]any{
		"agencyId": demo.AgencyID("fbi"), "relation": "RELATION_CONTRIBUTOR", "reason": "provider subpoena", "overrideReason": "joint case"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	alvarez.open(casePath, "#tasks")
	alvarez.run(chromedp.Click(`//summary[.="Add a task"]`), chromedp.WaitVisible(chromedp.CSS("#task-title")),
		chromedp.SetValue(chromedp.CSS("#task-title"), "Serve the preservation request on the provider"),
		chromedp.SetValue(chromedp.CSS("#task-group"), "Respond — legal process"),
		chromedp.SetValue(chromedp.CSS("#task-agency"), demo.AgencyID("fbi")),
		chromedp.Click(chromedp.CSS(`form[action$="/tasks"] button`)),
		chromedp.WaitVisible(`//li[contains(., "Serve the preservation request on the provider")]`))

	harris := signIn(t, s, exe, "sa.harris@fbi.example")
	harris.run(chromedp.EmulateViewport(375, 800))
	harris.open("/tasks", "#my-tasks")
	require.Contains(t, harris.text("#my-tasks"), "Serve the preservation request on the provider")
	require.NotContains(t, harris.text("#my-tasks"), "Hold a hotwash")
	harris.screenshot("t03-fbi-my-tasks-375px")
	harris.run(chromedp.Click(chromedp.CSS(`#my-tasks form[action$="/start"] button`)),
		chromedp.WaitVisible(`//table[@id="my-tasks"]//span[.="In progress"]`))
	harris.run(chromedp.Emulate(device.Reset))

	// Legal process: a preservation request served today, then extended.
	alvarez.open(casePath, "#legal")
	alvarez.run(chromedp.Click(`//summary[.="Record legal process"]`), chromedp.WaitVisible(chromedp.CSS("#lp-kind")),
		chromedp.SetValue(chromedp.CSS("#lp-kind"), "LEGAL_PROCESS_KIND_PRESERVATION_REQUEST"),
		chromedp.SetValue(chromedp.CSS("#lp-rcpt"), "Example Mail, Inc."),
		chromedp.SetValue(chromedp.CSS("#lp-served"), "2099-01-01"), // a future date is served now
		chromedp.Click(chromedp.CSS(`form[action$="/legal"] button`)),
		chromedp.WaitVisible(`//td[contains(., "Example Mail, Inc.")]`))
	require.Regexp(t, `in (89|90) days`, alvarez.text("#legal tbody"))
	alvarez.run(chromedp.Click(chromedp.CSS(`form[action$="/extend"] button`)),
		chromedp.WaitVisible(`//span[contains(@class, "legal-status") and .="Extended"]`))
	require.Regexp(t, `in (179|180) days`, alvarez.text("#legal tbody"))
	alvarez.screenshot("t04-legal-process")

	brooks.open("/playbooks", "h1")
	pbs := brooks.text("main")
	require.Contains(t, pbs, "Ransomware")
	require.Contains(t, pbs, "Business email compromise")
	require.Contains(t, pbs, "Account intrusion")
	brooks.screenshot("t05-playbooks")
	// The supervisor adds a task to the ransomware playbook; applying it
	// again to the case adds only that one.
	brooks.open("/playbooks/"+demo.PlaybookID("csp-ransomware"), "#pb-tasks")
	text := get(brooks, chromedp.Value(chromedp.CSS("#pb-tasks")))
	require.Contains(t, text, "Detect — report and assess | Take the victim's report and identify their point of contact | 4 | mandatory")
	brooks.run(chromedp.SetValue(chromedp.CSS("#pb-tasks"), text+"Recover | Confirm the clinic's EHR is back in service | 72\n"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(`//h1[.="Playbooks"]`))
	brooks.open(casePath, "#apply-pb")
	brooks.run(chromedp.SetValue(chromedp.CSS("#apply-pb"), demo.PlaybookID("csp-ransomware")),
		chromedp.Click(chromedp.CSS(`form[action$="/playbook"] button`)),
		chromedp.WaitVisible(`//li[contains(., "Confirm the clinic's EHR is back in service")]`))
	require.Equal(t, 1, strings.Count(brooks.text("#tasks"), "Take the victim's report"))

	foster := signIn(t, s, exe, "det.foster@newhaven.example")
	foster.open(casePath, "h1")
	require.Equal(t, "Not found", foster.text("h1"))
	foster.open("/tasks", "#my-tasks")
	require.Contains(t, foster.text("#my-tasks"), "Nothing assigned to you is open.")
}
