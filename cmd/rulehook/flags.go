package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelpShown is returned by a command whose -h or --help printed its usage: run answers nil,
// and the process exits 0.
var errHelpShown = errors.New("help shown")

// newFlagSet returns the flag set of command name. Its usage (printed on -h or --help, to stdout)
// names the command, says what it does, lists the flags and then extra, e.g. the environment the
// command reads. The flag package prints nothing itself: a bad flag is reported once, by run.
func newFlagSet(env *environment, name string, extra ...string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.SetOutput(io.Discard)
	fs.FlagSet.Usage = func() {} // the flag package calls it on errors too; parseFlags prints
	fs.usage = func() { printCommandUsage(env.stdout, fs.FlagSet, strings.Join(extra, "\n")) }
	return fs
}

// flagSet is a command's flags and the usage its -h prints.
type flagSet struct {
	*flag.FlagSet
	usage func()
}

// parseFlags parses args into fs. It returns errHelpShown after -h or --help (the usage is
// printed), and a usage error (exit 2) for a bad flag or an argument the command does not take.
func parseFlags(fs *flagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.usage()
		return errHelpShown
	case err != nil:
		return usageErrorf("%s: %v (see `rulehook %s -h`)", fs.Name(), err, fs.Name())
	case fs.NArg() > 0:
		return usageErrorf("%s: unexpected argument %q (see `rulehook %s -h`)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

func printCommandUsage(w io.Writer, fs *flag.FlagSet, extra string) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: rulehook %s", fs.Name())
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString(" [flags]")
	}
	fmt.Fprintf(&b, "\n\n%s\n", summaryOf(fs.Name()))
	if n > 0 {
		b.WriteString("\nflags:\n")
		fs.VisitAll(func(f *flag.Flag) { writeFlag(&b, f) })
	}
	if extra != "" {
		b.WriteString("\n" + extra + "\n")
	}
	io.WriteString(w, b.String())
}

// writeFlag prints one flag as `--name type` and its usage text as written: unlike
// flag.PrintDefaults, a `quoted` word in the text is not taken for the value's name.
func writeFlag(b *strings.Builder, f *flag.Flag) {
	fmt.Fprintf(b, "  --%s", f.Name)
	if t := valueType(f); t != "" {
		b.WriteString(" " + t)
	}
	fmt.Fprintf(b, "\n        %s", f.Usage)
	switch {
	case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
	case valueType(f) == "string":
		fmt.Fprintf(b, " (default %q)", f.DefValue)
	default:
		fmt.Fprintf(b, " (default %s)", f.DefValue)
	}
	b.WriteString("\n")
}

// valueType names the kind of value a flag takes; "" for a boolean switch.
func valueType(f *flag.Flag) string {
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		return ""
	}
	t := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", f.Value), "*flag."), "Value")
	switch t {
	case "int", "int64", "uint", "uint64":
		return "n"
	case "float64":
		return "number"
	case "string", "duration":
		return t
	}
	return "value"
}

func summaryOf(name string) string {
	for _, c := range commands() {
		if c.name == name {
			return c.summary
		}
	}
	return ""
}

// envTable formats variables as the usage's environment section.
func envTable(title string, vars []envVar) string {
	var b strings.Builder
	b.WriteString(title + ":")
	for _, v := range vars {
		fmt.Fprintf(&b, "\n  %-26s %s", v.name, v.meaning)
		if v.def != "" {
			fmt.Fprintf(&b, " (default %s)", v.def)
		}
	}
	return b.String()
}
