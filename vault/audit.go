package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/metrics"
)

// The audit trail is written by one writer per Service (group commit):
// every record() call hands its event to the writer and waits; the writer
// puts every event that arrived while its previous transaction ran into
// the next Catalog.AppendAudit call, so that N concurrent requests cost
// one transaction (one fsync, one round of the chain-head lock) instead of
// N. record() returns only when the transaction holding its event has
// committed, with that transaction's error: an access is never served
// unaudited, and a failing audit store (disk full, database down) makes
// the caller refuse with an internal error.
//
// Anonymous attempts (no principal, not the CLI) are the only records an
// outsider can cause at will, so they are bounded: their Detail and
// Subject are cut to anonLimit bytes, and per (client address, action,
// outcome) only the first floodKeep records of a floodWindow are stored
// one by one; further ones are counted, and one ActionSuppressed record
// ("N similar attempts from R suppressed") is written when the window
// ends, or when the service closes.
//
// After a transaction of more than one event (requests are arriving
// concurrently) the writer waits, up to batchLinger, until as many events
// are queued again before it takes the next batch, so that a busy server
// commits about twice as many events per transaction: the transaction's
// fixed cost (BEGIN, the head, the WAL frames and their fsync) was the
// largest part of a small download's CPU, and a CPU-bound server serves
// more when it pays it less often. A request then waits at most
// batchLinger longer for its record; a lone client (transactions of one
// event) never waits, nor does a batch as large as the last.
//
// After each committed batch the writer logs the chain head ("audit head",
// seq, hash) and, with Config.AuditCheckpoint, appends "seq hash time" to
// that file: a copy of the head outside the database, so that cutting the
// chain's tail and resetting audit_head to match is still detectable
// (VerifyAudit).
const (
	anonLimit       = 120 // bytes of Detail and Subject kept for anonymous attempts
	floodKeep       = 20  // anonymous records stored per key and window
	floodWindow     = time.Minute
	maxBatch        = 512                  // events per transaction; the rest wait for the next
	checkpointSync  = time.Second          // fsync the checkpoint file at most this often
	writerIdleAfter = 30 * time.Second     // an idle writer goroutine ends (and restarts on demand)
	commitTimeout   = 30 * time.Second     // longest an audit transaction may take before it fails
	batchLinger     = 2 * time.Millisecond // wait after a transaction of several events (above; 1 ms until 2026-12-03)
)

// writer returns s's audit writer, making it on first use.
func (s *Service) writer() *auditWriter {
	s.auditOnce.Do(func() {
		s.auditW = &auditWriter{
			cat: s.cat, log: s.log, now: s.now, checkpoint: s.cfg.AuditCheckpoint, linger: batchLinger,
			wake: make(chan struct{}, 1), floods: map[floodKey]*flood{},
		}
	})
	return s.auditW
}

// Close flushes the audit trail (pending events, flood summaries, the
// checkpoint file) and stops the audit writer. Call it before closing the
// catalog. Records written after Close are stored one by one, unbatched.
func (s *Service) Close() error {
	return s.writer().close()
}

// AuditCommits reports how many audit transactions s has committed or
// tried: with group commit, fewer than the records written under load.
func (s *Service) AuditCommits() int64 { return s.writer().commits.Load() }

