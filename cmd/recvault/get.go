package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/recvault/recvault/client"
	ameyoclient "github.com/recvault/recvault/client/ameyo"
	ccgwclient "github.com/recvault/recvault/client/ccgw"
	v1client "github.com/recvault/recvault/client/v1"
	"golang.org/x/term"
)

// stateFile, in the target directory of a manifest run, lists the
// downloads completed there (JSON lines, appended): a later run skips a row
// whose file is still there with the same size and checksum.
const stateFile = ".recvault-state.jsonl"

// getFields are the request fields a row may carry, by canonical name;
// manifest headers are matched without case, '_' or '-' (call_id, callId,
// CALL-ID), and a few aliases are accepted.
var getFields = map[string][]string{
	"v1":    {"id", "format", "channels", "name"},
	"ameyo": {"campaign", "crtobjectid", "callid", "format", "name"},
	"ccgw":  {"callid", "hwfilename", "workno", "name"},
}

// manifestHelp names the columns as a user would write them.
var manifestHelp = map[string]string{
	"v1":    "id,format,channels,name",
	"ameyo": "campaign_id,crt_object_id,call_id,format,name",
	"ccgw":  "call_id,hw_file_name,work_no,name",
}

// getRequired are the fields a single get must be given, by protocol.
var getRequired = map[string][]string{"v1": {"id"}, "ameyo": {"campaign", "crtobjectid", "callid"}, "ccgw": {"callid"}}

// fieldFlags are the flags of the fields whose flag name is not the field's.
var fieldFlags = map[string]string{"id": "id", "campaign": "campaign", "crtobjectid": "crt-object-id", "callid": "call-id"}

var fieldAliases = map[string]string{"campaignid": "campaign", "recordingid": "id", "targetformat": "format",
	"crtobject": "crtobjectid", "filename": "name"}

func canonField(h string) string {
	h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	h = strings.NewReplacer("_", "", "-", "", " ", "").Replace(h)
	if a, ok := fieldAliases[h]; ok {
		return a
	}
	return h
}

// getRow is one download asked for: a manifest line or the flags.
type getRow struct {
	line   int
	fields map[string]string
	err    error // a manifest line that could not be read
}

// outcome is one line of the report.
type outcome struct {
	Line       int    `json:"line"`
	Request    string `json:"request"`
	Status     string `json:"status"` // downloaded, skipped, failed
	File       string `json:"file,omitempty"`
	Size       int64  `json:"size,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	MediaType  string `json:"mediaType,omitempty"`
	Resumed    bool   `json:"resumed,omitempty"`
	ErrorKind  string `json:"errorKind,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Error      string `json:"error,omitempty"`
}

var reportColumns = []string{"line", "request", "status", "file", "size", "sha256", "media_type", "resumed",
	"error_kind", "error_code", "http_status", "error"}

func (o outcome) csv() []string {
	size := ""
	if o.Status != "failed" {
		size = strconv.FormatInt(o.Size, 10)
	}
	hs := ""
	if o.HTTPStatus != 0 {
		hs = strconv.Itoa(o.HTTPStatus)
	}
	return []string{strconv.Itoa(o.Line), o.Request, o.Status, o.File, size, o.SHA256, o.MediaType,
		strconv.FormatBool(o.Resumed), o.ErrorKind, o.ErrorCode, hs, o.Error}
}

// job is a row resolved by its protocol.
type job struct {
	key  string // identity of the request, for the state file and report
	base string // file name without extension
	src  client.Source
	// serverName: the file is named as the server's Content-Disposition
	// says (base names it only when the server names none).
	serverName bool
}

// protoGetter turns rows into downloads for one protocol and keeps its
// session alive while they run.
type protoGetter struct {
	resolve func(f map[string]string) (job, error)
	stop    func()
}

