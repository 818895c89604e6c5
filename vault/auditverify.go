package vault

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/recvault/recvault"
)

// The ways VerifyAudit finds a chain broken (VerifyReport.Problem).
const (
	ProblemAltered    = "altered"      // a record's contents no longer match its hash, or a rewritten chain
	ProblemMissing    = "missing"      // a record was removed from the middle of the chain
	ProblemInserted   = "inserted"     // a record was added that the writer did not append
	ProblemOutOfOrder = "out of order" // records renumbered or reordered
	ProblemTailCut    = "tail cut"     // the newest records were removed
)

// VerifyReport is what VerifyAudit found. Problem is "" for an intact
// chain; otherwise BrokenSeq is the first broken record and Detail says
// why in words.
type VerifyReport struct {
	Records     int64  // chained records checked
	HeadSeq     int64  // audit_head as read at the end
	HeadHash    string //
	LastSeq     int64  // the last record checked
	LastHash    string //
	Checkpoints int    // checkpoint lines checked against the chain

	BrokenSeq int64
	Problem   string
	Detail    string
}

// OK reports whether the chain was found intact.
func (r *VerifyReport) OK() bool { return r.Problem == "" }

// Checkpoint is one line of a checkpoint file: the chain head after a
// commit, as the writer saw it.
type Checkpoint struct {
	Seq  int64
	Hash string
}

// ParseCheckpoint reads a checkpoint line, "seq hash [time]".
func ParseCheckpoint(line string) (Checkpoint, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return Checkpoint{}, recvault.Errorf(recvault.EINVALID, "checkpoint line %q: want \"seq hash time\"", line)
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || seq < 1 || len(f[1]) != 64 {
		return Checkpoint{}, recvault.Errorf(recvault.EINVALID, "checkpoint line %q: want a positive seq and a SHA-256 hash", line)
	}
	return Checkpoint{Seq: seq, Hash: f[1]}, nil
}

// verifyPage is how many records VerifyAudit reads at a time.
const verifyPage = 1000