// record writes one audit record for p (nil: anonymous, or the operator
// under Via "cli"), filling in the time, actor, role, API, client address
// and request id. It returns once the record is durable (in the next group
// commit); a failure is logged and returned as an internal error, because
// an access that cannot be recorded must not happen. A flood of anonymous
// attempts is summarised rather than stored one by one (see above); a
// suppressed record returns nil at once.
func (s *Service) record(ctx context.Context, p *recvault.Principal, e recvault.AuditEvent) error {
	ri := RequestInfoFrom(ctx)
	anonymous := false
	switch {
	case p != nil && p.User != nil:
		e.Actor, e.Role = p.User.Login, string(p.User.Role)
	case ri.Via == "cli":
		e.Actor = "cli"
	case ri.Via == "":
		// The process itself (demo seeding, start-up work), not a request.
		e.Actor = "recvault"
	default:
		anonymous = true
	}
	e.At, e.API, e.Remote, e.RequestID = s.now(), ri.Via, ri.Remote, ri.RequestID
	if e.Outcome == recvault.OutcomeGranted {
		ri.Note.set(e.Actor, e.Format)
	} else {
		ri.Note.set(e.Actor, "")
	}
	w := s.writer()
	if anonymous {
		e.Detail, e.Subject = truncate(e.Detail, anonLimit), truncate(e.Subject, anonLimit)
		if w.suppress(&e) {
			return nil
		}
	}
	// The wait does not end with ctx: the client going away must not lose
	// the record or leave the caller unsure whether it was written.
	if err := w.write(&e); err != nil {
		s.log.Error("audit write failed", "err", err, "action", e.Action, "request_id", ri.RequestID)
		return recvault.Internal(fmt.Errorf("audit: %w", err))
	}
	return nil
}

// audit is record for the common fields.
func (s *Service) audit(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, recID string, outcome recvault.AuditOutcome, detail string) error {
	return s.record(ctx, p, recvault.AuditEvent{Action: action, RecordingID: recID, Outcome: outcome, Detail: detail})
}

// truncate cuts s to at most n bytes, not inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) { // not UTF-8 anyway: cut at n
		cut = n
	}
	return s[:cut]
}

// auditReq is one event waiting for its group commit; done receives the
// transaction's result (nil done: nobody waits, e.g. a flood summary).
type auditReq struct {
	e    *recvault.AuditEvent
	done chan error
}

// floodKey is what makes anonymous attempts "similar".
type floodKey struct {
	remote  string // client address without port
	action  recvault.AuditAction
	outcome recvault.AuditOutcome
}

// flood counts one key's anonymous attempts in the window that began at
// start.
type flood struct {
	start      time.Time
	stored     int
	suppressed int
	api        string
}

// auditWriter is a Service's group-commit writer (see the top of this file).
type auditWriter struct {
	cat        recvault.Catalog
	log        *slog.Logger
	now        func() time.Time
	checkpoint string        // file path; "" for none
	linger     time.Duration // batchLinger; tests set their own

	commits atomic.Int64

	mu     sync.Mutex
	queue  []auditReq
	floods map[floodKey]*flood
	// floodScan is when the flood windows are next looked at: when the
	// oldest ends, but at most once a second, so that many distinct
	// clients do not make every anonymous record walk them all.
	floodScan time.Time
	running   bool          // a run goroutine is live
	stopped   chan struct{} // closed when that goroutine ends
	closed    bool
	wake      chan struct{} // capacity 1: "there is work"

	// commitMu serialises commits (the run goroutine, and writes after
	// Close) and guards the checkpoint file.
	commitMu   sync.Mutex
	ckpt       *os.File
	ckptDirty  bool      // written since the last fsync
	ckptSynced time.Time // wall time of the last fsync
	ckptErr    error     // first checkpoint failure, reported by Close
}

// write queues e for the next group commit and waits for it.
func (w *auditWriter) write(e *recvault.AuditEvent) error {
	req := auditReq{e: e, done: make(chan error, 1)}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		err := w.commit([]auditReq{req})
		w.syncCheckpoint(true) // no writer is left to do it later
		return err
	}
	w.queue = append(w.queue, req)
	metrics.AuditQueue(len(w.queue))
	w.startLocked()
	w.mu.Unlock()
	w.signal()
	return <-req.done
}

// startLocked starts the run goroutine if none is live. w.mu is held.
func (w *auditWriter) startLocked() {
	if w.running {
		return
	}
	w.running = true
	w.stopped = make(chan struct{})
	go w.run(w.stopped)
}

