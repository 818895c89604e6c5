package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recvault/recvault"
)

// cmdAPIKey manages API keys: add (the secret is printed once), list, revoke.
func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("apikey wants a subcommand: add, list, revoke")
	}
	sub := args[0]
	fs := newFlagSet("apikey "+sub, stderr)
	stores := addStoreFlags(fs)
	name := fs.String("name", "", "key name, e.g. archiver")
	role := fs.String("role", "", "agent, supervisor, inspector or admin")
	agentID := fs.String("agent-id", "", "work number the key acts as (role agent)")
	var campaigns, hosts, inspects multiFlag
	fs.Var(&campaigns, "campaign", "campaign the key may read (repeatable)")
	fs.Var(&hosts, "host", "requesting host the key may be used from (repeatable; none = any)")
	fs.Var(&inspects, "inspects", "agent id the key inspects (role inspector, repeatable)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "add":
		if *name == "" {
			return usagef("--name is required")
		}
		cs, err := int64s(campaigns, "campaign")
		if err != nil {
			return err
		}
		k := &recvault.APIKey{Name: *name, Role: recvault.Role(*role), AgentID: *agentID, Campaigns: cs, Hosts: hosts, Inspects: inspects}
		secret, err := a.svc.CreateAPIKey(ctx, k)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s (%s) created. Its secret is shown this once:\n%s\n", k.Name, k.Role, secret)
	case "revoke":
		if *name == "" {
			return usagef("--name is required")
		}
		if err := a.svc.RevokeAPIKey(ctx, *name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s revoked\n", *name)
	case "list":
		keys, err := a.svc.APIKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCAMPAIGNS\tHOSTS\tCREATED\tLAST USED\tSTATE")
		for _, k := range keys {
			cs := make([]string, len(k.Campaigns))
			for i, c := range k.Campaigns {
				cs[i] = fmt.Sprint(c)
			}
			state, used := "active", "never"
			if k.Revoked {
				state = "revoked"
			}
			if !k.LastUsed.IsZero() {
				used = k.LastUsed.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Name, k.Role, dash(strings.Join(cs, ",")),
				dash(strings.Join(k.Hosts, ",")), k.CreatedAt.Format(time.RFC3339), used, state)
		}
		return tw.Flush()
	default:
		return usagef("unknown apikey subcommand %q (add, list, revoke)", sub)
	}
	return nil
}
