package main

import (
	"context"
	"io"
	"slices"
	"strings"
)

// command is one entry of the command table. The top-level usage, each
// command's -h, the subcommand check and the shell completion scripts are
// all made from this table, so they cannot disagree.
type command struct {
	name string
	// synopsis is the command's usage lines, without the "Usage:" heading.
	synopsis string
	// subs are the subcommands (or protocols) the command wants first.
	subs []string
	// optionalSub: the first argument may also be a flag (logout).
	optionalSub bool
	run         func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands is filled in init: the completion command reads the table
// itself, which a plain initialiser would make a cycle.
var commands []*command

func init() {
	noIn := func(f func(context.Context, []string, io.Writer, io.Writer) error) func(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
		return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return f(ctx, args, stdout, stderr)
		}
	}
	commands = []*command{
		{name: "serve", run: noIn(cmdServe),
			synopsis: "recvault serve  [--data DIR] [--addr HOST:PORT] [--demo] [--tls-cert F --tls-key F]"},
		{name: "init", run: noIn(cmdInit),
			synopsis: "recvault init [--data DIR]             create a new, empty data directory"},
		{name: "user", subs: []string{"add", "list", "disable", "enable", "passwd"}, run: cmdUser,
			synopsis: "recvault user add --data DIR --login NAME --role agent|supervisor|inspector|admin\n" +
				"                  [--agent-id ID] [--campaign N]... [--inspects AGENT_ID]...\n" +
				"recvault user list|disable|enable|passwd --data DIR [--login NAME]"},
		{name: "ingest", run: cmdIngest,
			synopsis: "recvault ingest --data DIR --campaign N --crt-object-id ID --call-id ID --agent ID\n" +
				"                [--kind voice|video] [--original-path P] [--codec alaw|ulaw]\n" +
				"                [--started-at RFC3339] [--agent-channel 0|1] FILE|-"},
		{name: "import", run: func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			return cmdImport(ctx, args, stdout, stderr)
		}, synopsis: "recvault import --data DIR --manifest FILE [--progress auto|bar|none]"},
		{name: "login", subs: protocols, run: cmdLogin,
			synopsis: "recvault login ameyo|ccgw|v1 --server URL --user NAME [--force] [--cacert F] [--insecure]"},
		{name: "logout", subs: protocols, optionalSub: true, run: noIn(cmdLogout),
			synopsis: "recvault logout [ameyo|ccgw|v1] [--server URL]"},
		{name: "get", subs: protocols, run: cmdGet,
			synopsis: "recvault get v1 --id ID [--format wav] -o DIR\n" +
				"recvault get ameyo --campaign N --crt-object-id ID --call-id ID [--format mp3] -o DIR\n" +
				"recvault get ccgw [--agent N] --call-id ID [--hw-file-name PATH] [--work-no N] -o DIR\n" +
				"recvault get ameyo|ccgw|v1 --manifest calls.csv [--parallel 8] [--report FILE] -o DIR\n" +
				"                [--progress auto|json|bar|none] [--cacert F] [--insecure] [--timeout D] [-v]"},
		{name: "apikey", subs: []string{"add", "list", "revoke"}, run: noIn(cmdAPIKey),
			synopsis: "recvault apikey add --data DIR --name N --role R [--campaign N]... [--host H]...\n" +
				"recvault apikey list|revoke --data DIR [--name N]"},
		{name: "audit", subs: []string{"verify", "export"}, run: noIn(cmdAudit),
			synopsis: "recvault audit verify [--checkpoint FILE]... [--data DIR]\n" +
				"recvault audit export [--since T] [--until T] [--recording ID] [--actor LOGIN] [--format jsonl|csv] [--data DIR]"},
		{name: "retention", subs: []string{"set", "clear", "list"}, run: noIn(cmdRetention),
			synopsis: "recvault retention set (--campaign N | --default) --days D [--data DIR]\n" +
				"recvault retention clear (--campaign N | --default) | retention list [--data DIR]"},
		{name: "hold", subs: []string{"add", "remove", "list"}, run: noIn(cmdHold),
			synopsis: "recvault hold add (--campaign N | --call-id ID | --recording ID) --reason TEXT [--data DIR]\n" +
				"recvault hold remove (--campaign N | --call-id ID | --recording ID) | hold list [--data DIR]"},
		{name: "delete", run: noIn(cmdDelete), synopsis: "recvault delete --recording ID --reason TEXT [--data DIR]"},
		{name: "deleted", run: noIn(cmdDeleted), synopsis: "recvault deleted [--limit N] [--data DIR]"},
		{name: "purge", run: noIn(cmdPurge), synopsis: "recvault purge [--dry-run] [--data DIR]"},
		{name: "scrub", run: noIn(cmdScrub), synopsis: "recvault scrub [--rate MB/s] [--data DIR]"},
		{name: "migrate-blobs", run: noIn(cmdMigrateBlobs),
			synopsis: "recvault migrate-blobs [--rate MB/s] [--encryption-key-file F] [--data DIR]"},
		{name: "keys", subs: []string{"generate", "rotate"}, run: noIn(cmdKeys),
			synopsis: "recvault keys generate FILE\n" +
				"recvault keys rotate --encryption-key-file OLD --new-key-file NEW [--data DIR]"},
		{name: "version", run: noIn(cmdVersion), synopsis: "recvault version | recvault --version"},
		{name: "healthcheck", run: noIn(cmdHealthcheck),
			synopsis: "recvault healthcheck [--url http://127.0.0.1:8080/healthz] [--timeout 3s]   exit 0 when the server is alive"},
		{name: "completion", subs: []string{"bash", "zsh"}, run: noIn(cmdCompletion),
			synopsis: "recvault completion bash|zsh          print a shell completion script"},
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// topUsage lists every command.
func topUsage() string {
	var b strings.Builder
	b.WriteString("recvault — call-recording vault\n\nUsage:\n")
	for _, c := range commands {
		for _, l := range strings.Split(c.synopsis, "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("\nPasswords come from the RECVAULT_PASSWORD environment variable, else a prompt.\n" +
		"Run \"recvault COMMAND -h\" for a command's flags.\n")
	return b.String()
}

// commandUsage is the usage of one command (path[0]) or subcommand: its
// synopsis lines, those naming the subcommand when there are such.
func commandUsage(path []string) string {
	c := lookupCommand(path[0])
	if c == nil {
		return topUsage()
	}
	lines := strings.Split(c.synopsis, "\n")
	if len(path) > 1 {
		var mine []string
		keep := false
		for _, l := range lines {
			if strings.HasPrefix(l, "recvault ") {
				f := strings.Fields(l)
				keep = len(f) > 2 && slices.Contains(strings.Split(f[2], "|"), path[1])
			}
			if keep {
				mine = append(mine, l)
			}
		}
		if len(mine) > 0 {
			lines = mine
		}
	}
	var b strings.Builder
	b.WriteString("Usage:\n")
	if len(path) > 1 && !strings.HasPrefix(lines[0], "recvault "+path[0]+" "+path[1]+" ") {
		b.WriteString("  recvault " + path[0] + " " + path[1] + " [flags]\n")
	}
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// dispatch checks the subcommand against the table and runs the command:
// "CMD -h" lists the subcommands, an unknown one is a usage error naming
// the valid ones.
func (c *command) dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(c.subs) > 0 {
		switch {
		case len(args) == 0 && !c.optionalSub:
			return usagef("%s wants a subcommand: %s", c.name, strings.Join(c.subs, ", "))
		case len(args) > 0 && isHelp(args[0]):
			return helpText(commandUsage([]string{c.name}) + "\nSubcommands: " + strings.Join(c.subs, ", ") +
				"\nRun \"recvault " + c.name + " SUBCOMMAND -h\" for its flags.\n")
		case len(args) > 0 && !strings.HasPrefix(args[0], "-") && !slices.Contains(c.subs, args[0]):
			return usagef("unknown %s subcommand %q; valid: %s", c.name, args[0], strings.Join(c.subs, ", "))
		}
	}
	return c.run(ctx, args, stdin, stdout, stderr)
}

// commandPath is the command and, when valid, its subcommand: what to run
// with -h after a usage error.
func commandPath(args []string) string {
	c := lookupCommand(args[0])
	if c != nil && len(args) > 1 && slices.Contains(c.subs, args[1]) {
		return args[0] + " " + args[1]
	}
	return args[0]
}

// helpText is a usage asked for with -h: printed on stdout, exit 0.
type helpText string

func (h helpText) Error() string { return string(h) }
