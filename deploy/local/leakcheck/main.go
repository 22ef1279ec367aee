// Command leakcheck scans captured process output for customer PII and
// configuration secrets, from outside the test suite:
//
//	E2E_LOG_DIR=/tmp/e2e-logs go test ./internal/e2e/ -run TestX
//	go run ./deploy/local/leakcheck /tmp/e2e-logs
//
// It reads every file under each directory given and reports, as
// file:line, every URL with a password that is not masked, every e-mail
// address, every phone number in the demo data's
// formats (+506 8123 4567, +50681234567, +506-8123-4567), every API key
// (rk_<prefix>_<secret>) and every password of the configuration: the
// passwords in DATABASE_URL, SOURCE_DATABASE_URL, REDIS_URL and
// ELASTICSEARCH_URL, REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD, and each
// value of --secret. Matches are printed redacted. It exits 1 when it
// found anything, 2 on a usage error, 0 when the output is clean.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/reactivation/reactivation/internal/redact"
)

// patterns are the kinds of leak recognised by their shape.
var patterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"e-mail address", regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)},
	{"phone number", regexp.MustCompile(`\+506[ \-]?[0-9]{4}[ \-]?[0-9]{4}`)},
	{"API key", regexp.MustCompile(`rk_[A-Za-z0-9]{6}_[A-Za-z0-9]{8,}`)},
}

// userinfo is the user:password@ of a URL; a password that is not the
// redaction mask is a leak whatever it is, and an address's user info is
// no e-mail address.
var userinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://([^\s/:@"']*):([^\s/@"']*)@`)

// commonWords are passwords of development setups that the programs' own
// output uses as names; such a secret is only looked for as a URL's
// password.
var commonWords = []string{"reactivation", "postgres", "redis", "admin", "password", "secret"}

// secretVariables hold passwords themselves; urlVariables hold URLs whose
// user info may carry one.
var (
	secretVariables = []string{"REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"}
	urlVariables    = []string{"DATABASE_URL", "SOURCE_DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL"}
)

// secret is a literal value that must never appear, and where it came from.
type secret struct{ name, value string }

// weak reports whether s is too common a word to look for as it is: it is
// then looked for only as a URL's password.
func (s secret) weak(names ...string) bool {
	return len(s.value) < 6 || slices.Contains(commonWords, strings.ToLower(s.value)) || slices.Contains(names, s.value)
}

// finding is one leak.
type finding struct {
	file string
	line int
	kind string
	text string // redacted
}

type secretFlags []string

func (s *secretFlags) String() string     { return strings.Join(*s, ",") }
func (s *secretFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("leakcheck", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var extra secretFlags
	fl.Var(&extra, "secret", "a further secret that must not appear (repeatable)")
	allow := fl.String("allow", "", "a regular expression of matches to accept (e.g. the address of a fixture that is no customer's)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakcheck [--secret VALUE]... [--allow REGEXP] DIR...")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() == 0 {
		fmt.Fprintln(stderr, "leakcheck: name at least one directory of captured output")
		return 2
	}
	var allowed *regexp.Regexp
	if *allow != "" {
		re, err := regexp.Compile(*allow)
		if err != nil {
			fmt.Fprintf(stderr, "leakcheck: --allow: %v\n", err)
			return 2
		}
		allowed = re
	}
	secrets, weak := configSecrets(getenv)
	if len(weak) > 0 {
		fmt.Fprintf(stderr, "leakcheck: %s: too common a word to look for; only as a URL's password\n", strings.Join(weak, ", "))
	}
	for i, v := range extra {
		secrets = append(secrets, secret{fmt.Sprintf("--secret #%d", i+1), v})
	}
	var found []finding
	files := 0
	for _, dir := range fl.Args() {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			f, err := scanFile(path, secrets, allowed)
			found = append(found, f...)
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "leakcheck: %v\n", err)
			return 2
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].file != found[j].file {
			return found[i].file < found[j].file
		}
		return found[i].line < found[j].line
	})
	for _, f := range found {
		fmt.Fprintf(stdout, "%s:%d: %s: %s\n", f.file, f.line, f.kind, f.text)
	}
	if len(found) > 0 {
		fmt.Fprintf(stderr, "leakcheck: %d leaks in %d files read\n", len(found), files)
		return 1
	}
	fmt.Fprintf(stderr, "leakcheck: %d files read, no e-mail, phone, API key or configured secret found (%d secrets checked)\n", files, len(secrets))
	return 0
}

// configSecrets reads the passwords of the configuration from the
// environment the processes ran with. Those too common to look for as
// they are (a development setup's "reactivation") are named in weak: any
// URL's unmasked password is reported anyway.
func configSecrets(getenv func(string) string) (out []secret, weak []string) {
	for _, name := range secretVariables {
		if v := getenv(name); v != "" {
			s := secret{name, v}
			if s.weak() {
				weak = append(weak, name)
				continue
			}
			out = append(out, s)
		}
	}
	for _, name := range urlVariables {
		u, err := url.Parse(getenv(name))
		if err != nil || u.User == nil {
			continue
		}
		if p, ok := u.User.Password(); ok && p != "" {
			s := secret{"the password of " + name, p}
			if s.weak(u.User.Username(), strings.TrimPrefix(u.Path, "/")) {
				weak = append(weak, s.name)
				continue
			}
			out = append(out, s)
		}
	}
	return out, weak
}

func scanFile(path string, secrets []secret, allowed *regexp.Regexp) ([]finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []finding
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		for _, m := range userinfo.FindAllStringSubmatch(line, -1) {
			if m[2] != redact.Mask {
				out = append(out, finding{path, n, "password in a URL", redact.URL(m[0])})
			}
		}
		line = userinfo.ReplaceAllString(line, "//")
		for _, p := range patterns {
			for _, m := range p.re.FindAllString(line, -1) {
				if allowed == nil || !allowed.MatchString(m) {
					out = append(out, finding{path, n, p.kind, hide(m)})
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(line, s.value) {
				out = append(out, finding{path, n, s.name, hide(s.value)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// hide keeps enough of a match to find it again, never the match: its
// first two characters and its length.
func hide(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return fmt.Sprintf("*** (%d characters)", len(r))
	}
	return fmt.Sprintf("%s*** (%d characters)", string(r[:2]), len(r))
}