func (w *auditWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// gather waits, after a transaction of n events, until the queue holds n
// again, at most w.linger (or until Close). Waiting the whole linger every
// time made the writer the serve path's bottleneck once it was busy: it spent
// its time in commits and lingers alone (2,600 commits of 1.2 ms and as
// many lingers of 1 ms filled a 6 s run), while the queue already held a
// transaction's worth; a batch as large as the last one has nothing to
// wait for.
func (w *auditWriter) gather(n int, timer *time.Timer) {
	deadline := time.Now().Add(w.linger)
	for {
		w.mu.Lock()
		queued, closed := len(w.queue), w.closed
		w.mu.Unlock()
		left := time.Until(deadline)
		if queued >= n || closed || left <= 0 {
			return
		}
		timer.Reset(left) // (Go 1.23 timers: no stale tick survives a Reset)
		select {
		case <-w.wake: // a record queued, or Close
		case <-timer.C:
			return
		}
	}
}

// run is the writer goroutine: it commits whatever is queued, one batch per
// transaction, ends flood windows as they expire, keeps the checkpoint
// file's fsync within checkpointSync, and ends when closed, or idle for
// writerIdleAfter with nothing pending (a Service that is never closed
// then leaves no goroutine behind).
func (w *auditWriter) run(stopped chan struct{}) {
	defer close(stopped)
	idleSince := time.Now()
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		w.mu.Lock()
		w.expireLocked(w.now(), false)
		batch := w.queue
		if len(batch) > maxBatch {
			batch = slices.Clone(w.queue[:maxBatch])
			w.queue = slices.Delete(w.queue, 0, maxBatch)
		} else {
			w.queue = nil
		}
		metrics.AuditQueue(len(w.queue))
		closing := w.closed
		if len(batch) == 0 && closing {
			w.expireLocked(w.now(), true) // every window ends at Close
			if len(w.queue) == 0 {
				w.running = false
				w.mu.Unlock()
				w.syncCheckpoint(true)
				return
			}
			w.mu.Unlock()
			continue
		}
		pendingFloods := len(w.floods) > 0
		if len(batch) == 0 && !pendingFloods && !w.checkpointDirty() && time.Since(idleSince) >= writerIdleAfter {
			w.running = false
			w.mu.Unlock()
			w.syncCheckpoint(true)
			return
		}
		w.mu.Unlock()
		if len(batch) > 0 {
			// Errors reach the waiting callers; the writer carries on.
			_ = w.commit(batch)
			idleSince = time.Now()
			if len(batch) > 1 && !closing {
				w.gather(len(batch), timer) // let the next batch gather (top of this file)
			}
			continue
		}
		w.syncCheckpoint(false)
		wait := writerIdleAfter
		if pendingFloods {
			wait = time.Second // flood windows run on the service's clock: look again soon
		}
		if w.checkpointDirty() {
			wait = checkpointSync
		}
		timer.Reset(wait) // (Go 1.23 timers: no stale tick survives a Reset)
		select {
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// commit writes one batch in one transaction, answers its waiters, and
// records the new head in the log and the checkpoint file.
func (w *auditWriter) commit(batch []auditReq) error {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	events := make([]*recvault.AuditEvent, len(batch))
	for i, r := range batch {
		events[i] = r.e
	}
	// Not the requests' contexts: a record must not be lost because its
	// client left. Bounded all the same, so that a hung store fails the
	// waiting requests rather than holding them for ever.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	start := time.Now()
	err := w.cat.AppendAudit(ctx, events)
	metrics.AuditCommit(len(events), time.Since(start), err)
	cancel()
	w.commits.Add(1)
	for _, r := range batch {
		if r.done != nil {
			r.done <- err
		} else if err != nil {
			w.log.Error("audit summary write failed", "err", err, "detail", r.e.Detail)
		}
	}
	if err != nil {
		return err
	}
	last := events[len(events)-1]
	w.log.Info("audit head", "seq", last.Seq, "hash", last.Hash, "records", len(events))
	w.appendCheckpoint(last)
	return nil
}

// suppress counts an anonymous event against its flood window and reports
// whether it is one too many to store on its own.
func (w *auditWriter) suppress(e *recvault.AuditEvent) bool {
	remote := e.Remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		remote = h
	}
	k := floodKey{remote: remote, action: e.Action, outcome: e.Outcome}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false // no writer is left to summarise: store each one
	}
	w.expireLocked(e.At, false)
	f := w.floods[k]
	if f == nil {
		f = &flood{start: e.At, api: e.API}
		w.floods[k] = f
		if len(w.floods) == 1 {
			w.floodScan = e.At.Add(floodWindow) // the only window: the next to end
		}
	}
	if f.stored < floodKeep {
		f.stored++
		return false
	}
	f.suppressed++
	if f.suppressed == 1 {
		w.startLocked() // the summary is the writer's to write
	}
	return true
}

// expireLocked ends the flood windows that are over at now (all of them
// with all), queueing a summary for each that suppressed records. w.mu is
// held.
func (w *auditWriter) expireLocked(now time.Time, all bool) {
	if !all && now.Before(w.floodScan) {
		return
	}
	queued := false
	next := now.Add(floodWindow)
	for k, f := range w.floods {
		if end := f.start.Add(floodWindow); !all && now.Before(end) {
			next = earlier(next, end)
			continue
		}
		delete(w.floods, k)
		if f.suppressed == 0 {
			continue
		}
		w.queue = append(w.queue, auditReq{e: &recvault.AuditEvent{
			At: now, API: f.api, Action: recvault.ActionSuppressed, Outcome: k.outcome,
			Subject: string(k.action), Remote: k.remote,
			Detail: fmt.Sprintf("%d similar attempts from %s suppressed", f.suppressed, k.remote),
		}})
		queued = true
	}
	w.floodScan = later(next, now.Add(time.Second))
	if queued && !w.closed {
		w.startLocked()
		w.signal()
	}
}

// close flushes everything and stops the run goroutine.
func (w *auditWriter) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.expireLocked(w.now(), true)
	if len(w.queue) > 0 {
		w.startLocked()
	}
	stopped, running := w.stopped, w.running
	w.mu.Unlock()
	if running {
		w.signal()
		<-stopped
	}
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	err := w.ckptErr
	if w.ckpt != nil {
		if w.ckptDirty {
			err = errors.Join(err, w.ckpt.Sync())
		}
		err = errors.Join(err, w.ckpt.Close())
		w.ckpt, w.ckptDirty = nil, false
	}
	if err != nil {
		return fmt.Errorf("audit checkpoint %s: %w", w.checkpoint, err)
	}
	return nil
}

