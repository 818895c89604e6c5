package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/recvault/recvault"
)

func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("user wants a subcommand: add, list, disable, enable, passwd")
	}
	sub := args[0]
	fs := newFlagSet("user "+sub, stderr)
	stores := addStoreFlags(fs)
	login := fs.String("login", "", "login name, e.g. supervisor@example.com")
	role := fs.String("role", "", "agent, supervisor, inspector or admin")
	agentID := fs.String("agent-id", "", "the agent's work number (required for agents)")
	var campaigns, inspects multiFlag
	fs.Var(&campaigns, "campaign", "campaign a supervisor is assigned (repeatable)")
	fs.Var(&inspects, "inspects", "agent id an inspector inspects (repeatable)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if sub != "list" && *login == "" {
		return usagef("--login is required")
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "add":
		cs, err := int64s(campaigns, "campaign")
		if err != nil {
			return err
		}
		var ins []string
		for _, v := range inspects {
			ins = append(ins, strings.Split(v, ",")...)
		}
		u := &recvault.User{Login: *login, Role: recvault.Role(*role), AgentID: *agentID, Campaigns: cs, Inspects: ins}
		if err := u.Validate(); err != nil {
			return err
		}
		pw, err := readPassword(stdin, stderr, "password for "+*login+": ")
		if err != nil {
			return err
		}
		if err := a.svc.AddUser(ctx, u, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added (%s)\n", u.Login, u.Role)
	case "passwd":
		pw, err := readPassword(stdin, stderr, "new password for "+*login+": ")
		if err != nil {
			return err
		}
		if err := a.svc.SetPassword(ctx, *login, pw); err != nil {
			return userHint(err, *login)
		}
		fmt.Fprintf(stdout, "password of %s changed; its sessions are revoked\n", *login)
	case "disable", "enable":
		if err := a.svc.SetDisabled(ctx, *login, sub == "disable"); err != nil {
			return userHint(err, *login)
		}
		fmt.Fprintf(stdout, "user %s %sd\n", *login, sub)
	case "list":
		users, err := a.cat.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LOGIN\tROLE\tAGENT ID\tCAMPAIGNS\tINSPECTS\tSTATE")
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			cs := make([]string, len(u.Campaigns))
			for i, c := range u.Campaigns {
				cs[i] = fmt.Sprint(c)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Login, u.Role, dash(u.AgentID), dash(strings.Join(cs, ",")),
				dash(strings.Join(u.Inspects, ",")), state)
		}
		return tw.Flush()
	default:
		return usagef("unknown user subcommand %q (add, list, disable, enable, passwd)", sub)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
