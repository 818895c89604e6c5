package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/vault"
)

func cmdIngest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest", stderr)
	stores := addStoreFlags(fs)
	fields := map[string]*string{}
	for _, f := range []struct{ name, key, help string }{
		{"campaign", "campaign", "campaign id (integer)"},
		{"crt-object-id", "crtObjectId", "CRT object id (with the campaign, the recording's identity)"},
		{"call-id", "callId", "call id"},
		{"agent", "agent", "agent id (work number)"},
		{"kind", "kind", "voice or video (default: as probed)"},
		{"original-path", "originalPath", "the recorder's original file path, e.g. Y:/90/0/20210519/4977/1642329.mp4"},
		{"codec", "codec", "alaw or ulaw, for headerless G.711"},
		{"started-at", "startedAt", "call start, RFC 3339 (default: now)"},
		{"agent-channel", "agentChannel", "dual-track voice: the agent's channel, 0 or 1 (default 0)"},
	} {
		fields[f.key] = fs.String(f.name, "", f.help)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("ingest wants exactly one FILE (or - for standard input)")
	}
	for _, r := range []struct{ key, flag, example string }{
		{"campaign", "campaign", "110"}, {"crtObjectId", "crt-object-id", "d741-6904fad1-vce-daf-638729"},
		{"callId", "call-id", "d741-6904fad1-vcall-10989826"}, {"agent", "agent", "4977"},
	} {
		if *fields[r.key] == "" {
			return usagef("--%s is required, e.g. --%s %s", r.flag, r.flag, r.example)
		}
	}
	vals := map[string]string{}
	for k, v := range fields {
		if *v != "" {
			vals[k] = *v
		}
	}
	req, err := vault.IngestRequestFromFields(vals)
	if err != nil {
		return usageError{flagNames.Replace(describe(err))}
	}
	var src io.Reader = stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	// The first bytes, kept to say what the file is if it is refused.
	body := bufio.NewReaderSize(src, 64<<10)
	head, err := body.Peek(64)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("read %s: %w", pos[0], err)
	}
	head = bytes.Clone(head)
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx = vault.WithRequestInfo(ctx, vault.RequestInfo{Via: "cli"})
	rec, created, err := a.svc.Ingest(ctx, nil, req, body)
	if err != nil {
		return mediaHint(err, head, req.Codec, "--codec alaw or --codec ulaw")
	}
	state := "ingested"
	if !created {
		state = "already present (identical)"
	}
	fmt.Fprintf(stdout, "%s %s: campaign %d crtObjectId %s %s %s/%s %d Hz %d ch %.1f s sha256 %s\n", rec.ID, state,
		rec.CampaignID, rec.CRTObjectID, rec.Kind, rec.Format.Container, rec.Format.Codec, rec.Format.SampleRate,
		rec.Format.Channels, rec.Duration.Seconds(), rec.SHA256)
	return nil
}

// manifestColumns are the columns an import manifest must have (in any order).
var manifestColumns = []string{"path", "campaign_id", "crt_object_id", "call_id", "agent_id", "started_at", "kind", "original_path"}

// importResult is one JSON line of the import report on stdout.
type importResult struct {
	Line   int    `json:"line"`
	Path   string `json:"path"`
	Status string `json:"status"` // ingested, present, failed
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"`
}

// cmdImport ingests every row of a CSV manifest. It is resumable by being
// idempotent: rows already in the catalog with the same bytes are skipped
// after hashing, without writing anything, so an interrupted import is
// simply run again.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	stores := addStoreFlags(fs)
	manifest := fs.String("manifest", "", "CSV manifest with a header row: "+strings.Join(manifestColumns, ","))
	progress := fs.String("progress", "auto", "auto (a bar when stderr is a terminal), bar or none")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *manifest == "" {
		return usagef("--manifest is required")
	}
	if *progress != "auto" && *progress != "bar" && *progress != "none" {
		return usagef("--progress must be auto, bar or none")
	}
	mf, err := os.Open(*manifest)
	if err != nil {
		return err
	}
	defer mf.Close()
	base := filepath.Dir(*manifest)
	rows, err := readManifest(mf)
	if err != nil {
		return err
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx = vault.WithRequestInfo(ctx, vault.RequestInfo{Via: "cli"})

	showBar := *progress == "bar" || (*progress == "auto" && isTerminal(stderr))
	var bar *multiBar // the same display as get's
	if showBar {
		bar = newMultiBar(stderr, len(rows))
	}
	// above prints report and error lines above the bar.
	above := func(f func()) {
		if bar == nil {
			f()
			return
		}
		bar.above(f)
	}
	enc := json.NewEncoder(stdout)
	var ingested, present, failed int
	for _, row := range rows {
		if ctx.Err() != nil {
			break
		}
		res := importRow(ctx, a.svc, base, row)
		var encErr error
		above(func() {
			switch res.Status {
			case "ingested":
				ingested++
			case "present":
				present++
			default:
				failed++
				if res.Path == "" { // a line that could not be read names no file
					fmt.Fprintf(stderr, "line %d: %s\n", res.Line, res.Error)
				} else {
					fmt.Fprintf(stderr, "line %d: %s: %s\n", res.Line, res.Path, res.Error)
				}
			}
			encErr = enc.Encode(res)
		})
		if encErr != nil {
			return fmt.Errorf("write the report: %w", encErr)
		}
		if bar != nil {
			bar.fileDone(row.line)
		}
	}
	if bar != nil {
		bar.finish()
	}
	fmt.Fprintf(stderr, "import: %d ingested, %d already present, %d failed, of %d rows\n", ingested, present, failed, len(rows))
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; run the same import again to resume")
	}
	if failed > 0 {
		return fmt.Errorf("%d rows failed (see the report lines with \"status\":\"failed\")", failed)
	}
	return nil
}

