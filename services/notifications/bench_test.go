package notifications_test

import (
	"testing"
	"time"
)

// BenchmarkSubmitToInbox measures, over HTTP on the whole system, the time
// from submitting an assistance request to the recipient supervisor's
// unread count showing it (the fan-out job inserted in the submission's
// transaction, fetched by River on LISTEN/NOTIFY, and worked), and to the
// e-mail reaching the SMTP server.
func BenchmarkSubmitToInbox(b *testing.B) {
	w := startB(b)
	for b.Loop() {
		before := len(w.mail.to(cspSupervisor))
		w.submitB(b)
		deadline := time.Now().Add(30 * time.Second)
		for len(w.mail.to(cspSupervisor)) == before {
			if time.Now().After(deadline) {
				b.Fatal("no e-mail within 30s")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}
