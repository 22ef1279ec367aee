// Package procs starts the real server binaries (api, worker, scheduler)
// for end-to-end tests and the bench, and waits until each is ready
// through the signal the process itself gives: its health endpoint. A
// process's log is never read to decide readiness.
package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reactivation/reactivation/internal/config"
)

// probe is where a binary says it is ready: the variable naming the
// address it serves its probes on, and the path that answers 200 once it
// is ready.
type probe struct{ addrVar, path string }

// probes are the server binaries' readiness signals: the API serves
// /healthz once it accepts requests; a worker's /readyz on its metrics port
// answers 200 once it takes tasks; the scheduler's /healthz once its loop
// runs.
var probes = map[string]probe{
	"api":       {"API_ADDR", "/healthz"},
	"worker":    {"WORKER_METRICS_ADDR", "/readyz"},
	"scheduler": {"SCHEDULER_METRICS_ADDR", "/healthz"},
}

// Options vary one start.
type Options struct {
	// Env overrides the configuration's variables, NAME=value; later
	// entries win.
	Env []string
	// Args are the binary's arguments.
	Args []string
	// Log, if not nil, receives each line the process writes on stderr
	// (its log), in order.
	Log func(line string)
	// Stdout, if not nil, receives what the process writes on stdout.
	Stdout io.Writer
	// Ready is how long the process may take to become ready (default
	// 30 s).
	Ready time.Duration
}

// tailLines is how many of its last log lines a Process keeps for errors.
const tailLines = 30

// attempts is how often Start tries a fresh port when the process exits
// before it is ready (another process took the port in between).
const attempts = 3

// Process is a running server binary. Its methods are safe for concurrent
// use.
type Process struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}

	mu   sync.Mutex
	tail []string
}

// Start runs the binary at path (named api, worker or scheduler) with
// cfg's environment (config.Config.Environ, then o.Env) and returns once
// its health endpoint answers 200 on a free loopback port Start chose. It
// fails when the process exits first (after a few fresh ports), when
// o.Ready passes or when ctx ends; the error carries the last log lines.
func Start(ctx context.Context, path string, cfg config.Config, o Options) (*Process, error) {
	pr, ok := probes[filepath.Base(path)]
	if !ok {
		return nil, fmt.Errorf("procs: %s is not a server binary (api, worker, scheduler)", path)
	}
	if o.Ready <= 0 {
		o.Ready = 30 * time.Second
	}
	var err error
	for range attempts {
		var p *Process
		if p, err = start(ctx, path, cfg, pr, o); err == nil {
			return p, nil
		}
		if !errors.Is(err, errExited) {
			return nil, err
		}
	}
	return nil, err
}

var errExited = errors.New("exited before it was ready")

func start(ctx context.Context, path string, cfg config.Config, pr probe, o Options) (*Process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, o.Args...)
	cmd.Env = append(append(append(os.Environ(), cfg.Environ()...), o.Env...), pr.addrVar+"="+addr)
	cmd.Stdout = o.Stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("procs: start %s: %w", path, err)
	}
	p := &Process{cmd: cmd, addr: addr, done: make(chan struct{})}
	go p.read(stderr, o.Log)
	if err := p.waitReady(ctx, pr.path, o.Ready); err != nil {
		return nil, fmt.Errorf("procs: %s %w; last log lines:\n%s", filepath.Base(path), err, strings.Join(p.Tail(), "\n"))
	}
	return p, nil
}

// read keeps the log's tail, hands each line to log, and reaps the process
// once its stderr closes.
func (p *Process) read(stderr io.Reader, log func(string)) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		p.mu.Unlock()
		if log != nil {
			log(line)
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
	_ = p.cmd.Wait()
	close(p.done)
}

// waitReady polls the probe until it answers 200.
func (p *Process) waitReady(ctx context.Context, path string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if res, err := client.Get(p.URL() + path); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errExited
		case <-deadline.C:
			p.Stop()
			return fmt.Errorf("was not ready within %s", timeout)
		case <-ctx.Done():
			p.Stop()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// freeAddr returns a loopback address no process listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("procs: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// URL is the base URL of the address the process serves its probes on:
// the API itself, or a worker's or scheduler's metrics port.
func (p *Process) URL() string { return "http://" + p.addr }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the process at once, as a crash would.
func (p *Process) Kill() error { return p.cmd.Process.Kill() }

// Stop ends the process gracefully (SIGTERM), or kills it after 15 s, and
// returns once it has exited. Stopping a process that has exited does
// nothing.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Tail returns the last lines the process logged.
func (p *Process) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}
