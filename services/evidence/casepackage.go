package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/casebridge/casebridge/services/evidence/internal/store"
)

// The case package is one zip: what a prosecutor or a partner agency
// receives. Its files (names are a contract):
const (
	packageCaseFile       = "case.jsonld"     // CASE/UCO 1.4.0 JSON-LD
	packageCustodyFile    = "custody.json"    // registrations, states and chains with their hashes
	packageDisclosureFile = "disclosure.csv"  // the case's disclosure report
	packageVerifyFile     = "VERIFY.txt"      // how to check it
	packageCheckpointFile = "checkpoint.json" // signed: every other file's SHA-256, every chain's head
)

// packageCustody is custody.json.
type packageCustody struct {
	CaseID     string        `json:"caseId"`
	CaseNumber string        `json:"caseNumber"`
	Items      []packageItem `json:"items"`
}

// packageItem is one exhibit: its registration record and custody state as
// its row holds them, and its chain, each event in its canonical (hashed)
// form with prevHash and hash.
type packageItem struct {
	Registration registration   `json:"registration"`
	State        itemState      `json:"state"`
	Events       []packageEvent `json:"events"`
}

type packageEvent struct {
	canonicalEvent
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

func packageEventOf(e *store.Event) packageEvent {
	return packageEvent{canonicalEvent: canonicalOf(e), PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
}

// storeEvent turns a package event back into the stored form the verifier
// recomputes. A field that does not parse is left zero: the recomputed
// hash then differs and the verifier names the event.
func (p packageEvent) storeEvent() *store.Event {
	c := p.canonicalEvent
	parse := func(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }
	prev, _ := hex.DecodeString(p.PrevHash)
	hash, _ := hex.DecodeString(p.Hash)
	return &store.Event{
		EvidenceID: c.EvidenceID, Seq: c.Seq, ID: c.ID, Action: c.Action, EventTime: parse(c.EventTime),
		FromCustodian: c.FromCustodian, ToCustodian: c.ToCustodian, ToAgencyID: c.ToAgencyID, Location: c.Location,
		Purpose: c.Purpose, FromAgencyID: c.FromAgencyID, HoldingAgencyID: c.HoldingAgencyID, FromStatus: c.FromStatus,
		ToStatus: c.ToStatus, ActorUserID: c.ActorUserID, ActorEmail: c.ActorEmail, ActorAgencyID: c.ActorAgencyID,
		ActorAgencyORI: c.ActorAgencyORI, CreateTime: parse(c.CreateTime), Registration: c.Registration,
		LateEntry: c.LateEntry, LateReason: c.LateEntryReason, CheckSHA256: c.CheckSHA256,
		CheckExpectedSHA256: c.CheckExpectedSHA256, CheckMatch: c.CheckMatch, CheckTool: c.CheckTool, ToAgencyORI: c.ToAgencyORI,
		PrevHash: prev, Hash: hash,
	}
}

// verifyText is VERIFY.txt.
func verifyText(caseNumber, publicKey string) string {
	return fmt.Sprintf(`Case package of case %s (Casebridge)

This archive holds:
  case.jsonld      the case as CASE/UCO 1.4.0 JSON-LD (https://caseontology.org)
  custody.json     every exhibit's sealed registration record, its custody
                   state and its chain of custody; each event carries
                   hash = SHA-256(prevHash || canonical JSON of the event)
  disclosure.csv   the case's disclosure report (every recorded access)
  checkpoint.json  a signed statement (Ed25519) of the SHA-256 of every other
                   file and of every exhibit's chain head
  VERIFY.txt       this file

To check it, offline and without a database:

  casebridge evidence verify --package FILE.zip --checkpoint-pubkey %s

It checks the signature (pinned to the key above; get the key from the
sending agency by another channel, not from this file), every file's SHA-256,
every event's hash and link, that every exhibit's registration record is the
one its intake event sealed, that its custody state is what its chain
replays to, and that every chain ends at the signed head. It names the first
file, exhibit, event or field that does not match and exits non-zero.
`, caseNumber, publicKey)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// buildPackage zips files (name -> content, written in a fixed order) with
// a checkpoint over them and over custody's chain heads, signed with key.
func buildPackage(cp *Checkpoint, custody *packageCustody, files map[string][]byte, key ed25519.PrivateKey) ([]byte, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	cp.Files = cp.Files[:0]
	for _, n := range names {
		cp.Files = append(cp.Files, FileDigest{Name: n, SHA256: sha256Hex(files[n])})
	}
	cp.Items = []CheckpointHead{}
	for _, it := range custody.Items {
		cp.Items = append(cp.Items, CheckpointHead{EvidenceID: it.Registration.EvidenceID, ExhibitNumber: it.Registration.ExhibitNumber,
			Seq: it.State.CustodyCount, Hash: it.State.CustodyHead})
	}
	cp.sign(key)
	cpJSON, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: cp.Time})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for _, n := range names {
		if err := add(n, files[n]); err != nil {
			return nil, err
		}
	}
	if err := add(packageCheckpointFile, cpJSON); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PackageReport is the outcome of verifying a case package.
type PackageReport struct {
	Checkpoint *Checkpoint
	Items      []ItemReport
	// Problems names, in order, each file, exhibit, event or field that
	// does not match; empty when the package verifies.
	Problems []string
}

// OK reports whether the package verified.
func (r *PackageReport) OK() bool { return len(r.Problems) == 0 }

// maxPackageFile bounds one file read from a package (a zip bomb guard).
const maxPackageFile = 1 << 30

// VerifyPackage checks a case package offline: the checkpoint's signature
// (with the pinned key when not nil), every file's SHA-256 against the
// checkpoint, every exhibit's chain, sealed registration and replayed state
// (custody.json), and every chain's head against the checkpoint. A package
// that cannot be read at all is an error; anything that does not match is a
// Problem.
func VerifyPackage(zipData []byte, pinned ed25519.PublicKey) (*PackageReport, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil, fmt.Errorf("package: not a zip archive: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("package: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxPackageFile))
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("package: %s: %w", f.Name, err)
		}
		files[f.Name] = b
	}
	cpData, ok := files[packageCheckpointFile]
	if !ok {
		return nil, fmt.Errorf("package: no %s", packageCheckpointFile)
	}
	cp, err := parseCheckpoint(packageCheckpointFile, cpData)
	if err != nil {
		return nil, err
	}
	rep := &PackageReport{Checkpoint: cp}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	if err := cp.CheckSignature(pinned); err != nil {
		problem("%s: %v", packageCheckpointFile, err)
	}
	if cp.Kind != checkpointKindPackage {
		problem("%s: kind %q is not a case package's", packageCheckpointFile, cp.Kind)
	}
	listed := map[string]bool{packageCheckpointFile: true}
	for _, fd := range cp.Files {
		listed[fd.Name] = true
		b, ok := files[fd.Name]
		switch {
		case !ok:
			problem("%s: missing from the package (the checkpoint lists it)", fd.Name)
		case sha256Hex(b) != fd.SHA256:
			problem("%s: its SHA-256 %s differs from the signed checkpoint's %s: the file was changed", fd.Name, sha256Hex(b), fd.SHA256)
		}
	}
	for name := range files {
		if !listed[name] {
			problem("%s: not listed in the signed checkpoint (added)", name)
		}
	}
	var custody packageCustody
	if err := json.Unmarshal(files[packageCustodyFile], &custody); err != nil {
		problem("%s: unreadable: %v", packageCustodyFile, err)
		return rep, nil
	}
	heads := map[string]CheckpointHead{}
	for _, h := range cp.Items {
		heads[h.EvidenceID] = h
	}
	for _, pi := range custody.Items {
		reg := pi.Registration
		head, _ := hex.DecodeString(pi.State.CustodyHead)
		v := newChainVerifier(pi.State.CustodyCount)
		for _, pe := range pi.Events {
			v.add(pe.storeEvent())
		}
		v.finish(head)
		r := v.checkItem(reg, pi.State)
		ir := ItemReport{EvidenceID: reg.EvidenceID, ExhibitNumber: reg.ExhibitNumber, Count: r.Count, Head: r.Head,
			FirstBroken: r.FirstBroken, Field: r.Field, Problem: r.Problem}
		if ir.OK() {
			h, ok := heads[reg.EvidenceID]
			switch {
			case !ok:
				ir.Problem = "not in the signed checkpoint (added)"
			case h.Seq != ir.Count || h.Hash != hex.EncodeToString(ir.Head):
				ir.FirstBroken = h.Seq
				ir.Problem = fmt.Sprintf("chain ends at event %d (%x), the signed checkpoint says event %d (%s)", ir.Count, ir.Head, h.Seq, h.Hash)
			}
			delete(heads, reg.EvidenceID)
		} else {
			delete(heads, reg.EvidenceID)
		}
		if !ir.OK() {
			problem("%s: exhibit %s: %s", packageCustodyFile, ir.ExhibitNumber, ir.Problem)
		}
		rep.Items = append(rep.Items, ir)
	}
	for _, h := range cp.Items {
		if _, gone := heads[h.EvidenceID]; gone {
			problem("%s: exhibit %s is missing (the signed checkpoint names it)", packageCustodyFile, h.ExhibitNumber)
		}
	}
	return rep, nil
}
