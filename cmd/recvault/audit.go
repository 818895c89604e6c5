package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/vault"
)

const auditUsage = `Usage:
  recvault audit verify [--checkpoint FILE]... [store flags]
      Recompute the audit trail's hash chain and check it against the chain
      head and the checkpoint files (serve --audit-checkpoint). Exit 0 if
      intact, 1 naming the first broken record.
  recvault audit export [--since RFC3339] [--until RFC3339] [--recording ID]
                        [--actor LOGIN] [--format jsonl|csv] [store flags]
      Write the matching records to stdout, oldest first. The export is
      itself audited.

Run "recvault audit verify -h" or "recvault audit export -h" for the flags.
`

// cmdAudit verifies or exports the audit trail.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("audit wants a subcommand: verify, export")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return flag.ErrHelp
	case "verify":
		return cmdAuditVerify(ctx, args[1:], stdout, stderr)
	case "export":
		return cmdAuditExport(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown audit subcommand %q: want verify or export", args[0])
}

func cmdAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", stderr)
	stores := addStoreFlags(fs)
	var checkpoints multiFlag
	fs.Var(&checkpoints, "checkpoint", "checkpoint file written by serve --audit-checkpoint (repeatable: one per replica)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	// Read the checkpoints before opening the catalog: a wrong path is the
	// operator's mistake, reported before anything else happens.
	var lines []string
	for _, path := range checkpoints {
		l, err := readLines(path)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		lines = append(lines, l...)
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	// Verification only reads: it writes no audit record, which would
	// extend the very chain under examination.
	rep, err := vault.VerifyAudit(ctx, a.cat, lines)
	if err != nil {
		return err
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "audit chain broken at record %d (%s): %s\n", rep.BrokenSeq, rep.Problem, rep.Detail)
		fmt.Fprintf(stdout, "checked %d records before it; head seq %d hash %s\n", rep.Records, rep.HeadSeq, rep.HeadHash)
		return fmt.Errorf("audit chain broken at record %d (%s)", rep.BrokenSeq, rep.Problem)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d records, head seq %d hash %s\n", rep.Records, rep.HeadSeq, rep.HeadHash)
	if rep.Checkpoints > 0 {
		fmt.Fprintf(stdout, "%d checkpoints match\n", rep.Checkpoints)
	}
	return nil
}

// readLines returns the lines of a file.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

func cmdAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit export", stderr)
	stores := addStoreFlags(fs)
	since := fs.String("since", "", "only records at or after this RFC 3339 time")
	until := fs.String("until", "", "only records before this RFC 3339 time")
	recording := fs.String("recording", "", "only records about this recording id (acted on or listed)")
	actor := fs.String("actor", "", `only records of this actor (a login, "apikey:NAME", "cli")`)
	format := fs.String("format", "jsonl", "jsonl (one JSON object a line) or csv")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	f := recvault.AuditFilter{RecordingID: *recording, Actor: *actor, Limit: 1000}
	for name, v := range map[string]struct {
		s   string
		dst *time.Time
	}{"since": {*since, &f.Since}, "until": {*until, &f.Until}} {
		if v.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v.s)
		if err != nil {
			return usagef("--%s wants an RFC 3339 time such as 2026-01-31T09:00:00Z", name)
		}
		*v.dst = t
	}
	var w recordWriter
	switch *format {
	case "jsonl":
		w = newJSONLWriter(stdout)
	case "csv":
		w = newCSVWriter(stdout)
	default:
		return usagef("--format must be jsonl or csv")
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx = vault.WithRequestInfo(ctx, vault.RequestInfo{Via: "cli"})
	for {
		events, next, err := a.svc.AuditLog(ctx, nil, f)
		if err != nil {
			return err
		}
		for i := range events {
			if err := w.Write(&events[i]); err != nil {
				return fmt.Errorf("write export: %w", err)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

// recordWriter writes exported records in one format.
type recordWriter interface {
	Write(e *recvault.AuditEvent) error
	Flush() error
}

type jsonlWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func newJSONLWriter(w io.Writer) *jsonlWriter {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{bw: bw, enc: enc}
}

func (j *jsonlWriter) Write(e *recvault.AuditEvent) error { return j.enc.Encode(e) }
func (j *jsonlWriter) Flush() error                       { return j.bw.Flush() }

// auditCSVHeader names the CSV columns: every field of a record, in the
// order ChainHash encodes them, then the chain links.
var auditCSVHeader = []string{"seq", "at", "actor", "role", "api", "action", "outcome", "recording_id", "recording_ids",
	"subject", "format", "range", "detail", "remote", "request_id", "prev_hash", "hash"}

type csvWriter struct {
	cw     *csv.Writer
	header bool
}

func newCSVWriter(w io.Writer) *csvWriter { return &csvWriter{cw: csv.NewWriter(w)} }

func (c *csvWriter) Write(e *recvault.AuditEvent) error {
	if !c.header {
		if err := c.cw.Write(auditCSVHeader); err != nil {
			return err
		}
		c.header = true
	}
	at := ""
	if !e.At.IsZero() {
		at = e.At.UTC().Format(time.RFC3339Nano)
	}
	return c.cw.Write([]string{strconv.FormatInt(e.Seq, 10), at, e.Actor, e.Role, e.API, string(e.Action),
		string(e.Outcome), e.RecordingID, strings.Join(e.RecordingIDs, " "), e.Subject, e.Format, e.Range,
		e.Detail, e.Remote, e.RequestID, e.PrevHash, e.Hash})
}

func (c *csvWriter) Flush() error {
	if !c.header { // an empty export still names its columns
		if err := c.cw.Write(auditCSVHeader); err != nil {
			return err
		}
		c.header = true
	}
	c.cw.Flush()
	return c.cw.Error()
}
