package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/vault"
)

// The retention commands: policies (retention), legal holds (hold),
// deletion (delete), the tombstones of deleted recordings (deleted) and
// the purge of recordings past retention (purge). Every one works on the
// data like the other operator commands (--data, --catalog, --blobs) and
// is audited as "cli".

// subcommand splits off a command's subcommand, answering -h without one.
func subcommand(name string, args []string, subs string, stderr io.Writer) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, usagef("%s wants a subcommand: %s", name, subs)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: recvault %s %s [flags]; run \"recvault %s SUBCOMMAND -h\" for the flags\n", name, subs, name)
		return "", nil, flag.ErrHelp
	}
	return args[0], args[1:], nil
}

// cmdRetention sets, clears and lists retention policies.
func cmdRetention(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("retention", args, "set|clear|list", stderr)
	if err != nil {
		return err
	}
	fs := newFlagSet("retention "+sub, stderr)
	stores := addStoreFlags(fs)
	campaign := fs.Int64("campaign", 0, "campaign the policy is for")
	def := fs.Bool("default", false, "the default policy, for campaigns without one")
	days := fs.Int("days", 0, "keep recordings this many days after they started (set; 1 or more)")
	if _, err := parseFlags(fs, rest); err != nil {
		return err
	}
	if sub != "list" {
		if (*campaign > 0) == *def || *campaign < 0 {
			return usagef("name one of --campaign N (a positive integer) or --default")
		}
	}
	if sub == "set" && *days < 1 {
		return usagef("--days must be 1 or more")
	}
	if sub != "set" && sub != "clear" && sub != "list" {
		return usagef("unknown retention subcommand %q (set, clear, list)", sub)
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "set":
		if err := a.svc.SetRetention(ctx, *campaign, *days); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retention of %s set to %d days\n", policyName(*campaign), *days)
	case "clear":
		if err := a.svc.ClearRetention(ctx, *campaign); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retention of %s cleared\n", policyName(*campaign))
	case "list":
		ps, err := a.svc.Retentions(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CAMPAIGN\tDAYS\tSET BY\tSET AT")
		for _, p := range ps {
			c := "default"
			if p.CampaignID != 0 {
				c = strconv.FormatInt(p.CampaignID, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c, p.Days, p.SetBy, p.SetAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

func policyName(c int64) string {
	if c == 0 {
		return "the default"
	}
	return "campaign " + strconv.FormatInt(c, 10)
}

// cmdHold adds, removes and lists legal holds.
func cmdHold(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("hold", args, "add|remove|list", stderr)
	if err != nil {
		return err
	}
	fs := newFlagSet("hold "+sub, stderr)
	stores := addStoreFlags(fs)
	campaign := fs.Int64("campaign", 0, "hold every recording of this campaign")
	callID := fs.String("call-id", "", "hold every recording of this call")
	recID := fs.String("recording", "", "hold this recording (its id)")
	reason := fs.String("reason", "", "why (add; required), e.g. a case number")
	if _, err := parseFlags(fs, rest); err != nil {
		return err
	}
	sel := recvault.Hold{CampaignID: *campaign, CallID: *callID, RecordingID: *recID}
	switch sub {
	case "add", "remove":
		n := 0
		for _, set := range []bool{*campaign != 0, *callID != "", *recID != ""} {
			if set {
				n++
			}
		}
		if n != 1 || *campaign < 0 {
			return usagef("name exactly one of --campaign N, --call-id ID, --recording ID")
		}
		if sub == "add" && *reason == "" {
			return usagef("--reason is required")
		}
	case "list":
	default:
		return usagef("unknown hold subcommand %q (add, remove, list)", sub)
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "add":
		sel.Reason = *reason
		h, err := a.svc.AddHold(ctx, sel)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "legal hold %d on %s: %s\n", h.ID, selectorText(*h), h.Reason)
	case "remove":
		if err := a.svc.RemoveHold(ctx, sel); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "legal hold on %s removed\n", selectorText(sel))
	case "list":
		hs, err := a.svc.Holds(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tON\tREASON\tBY\tAT")
		for _, h := range hs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", h.ID, selectorText(*h), h.Reason, h.By, h.At.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

func selectorText(h recvault.Hold) string {
	switch {
	case h.CampaignID != 0:
		return "campaign " + strconv.FormatInt(h.CampaignID, 10)
	case h.CallID != "":
		return "call " + h.CallID
	}
	return "recording " + h.RecordingID
}

// cmdDelete destroys one recording (refused while a legal hold covers it).
func cmdDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("delete", stderr)
	stores := addStoreFlags(fs)
	recID := fs.String("recording", "", "the recording's id (required)")
	reason := fs.String("reason", "", "why (required; kept in the tombstone and the audit trail)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *recID == "" || *reason == "" {
		return usagef("--recording and --reason are required")
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.svc.Delete(ctx, nil, *recID, *reason); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recording %s deleted\n", *recID)
	return nil
}

// cmdDeleted lists the tombstones of deleted recordings, newest first.
func cmdDeleted(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("deleted", stderr)
	stores := addStoreFlags(fs)
	limit := fs.Int("limit", 100, "show at most this many (newest first)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > 100000 {
		return usagef("--limit must be from 1 to 100000")
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	ts, err := a.svc.Tombstones(ctx, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDING\tCAMPAIGN\tCRT OBJECT ID\tCALL ID\tSHA-256\tBY\tAT\tSTATE\tREASON")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.RecordingID, t.CampaignID, t.CRTObjectID, t.CallID,
			t.SHA256, t.By, t.At.Format(time.RFC3339), t.State, t.Reason)
	}
	return tw.Flush()
}

// cmdPurge deletes (or with --dry-run lists) the recordings past retention.
func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge", stderr)
	stores := addStoreFlags(fs)
	dry := fs.Bool("dry-run", false, "only list what would be deleted")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.svc.Purge(ctx, *dry)
	if rep != nil {
		printPurge(stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d deletions failed (the next purge retries them)", rep.Failed)
	}
	return nil
}

func printPurge(w io.Writer, rep *vault.PurgeReport) {
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	for _, it := range rep.Items {
		r := it.Recording
		line := fmt.Sprintf("%s %s campaign %d crtObjectId %s callId %s started %s (retention %d days)", verb, r.ID,
			r.CampaignID, r.CRTObjectID, r.CallID, r.StartedAt.Format(time.RFC3339), it.Days)
		if it.Err != nil {
			line = fmt.Sprintf("FAILED %s %s: %s", r.ID, r.CRTObjectID, describe(it.Err))
		}
		fmt.Fprintln(w, line)
	}
	if rep.DryRun {
		fmt.Fprintf(w, "dry run: %d recordings would be deleted\n", len(rep.Items))
		return
	}
	fmt.Fprintf(w, "purge: %d deleted, %d failed, %d interrupted deletions finished\n", rep.Deleted, rep.Failed, rep.Resumed)
}

// purgeLoop runs the purge every interval until ctx ends (serve). Only one
// replica purges at a time (the core's lease); the others skip the round.
// Its audit records are the server's own ("recvault"), not a request's.
func purgeLoop(ctx context.Context, svc *vault.Service, every time.Duration, log *slog.Logger) {
	ctx = vault.WithRequestInfo(ctx, vault.RequestInfo{})
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := svc.SweepLeases(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep expired leases", "err", err)
		} else if n > 0 {
			log.Debug("swept expired leases", "leases", n)
		}
		rep, err := svc.Purge(ctx, false)
		switch {
		case errors.Is(err, vault.ErrPurgeBusy):
			log.Debug("purge skipped: another replica is purging")
		case err != nil && ctx.Err() == nil:
			log.Warn("purge", "err", err)
		case rep != nil && (rep.Deleted+rep.Failed+rep.Resumed > 0):
			log.Info("purge", "deleted", rep.Deleted, "failed", rep.Failed, "resumed", rep.Resumed)
		}
	}
}
