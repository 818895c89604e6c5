package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// cmdCompletion prints a bash or zsh completion script. The commands and
// subcommands come from the command table, the flags from each command's
// own -h: the script completes exactly what the help describes.
func cmdCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion "+args[0], stderr)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	t := completionTable(ctx)
	switch args[0] {
	case "bash":
		_, err = io.WriteString(stdout, bashCompletion(t))
	case "zsh":
		_, err = io.WriteString(stdout, zshCompletion(t))
	}
	if err != nil {
		return fmt.Errorf("write completion script: %w", err)
	}
	return nil
}

// compEntry is one command (or "command sub") and its flags.
type compEntry struct {
	cmd  *command
	subs map[string][]string // sub → flags; "" for a command without subs
}

var flagLine = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][-A-Za-z0-9]*)`)

// flagsOf runs a command with -h (it parses flags before doing anything)
// and reads the flag names off its usage.
func flagsOf(ctx context.Context, args []string) []string {
	var out, errb strings.Builder
	run(ctx, append(args, "-h"), strings.NewReader(""), &out, &errb)
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		flags = append(flags, "--"+m[1])
	}
	sort.Strings(flags)
	return flags
}

func completionTable(ctx context.Context) []compEntry {
	var t []compEntry
	for _, c := range commands {
		e := compEntry{cmd: c, subs: map[string][]string{}}
		if c.name == "completion" {
			t = append(t, e)
			continue
		}
		if len(c.subs) == 0 || c.optionalSub {
			e.subs[""] = flagsOf(ctx, []string{c.name})
		}
		for _, s := range c.subs {
			e.subs[s] = flagsOf(ctx, []string{c.name, s})
		}
		t = append(t, e)
	}
	return t
}

func commandNames(t []compEntry) string {
	names := make([]string, len(t))
	for i, e := range t {
		names[i] = e.cmd.name
	}
	return strings.Join(names, " ")
}

func bashCompletion(t []compEntry) string {
	var b strings.Builder
	b.WriteString(`# bash completion for recvault; load with: source <(recvault completion bash)
_recvault() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]} flags=""
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "` + commandNames(t) + `" -- "$cur"))
        return
    fi
    case "$cmd" in
`)
	for _, e := range t {
		fmt.Fprintf(&b, "    %s)\n", e.cmd.name)
		if len(e.cmd.subs) > 0 {
			fmt.Fprintf(&b, "        if [[ $COMP_CWORD -eq 2 ]]; then\n            COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(e.cmd.subs, " "))
			if f, ok := e.subs[""]; ok {
				fmt.Fprintf(&b, "            [[ $cur == -* ]] && COMPREPLY=($(compgen -W %q -- \"$cur\"))\n", strings.Join(f, " "))
			}
			b.WriteString("            return\n        fi\n        case \"$sub\" in\n")
			for _, s := range e.cmd.subs {
				fmt.Fprintf(&b, "        %s) flags=%q ;;\n", s, strings.Join(e.subs[s], " "))
			}
			if f, ok := e.subs[""]; ok {
				fmt.Fprintf(&b, "        *) flags=%q ;;\n", strings.Join(f, " "))
			}
			b.WriteString("        esac\n")
		} else {
			fmt.Fprintf(&b, "        flags=%q\n", strings.Join(e.subs[""], " "))
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _recvault recvault
`)
	return b.String()
}

func zshCompletion(t []compEntry) string {
	var b strings.Builder
	b.WriteString(`#compdef recvault
# zsh completion for recvault; put it in $fpath as _recvault, or: source <(recvault completion zsh)
_recvault() {
    local -a flags
    if (( CURRENT == 2 )); then
        compadd -- ` + commandNames(t) + `
        return
    fi
    case $words[2] in
`)
	for _, e := range t {
		fmt.Fprintf(&b, "    %s)\n", e.cmd.name)
		if len(e.cmd.subs) > 0 {
			fmt.Fprintf(&b, "        if (( CURRENT == 3 )) && [[ $PREFIX != -* ]]; then\n            compadd -- %s\n            return\n        fi\n", strings.Join(e.cmd.subs, " "))
			b.WriteString("        case $words[3] in\n")
			for _, s := range e.cmd.subs {
				fmt.Fprintf(&b, "        %s) flags=(%s) ;;\n", s, strings.Join(e.subs[s], " "))
			}
			if f, ok := e.subs[""]; ok {
				fmt.Fprintf(&b, "        *) flags=(%s) ;;\n", strings.Join(f, " "))
			}
			b.WriteString("        esac\n")
		} else {
			fmt.Fprintf(&b, "        flags=(%s)\n", strings.Join(e.subs[""], " "))
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    esac
    if [[ $PREFIX == -* ]]; then
        compadd -- $flags
    else
        _files
    fi
}
if [[ $funcstack[1] == _recvault ]]; then
    _recvault "$@"
else
    compdef _recvault recvault
fi
`)
	return b.String()
}