func cmdGet(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	proto, err := checkProtocol("get", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("get "+proto, stderr)
	cf := addConnFlags(fs)
	outDir := fs.String("o", ".", "directory to save into")
	manifest := fs.String("manifest", "", "CSV file with a header row, one download per row (columns: "+manifestHelp[proto]+")")
	parallel := fs.Int("parallel", 4, "downloads at once with --manifest")
	reportPath := fs.String("report", "", "write the report to this file (.csv: CSV, else JSON lines); default JSON lines on stdout")
	progress := fs.String("progress", "auto", "json, bar, none, or auto (a bar when stdout is a terminal, else JSON lines); on stderr")
	flagVals := map[string]*string{"name": fs.String("name", "", "file name without extension (default: from the request)")}
	switch proto {
	case "v1":
		flagVals["id"] = fs.String("id", "", "recording id")
		flagVals["format"] = fs.String("format", "", "original, wav, wav-alaw, wav-ulaw, alaw, ulaw or mp3 (default: the stored file)")
		flagVals["channels"] = fs.String("channels", "", "agent, customer, mix, 0 or 1 (default: all)")
	case "ameyo":
		flagVals["campaign"] = fs.String("campaign", "", "campaign id (campaignId)")
		flagVals["crtobjectid"] = fs.String("crt-object-id", "", "call run-time object id (crtObjectId)")
		flagVals["callid"] = fs.String("call-id", "", "call id (filters callId)")
		flagVals["format"] = fs.String("format", "mp3", "targetFormat")
	case "ccgw":
		flagVals["callid"] = fs.String("call-id", "", "call id (callId)")
		flagVals["hwfilename"] = fs.String("hw-file-name", "", "recorder path of a video file (hwFileName)")
		flagVals["workno"] = fs.String("work-no", "", "inspected agent (workNo), for inspectors")
	}
	agent := ""
	if proto == "ccgw" {
		fs.StringVar(&agent, "agent", "", "work number of the signed-in agent (default: the stored session's)")
	}
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch *progress {
	case "auto", "json", "bar", "none":
	default:
		return usagef("--progress must be auto, json, bar or none")
	}
	if *parallel < 1 || *parallel > 64 {
		return usagef("--parallel must be from 1 to 64")
	}
	defaults := map[string]string{}
	for k, v := range flagVals {
		if *v != "" {
			defaults[k] = *v
		}
	}
	var rows []getRow
	if *manifest != "" {
		delete(defaults, "name")
		if rows, err = readGetManifest(*manifest, proto, defaults); err != nil {
			return err
		}
	} else {
		// Say which flag is missing before anything is signed in or made.
		for _, k := range getRequired[proto] {
			if defaults[k] == "" {
				return usagef("--%s is required (or give --manifest FILE)", fieldFlags[k])
			}
		}
		rows = []getRow{{line: 0, fields: defaults}}
	}

	store, err := openSessionStore()
	if err != nil {
		return err
	}
	ss, err := store.find(proto, *cf.server)
	if err != nil {
		return err
	}
	if agent != "" && agent != ss.User {
		return usagef("the stored %s session on %s is agent %s's, not %s's", proto, ss.Server, ss.User, agent)
	}
	t, err := cf.transfer(stderr, &ss)
	if err != nil {
		return err
	}
	var verbose io.Writer
	if *cf.verbose {
		verbose = stderr
	}
	g := newProtoGetter(ctx, proto, t, store, ss, verbose)
	defer g.stop()

	// A folder this run makes is removed again if nothing lands in it
	// (the first request failed, say): a failed command leaves nothing.
	_, statErr := os.Stat(*outDir)
	made := errors.Is(statErr, os.ErrNotExist)
	// Only a manifest run keeps a state file (to resume it): a single
	// download is its own state, the file is there or not.
	var failed, downloaded, skipped int
	var state *stateLog
	if *manifest != "" {
		if err := os.MkdirAll(*outDir, 0o750); err != nil {
			return err
		}
		if state, err = openState(*outDir); err != nil {
			return err
		}
	}
	defer func() {
		if err := state.close(); err != nil {
			fmt.Fprintf(stderr, "warning: state file: %v\n", err)
		}
		if made && downloaded+skipped == 0 {
			removeEmptyRun(*outDir, state != nil, stderr)
		}
	}()

	rep, closeReport, err := newReporter(*reportPath, stdout)
	if err != nil {
		return err
	}
	mode := *progress
	if mode == "auto" {
		// Bars where a person watches stderr; else JSON lines for a
		// batch, and nothing for one file, whose report says it all.
		switch {
		case isTerminal(stderr):
			mode = "bar"
		case *manifest == "":
			mode = "none"
		default:
			mode = "json"
		}
	}
	ui := &progressUI{mode: mode, w: stderr, total: len(rows), single: *manifest == "", last: map[int]time.Time{}}

	rowsCh := make(chan getRow)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lastErr error
	bases := map[string]int{}
	for i := 0; i < min(*parallel, len(rows)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for row := range rowsCh {
				o, err := runRow(ctx, g, t, state, ui, *outDir, row, bases, &mu)
				mu.Lock()
				switch o.Status {
				case "downloaded":
					downloaded++
				case "skipped":
					skipped++
				default:
					failed++
					lastErr = err
				}
				mu.Unlock()
				ui.fileDone(o, rep)
			}
		}()
	}
	interrupted := false
	for _, row := range rows {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		select {
		case rowsCh <- row:
		case <-ctx.Done():
			interrupted = true
		}
		if interrupted {
			break
		}
	}
	close(rowsCh)
	wg.Wait()
	ui.finish(downloaded, skipped, failed)
	if err := closeReport(); err != nil {
		return err
	}
	if interrupted {
		return errors.New("interrupted; run the same command again to resume")
	}
	if *manifest == "" && failed > 0 {
		return sessionHint(lastErr, proto, ss)
	}
	if failed > 0 {
		err := fmt.Errorf("%d of %d downloads failed (see the report)", failed, len(rows))
		if errors.Is(lastErr, client.ErrUnauthenticated) {
			err = fmt.Errorf("%w; %s", err, describe(sessionHint(lastErr, proto, ss)))
		}
		return err
	}
	if *manifest != "" {
		fmt.Fprintf(stderr, "get: %d downloaded, %d already complete, of %d rows\n", downloaded, skipped, len(rows))
	}
	return nil
}