// appendCheckpoint appends "seq hash time" to the checkpoint file, with an
// fsync if the last one is checkpointSync old (else run does it soon).
// commitMu is held. A failure is logged and reported by Close: the records
// themselves are durable, only their outside copy is missing.
func (w *auditWriter) appendCheckpoint(last *recvault.AuditEvent) {
	if w.checkpoint == "" {
		return
	}
	if w.ckpt == nil {
		f, err := os.OpenFile(w.checkpoint, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			w.checkpointFailed(err)
			return
		}
		w.ckpt = f
	}
	line := fmt.Sprintf("%d %s %s\n", last.Seq, last.Hash, w.now().UTC().Format(time.RFC3339))
	if _, err := w.ckpt.WriteString(line); err != nil {
		w.checkpointFailed(err)
		return
	}
	w.ckptDirty = true
	if time.Since(w.ckptSynced) >= checkpointSync {
		w.syncCheckpointLocked()
	}
}

func (w *auditWriter) checkpointFailed(err error) {
	w.log.Error("audit checkpoint write failed", "file", w.checkpoint, "err", err)
	if w.ckptErr == nil {
		w.ckptErr = err
	}
}

func (w *auditWriter) checkpointDirty() bool {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	return w.ckptDirty
}

// syncCheckpoint fsyncs the checkpoint file if it is due (or now, with
// final, which also closes it: the writer is going idle or away).
func (w *auditWriter) syncCheckpoint(final bool) {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	if w.ckptDirty && (final || time.Since(w.ckptSynced) >= checkpointSync) {
		w.syncCheckpointLocked()
	}
	if final && w.ckpt != nil {
		if err := w.ckpt.Close(); err != nil {
			w.checkpointFailed(err)
		}
		w.ckpt = nil
	}
}

func (w *auditWriter) syncCheckpointLocked() {
	if w.ckpt == nil {
		return
	}
	if err := w.ckpt.Sync(); err != nil {
		w.checkpointFailed(err)
	}
	w.ckptDirty, w.ckptSynced = false, time.Now()
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