// VerifyAudit checks the audit trail in cat: it walks the chain in Seq
// order, recomputes every record's hash (recvault.AuditEvent.ChainHash),
// checks that each links to the one before and that Seq runs 1, 2, … with
// no gap, that audit_head names the last record, and that every checkpoint
// line (as the writer appends them to Config.AuditCheckpoint: "seq hash
// time"; blank lines are skipped) matches the record of its Seq. It stops
// at the first broken record and names it.
//
// The chain alone shows alterations, removals and insertions in the
// middle; audit_head shows a cut tail unless it was reset along with it;
// a checkpoint kept outside the database shows that too, and a chain
// rewritten from some record on. The error is for failures to read, not
// for a broken chain (see VerifyReport.OK). It can run beside live
// writers: records appended meanwhile are checked as well.
func VerifyAudit(ctx context.Context, cat recvault.Catalog, checkpoints []string) (VerifyReport, error) {
	var rep VerifyReport
	var cps []Checkpoint
	for _, l := range checkpoints {
		if strings.TrimSpace(l) == "" {
			continue
		}
		cp, err := ParseCheckpoint(l)
		if err != nil {
			return rep, err
		}
		cps = append(cps, cp)
	}
	slices.SortStableFunc(cps, func(a, b Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	rep.Checkpoints = len(cps)

	broken := func(seq int64, problem, format string, args ...any) (VerifyReport, error) {
		rep.BrokenSeq, rep.Problem, rep.Detail = seq, problem, fmt.Sprintf(format, args...)
		return rep, nil
	}
	// The head as it was before the walk, for a report that stops early;
	// it is read again at the end.
	seq, hash, err := cat.AuditHead(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	rep.HeadSeq, rep.HeadHash = seq, hash
	prev, prevPrev := "", "" // hashes of the last two records checked
	ci := 0                  // next checkpoint to match
	// A record that differs from its checkpoint is reported once the next
	// record has been seen: if that one is the checkpointed record moved
	// up by one, the difference is an insertion, not an alteration.
	var pending *chainProblem
	for round := 0; ; round++ {
		for {
			page, err := cat.AuditChain(ctx, rep.LastSeq, verifyPage)
			if err != nil {
				return rep, fmt.Errorf("verify audit: %w", err)
			}
			if len(page) == 0 {
				break
			}
			for i := range page {
				e := &page[i]
				want := rep.LastSeq + 1
				// Records out of their place in the walk (see renumbered):
				// the rest of the page tells an insertion or a reordering
				// from a removal.
				rest := page[i+1:]
				if e.Seq == want+1 && renumbered(e, want, prev) {
					if slices.ContainsFunc(rest, func(r recvault.AuditEvent) bool { return r.Seq == want && renumbered(&r, want, prev) }) {
						return broken(want, ProblemInserted, "record %d was inserted: the record now numbered %d is the former record %d, renumbered, and the inserted record is stored further on", want, e.Seq, want)
					}
					return broken(want, ProblemOutOfOrder, "the record numbered %d is the former record %d, renumbered: records were renumbered or reordered", e.Seq, want)
				}
				if e.Seq < want {
					return broken(want, ProblemOutOfOrder, "the record stored after record %d is numbered %d: records were reordered, or a record was inserted", rep.LastSeq, e.Seq)
				}
				if e.Seq > want {
					if slices.ContainsFunc(rest, func(r recvault.AuditEvent) bool { return r.Seq >= want && r.Seq < e.Seq }) {
						return broken(want, ProblemOutOfOrder, "record %d is stored after record %d: the records were reordered", want, e.Seq)
					}
					if want == e.Seq-1 {
						return broken(want, ProblemMissing, "record %d is missing: the chain goes from %d to %d (removed)", want, rep.LastSeq, e.Seq)
					}
					return broken(want, ProblemMissing, "records %d to %d are missing: the chain goes from %d to %d (removed)", want, e.Seq-1, rep.LastSeq, e.Seq)
				}
				if p, ok := linkProblem(e, prev, prevPrev); !ok {
					if pending != nil && (p.seq != pending.seq || p.problem != ProblemInserted) {
						p = *pending
					}
					return broken(p.seq, p.problem, "%s", p.detail)
				}
				if pending != nil {
					return broken(pending.seq, pending.problem, "%s", pending.detail)
				}
				for ci < len(cps) && cps[ci].Seq == e.Seq {
					if cps[ci].Hash != e.Hash && pending == nil {
						pending = &chainProblem{e.Seq, ProblemAltered, fmt.Sprintf(
							"record %d does not match checkpoint %d %s: the chain was rewritten at or before record %d",
							e.Seq, cps[ci].Seq, cps[ci].Hash, e.Seq)}
					}
					ci++
				}
				prevPrev, prev = prev, e.Hash
				rep.Records++
				rep.LastSeq, rep.LastHash = e.Seq, e.Hash
			}
		}
		seq, hash, err := cat.AuditHead(ctx)
		if err != nil {
			return rep, fmt.Errorf("verify audit: %w", err)
		}
		rep.HeadSeq, rep.HeadHash = seq, hash
		if pending != nil { // the differing record was the last one
			return broken(pending.seq, pending.problem, "%s", pending.detail)
		}
		// A head beyond the last record read: records committed while the
		// walk ran, unless there are none to read (a cut tail). Chase a
		// few times; a head that stays ahead is judged below.
		if seq <= rep.LastSeq || round >= 20 {
			break
		}
		more, err := cat.AuditChain(ctx, rep.LastSeq, 1)
		if err != nil {
			return rep, fmt.Errorf("verify audit: %w", err)
		}
		if len(more) == 0 {
			break
		}
	}
	switch {
	case rep.HeadSeq > rep.LastSeq:
		return broken(rep.LastSeq+1, ProblemTailCut, "the audit head is at record %d but the chain ends at record %d: records %d to %d were removed",
			rep.HeadSeq, rep.LastSeq, rep.LastSeq+1, rep.HeadSeq)
	case rep.HeadSeq < rep.LastSeq:
		return broken(rep.HeadSeq+1, ProblemInserted, "record %d lies beyond the audit head (record %d): it was not appended by the writer",
			rep.HeadSeq+1, rep.HeadSeq)
	case rep.HeadHash != rep.LastHash:
		return broken(rep.LastSeq, ProblemAltered, "the audit head's hash %s does not match record %d (%s)", rep.HeadHash, rep.LastSeq, rep.LastHash)
	}
	if ci < len(cps) {
		cp := cps[len(cps)-1] // the furthest: how much is gone
		return broken(rep.LastSeq+1, ProblemTailCut, "checkpoint %d %s lies beyond the chain, which ends at record %d: records %d to %d were removed",
			cp.Seq, cp.Hash, rep.LastSeq, rep.LastSeq+1, cp.Seq)
	}
	return rep, nil
}

// renumbered reports whether e, whatever its number now, was chained as
// record seq after the record whose hash is prev. A catalogue that stores
// the chain in row order (SQLite) returns a renumbered chain as it lies:
// after an insertion made by renumbering, the former record seq comes
// where seq was due, numbered seq+1, and the inserted record further on.
func renumbered(e *recvault.AuditEvent, seq int64, prev string) bool {
	moved := *e
	moved.Seq = seq
	return e.PrevHash == prev && moved.ChainHash(e.PrevHash) == e.Hash
}

type chainProblem struct {
	seq             int64
	problem, detail string
}

// linkProblem checks one record against the hash of the record before it
// (prev) and the one before that (prevPrev), and says what is wrong:
//
//   - its hash recomputes under its Seq but it links elsewhere: the record
//     before it was altered and rehashed, or replaced;
//   - its hash recomputes only under Seq-1, linking to prevPrev: it is the
//     former record Seq-1, renumbered, so the record before it was
//     inserted;
//   - its hash recomputes only under another Seq: records were renumbered
//     or reordered;
//   - otherwise its contents were altered.
func linkProblem(e *recvault.AuditEvent, prev, prevPrev string) (chainProblem, bool) {
	if e.ChainHash(e.PrevHash) == e.Hash {
		if e.PrevHash == prev {
			return chainProblem{}, true
		}
		return chainProblem{e.Seq - 1, ProblemAltered, fmt.Sprintf(
			"record %d links to a record %d other than the one stored (prevHash %s, stored record's hash %s): record %d was altered and rehashed, or replaced",
			e.Seq, e.Seq-1, e.PrevHash, prev, e.Seq-1)}, false
	}
	if e.Seq > 1 && renumbered(e, e.Seq-1, prevPrev) {
		return chainProblem{e.Seq - 1, ProblemInserted, fmt.Sprintf(
			"record %d was inserted: the record now numbered %d is the former record %d, renumbered", e.Seq-1, e.Seq, e.Seq-1)}, false
	}
	moved := *e
	for _, d := range []int64{1, -1, 2, -2} {
		moved.Seq = e.Seq + d
		if moved.Seq > 0 && moved.ChainHash(e.PrevHash) == e.Hash {
			return chainProblem{e.Seq, ProblemOutOfOrder, fmt.Sprintf(
				"the record at seq %d was chained as record %d: records were removed and renumbered, or reordered", e.Seq, moved.Seq)}, false
		}
	}
	return chainProblem{e.Seq, ProblemAltered, fmt.Sprintf("record %d was altered: its contents do not match its hash", e.Seq)}, false
}