// runRow downloads one row, or skips it when the state file says it is
// complete, and describes the outcome.
func runRow(ctx context.Context, g *protoGetter, t *client.Transfer, state *stateLog, ui *progressUI,
	dir string, row getRow, bases map[string]int, mu *sync.Mutex) (outcome, error) {
	o := outcome{Line: row.line, Request: describeRow(row.fields)}
	fail := func(err error) (outcome, error) {
		o.Status = "failed"
		o.Error = err.Error()
		var e *client.Error
		if errors.As(err, &e) {
			o.ErrorKind, o.ErrorCode, o.HTTPStatus, o.Error = kindName(e.Kind), e.Code, e.Status, e.Error()
		} else if errors.Is(err, context.Canceled) {
			o.ErrorKind = "interrupted"
		} else {
			o.ErrorKind = "network"
			var ue usageError
			if errors.As(err, &ue) {
				o.ErrorKind = "invalid_row"
			}
		}
		return o, err
	}
	if row.err != nil {
		return fail(usageError{row.err.Error()})
	}
	j, err := g.resolve(row.fields)
	if err != nil {
		return fail(usageError{err.Error()})
	}
	o.Request = j.key
	// The state is per file: rows may fetch one recording under two names.
	j.key += " -> " + j.base
	mu.Lock()
	if other, dup := bases[j.base]; dup {
		mu.Unlock()
		return fail(usageError{fmt.Sprintf("file name %q is already used by line %d", j.base, other)})
	}
	bases[j.base] = row.line
	mu.Unlock()
	if e, ok := state.complete(dir, j.key); ok {
		o.Status, o.File, o.Size, o.SHA256, o.MediaType = "skipped", filepath.Join(dir, e.File), e.Size, e.SHA256, e.MediaType
		return o, nil
	}
	tj := *t
	tj.Progress = func(p client.Progress) { ui.fileProgress(row.line, j.base, p) }
	save := tj.SaveFile
	if j.serverName {
		save = tj.SaveFileServerNamed
	}
	res, err := save(ctx, j.src, dir, j.base)
	if err != nil {
		return fail(err)
	}
	o.Status, o.File, o.Size, o.SHA256, o.MediaType, o.Resumed = "downloaded", res.Path, res.Size, res.SHA256, res.MediaType, res.Resumed
	state.add(stateEntry{Key: j.key, File: filepath.Base(res.Path), Size: res.Size, SHA256: res.SHA256, MediaType: res.MediaType})
	return o, nil
}