type manifestRow struct {
	line   int
	fields map[string]string
	err    error
}

func readManifest(r io.Reader) ([]manifestRow, error) {
	header, lines, err := readCSVLines(r)
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, c := range []string{"path", "campaign_id", "crt_object_id", "call_id", "agent_id"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("manifest: header lacks column %q (columns: %s)", c, strings.Join(manifestColumns, ","))
		}
	}
	rows := make([]manifestRow, 0, len(lines))
	for _, l := range lines {
		if l.err != nil {
			rows = append(rows, manifestRow{line: l.line, err: l.err})
			continue
		}
		f := map[string]string{}
		for name, i := range col {
			f[name] = strings.TrimSpace(l.fields[i])
		}
		rows = append(rows, manifestRow{line: l.line, fields: f})
	}
	return rows, nil
}

func importRow(ctx context.Context, svc *vault.Service, base string, row manifestRow) importResult {
	res := importResult{Line: row.line, Path: row.fields["path"], Status: "failed"}
	if row.err != nil {
		res.Error = row.err.Error()
		return res
	}
	req, err := vault.IngestRequestFromFields(row.fields)
	if err != nil {
		res.Error = describe(err)
		return res
	}
	if res.Path == "" {
		res.Error = "path is empty"
		return res
	}
	p := res.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	f, err := os.Open(p)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer f.Close()
	if existing, err := svc.OperatorRecording(ctx, req.CampaignID, req.CRTObjectID); err == nil {
		// Resuming: hash locally and skip identical rows without writing a blob.
		if same, err := sameFile(f, existing); err == nil && same {
			res.Status, res.ID = "present", existing.ID
			return res
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	rec, created, err := svc.Ingest(ctx, nil, req, f)
	if err != nil {
		var head [64]byte
		n, _ := f.ReadAt(head[:], 0) // what the file starts with, to say what it is; a short read is fine
		res.Error = describe(mediaHint(err, head[:n], req.Codec, "a codec column (alaw or ulaw)"))
		return res
	}
	res.ID, res.Status = rec.ID, "ingested"
	if !created {
		res.Status = "present"
	}
	return res
}

// sameFile reports whether f holds exactly the bytes of r.
func sameFile(f *os.File, r *recvault.Recording) (bool, error) {
	st, err := f.Stat()
	if err != nil || st.Size() != r.Size {
		return false, err
	}
	sum, err := sha256File(f)
	return sum == r.SHA256, err
}

func sha256File(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// flagNames turns the field names of the core's ingest messages into the
// flags that set them.
var flagNames = strings.NewReplacer("campaign must", "--campaign must", "kind must", "--kind must",
	"started at must", "--started-at must", "agent channel must", "--agent-channel must")

// mediaHint explains a recording the core refused as not media: a known
// format it does not store is named (not shown as hex), anything else
// without a header may be raw G.711, which needs the codec given (codecHow
// says how).
func mediaHint(err error, head []byte, codec, codecHow string) error {
	if recvault.ErrorCode(err) != recvault.EINVALID || !strings.Contains(describe(err), "not a recognised media format") {
		return err
	}
	if name := probe.Identify(head); name != "" {
		return hintf(err, "the file is %s, which recvault does not store: convert it to WAV, MP3 or MP4 first "+
			"(e.g. ffmpeg -i IN OUT.wav)", name)
	}
	if codec == "" {
		return hintf(err, "the file has no WAV, MP3 or MP4 header; if it is raw (headerless) G.711, add %s", codecHow)
	}
	return err
}