func kindName(k error) string {
	switch k {
	case client.ErrUnauthenticated:
		return "unauthenticated"
	case client.ErrForbidden:
		return "forbidden"
	case client.ErrNotFound:
		return "not_found"
	case client.ErrInvalid:
		return "invalid"
	}
	return "server"
}

func describeRow(f map[string]string) string {
	var parts []string
	for _, k := range []string{"id", "campaign", "crtobjectid", "callid", "hwfilename", "workno", "format", "channels"} {
		if v := f[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// newProtoGetter signs the protocol client in with the stored session,
// arranges renewal when RECVAULT_PASSWORD is set (saving the new session),
// and starts the keep-alive of protocols that have one.
func newProtoGetter(ctx context.Context, proto string, t *client.Transfer, store *sessionStore, ss storedSession, verbose io.Writer) *protoGetter {
	password := os.Getenv("RECVAULT_PASSWORD")
	save := func(token string) {
		ss.Token = token
		if err := store.put(ss); err != nil && verbose != nil {
			fmt.Fprintf(verbose, "saving the renewed session: %v\n", err)
		}
	}
	logErr := func(err error) {
		if verbose != nil {
			fmt.Fprintf(verbose, "keep-alive: %v\n", err)
		}
	}
	g := &protoGetter{stop: func() {}}
	switch proto {
	case "v1":
		c := v1client.New(ss.Server, t)
		c.SetToken(ss.Token)
		if password != "" {
			c.SetCredentials(ss.User, password)
		}
		c.OnRenew = save
		g.resolve = func(f map[string]string) (job, error) {
			if f["id"] == "" {
				return job{}, errors.New("id is required")
			}
			r := v1client.Request{ID: f["id"], Format: f["format"], Channels: f["channels"]}
			// The server names the file (<crtObjectId>.<ext>) as a browser
			// would save it; --name or a name column overrides.
			return job{key: "v1 " + describeRow(f), base: baseName(f["name"], r.ID, r.Format, r.Channels), src: c.Source(r),
				serverName: f["name"] == ""}, nil
		}
	case "ameyo":
		c := ameyoclient.New(ss.Server, t)
		c.SetSession(ss.Token)
		if password != "" {
			c.SetCredentials(ss.User, password)
		}
		c.OnRenew = save
		g.stop = c.KeepAliveEvery(ctx, time.Minute, logErr)
		g.resolve = func(f map[string]string) (job, error) {
			campaign, err := strconv.ParseInt(f["campaign"], 10, 64)
			if err != nil || campaign <= 0 {
				return job{}, errors.New("campaign must be a positive integer")
			}
			if f["crtobjectid"] == "" || f["callid"] == "" {
				return job{}, errors.New("crtObjectId and callId are required")
			}
			if f["format"] == "" {
				f["format"] = "mp3"
			}
			r := ameyoclient.Request{CampaignID: campaign, CRTObjectID: f["crtobjectid"], CallID: f["callid"], Format: f["format"]}
			return job{key: "ameyo " + describeRow(f), base: baseName(f["name"], r.CRTObjectID), src: c.Source(r)}, nil
		}
	case "ccgw":
		c := ccgwclient.New(ss.Server, t)
		c.SetSession(ss.User, ss.Token)
		if password != "" {
			c.SetCredentials(ss.User, password, ss.Phone)
		}
		c.OnGUID = save
		g.stop = c.KeepAlive(ctx, 5*time.Second, logErr)
		g.resolve = func(f map[string]string) (job, error) {
			if f["callid"] == "" {
				return job{}, errors.New("callId is required")
			}
			r := ccgwclient.Request{CallID: f["callid"], HWFileName: f["hwfilename"], WorkNo: f["workno"]}
			video := ""
			if r.HWFileName != "" {
				b := path.Base(strings.ReplaceAll(r.HWFileName, `\`, "/"))
				video = strings.TrimSuffix(b, path.Ext(b))
			}
			return job{key: "ccgw " + describeRow(f), base: baseName(f["name"], r.CallID, video), src: c.Source(r)}, nil
		}
	}
	return g
}

// baseName is the explicit name, else the parts that identify the
// recording joined with '-', made safe for a file system.
func baseName(explicit string, parts ...string) string {
	if explicit != "" {
		return client.SafeName(explicit)
	}
	var p []string
	for _, s := range parts {
		if s != "" {
			p = append(p, s)
		}
	}
	n := client.SafeName(strings.Join(p, "-"))
	if n == "" {
		n = "recording"
	}
	return n
}

// readGetManifest reads a CSV manifest with a header row. Rows get the
// flag values for the fields they leave empty; a malformed line becomes a
// row that fails with why.
func readGetManifest(p, proto string, defaults map[string]string) ([]getRow, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header, lines, err := readCSVLines(f)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, k := range getFields[proto] {
		known[k] = true
	}
	cols := make([]string, len(header))
	anyKnown := false
	for i, h := range header {
		c := canonField(h)
		if known[c] {
			cols[i] = c
			anyKnown = true
		}
	}
	if !anyKnown {
		return nil, fmt.Errorf("manifest: the header names none of the %s columns: %s", proto, manifestHelp[proto])
	}
	rows := make([]getRow, 0, len(lines))
	for _, l := range lines {
		row := getRow{line: l.line, fields: map[string]string{}, err: l.err}
		for k, v := range defaults {
			row.fields[k] = v
		}
		for i, v := range l.fields {
			if cols[i] != "" && strings.TrimSpace(v) != "" {
				row.fields[cols[i]] = strings.TrimSpace(v)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// stateEntry records a completed download in the state file.
type stateEntry struct {
	Key       string `json:"key"`
	File      string `json:"file"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	MediaType string `json:"mediaType,omitempty"`
}

type stateLog struct {
	mu      sync.Mutex
	f       *os.File
	entries map[string]stateEntry
	err     error // the first failed write
}

func openState(dir string) (*stateLog, error) {
	p := filepath.Join(dir, stateFile)
	s := &stateLog{entries: map[string]stateEntry{}}
	if f, err := os.Open(p); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			var e stateEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Key != "" {
				s.entries[e.Key] = e // a torn last line is skipped
			}
		}
		f.Close()
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	s.f = f
	return s, nil
}

// complete reports whether key was downloaded before and its file is
// still whole: same size and SHA-256 as recorded.
func (s *stateLog) complete(dir, key string) (stateEntry, bool) {
	if s == nil {
		return stateEntry{}, false
	}
	s.mu.Lock()
	e, ok := s.entries[key]
	s.mu.Unlock()
	if !ok || e.File != filepath.Base(e.File) {
		return e, false
	}
	f, err := os.Open(filepath.Join(dir, e.File))
	if err != nil {
		return e, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != e.Size {
		return e, false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return e, false
	}
	return e, true
}

// add records a completed download; a nil log (a single download) keeps
// nothing. A failed write costs only the skip on a later run.
func (s *stateLog) add(e stateEntry) {
	if s == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return // strings and numbers always marshal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[e.Key] = e
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		s.err = err
	}
}

// close closes the log, reporting a write that failed.
func (s *stateLog) close() error {
	if s == nil {
		return nil
	}
	return errors.Join(s.err, s.f.Close())
}

// removeEmptyRun removes the folder a run made and put nothing in (its
// state file aside). A folder that holds something else, such as a
// partial download kept to resume, stays.
func removeEmptyRun(dir string, hasState bool, stderr io.Writer) {
	if hasState {
		if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) &&
		!errors.Is(err, syscall.EEXIST) {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newReporter returns a function writing one report line per outcome, and
// one closing the report.
func newReporter(p string, stdout io.Writer) (func(outcome), func() error, error) {
	var w io.Writer = stdout
	var f *os.File
	if p != "" {
		var err error
		if f, err = os.Create(p); err != nil {
			return nil, nil, err
		}
		w = f
	}
	var mu sync.Mutex
	closeFn := func() error {
		if f != nil {
			return f.Close()
		}
		return nil
	}
	if strings.EqualFold(filepath.Ext(p), ".csv") {
		cw := csv.NewWriter(w)
		cw.Write(reportColumns)
		cw.Flush()
		return func(o outcome) {
				mu.Lock()
				defer mu.Unlock()
				cw.Write(o.csv())
				cw.Flush()
			}, func() error {
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				return closeFn()
			}, nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(o outcome) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(o)
	}, closeFn, nil
}

// progressUI shows progress on stderr: bars (multiBar: a line per file in
// flight, and one for the batch with --manifest), JSON lines, or nothing.
// Report lines go through done, which prints them above the bars.
type progressUI struct {
	mode   string
	w      io.Writer
	total  int
	single bool

	mu    sync.Mutex
	multi *multiBar
	last  map[int]time.Time
	done  int
}

func (u *progressUI) json(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		return // maps of strings and numbers always marshal
	}
	u.w.Write(append(b, '\n'))
}

func (u *progressUI) fileProgress(line int, name string, p client.Progress) {
	if u.mode == "none" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.mode {
	case "json":
		// At most four lines a second per file, plus the last.
		if now := time.Now(); now.Sub(u.last[line]) >= 250*time.Millisecond || p.Done == p.Total {
			u.last[line] = now
			u.json(map[string]any{"event": "progress", "line": line, "file": name, "bytes": p.Done, "total": p.Total})
		}
	case "bar":
		u.bars().update(line, name, p.Done, p.Total)
	}
}

func (u *progressUI) bars() *multiBar {
	if u.multi == nil {
		total := u.total
		if u.single {
			total = 0 // no batch line for one file
		}
		u.multi = newMultiBar(u.w, total)
	}
	return u.multi
}

// fileDone reports o (with report, which may write to the same terminal)
// and counts it.
func (u *progressUI) fileDone(o outcome, report func(outcome)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done++
	switch u.mode {
	case "json":
		report(o)
		u.json(map[string]any{"event": "file", "line": o.Line, "status": o.Status, "file": o.File,
			"done": u.done, "of": u.total})
	case "bar":
		m := u.bars()
		m.above(func() {
			delete(m.active, o.Line)
			report(o)
		})
		if !u.single {
			m.fileDone(o.Line)
		}
	default:
		report(o)
	}
}

func (u *progressUI) finish(downloaded, skipped, failed int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.mode {
	case "json":
		u.json(map[string]any{"event": "batch", "downloaded": downloaded, "skipped": skipped, "failed": failed, "of": u.total})
	case "bar":
		if u.multi != nil {
			u.multi.finish()
		}
	}
}
