// Package bench holds the scenarios of `reactivation bench`: each measures
// the project against a baseline taken in the same run, prints a table and
// writes JSON with every target its issue names.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/config"
)

// Env is what a scenario runs with.
type Env struct {
	Config    config.Config
	Log       *zap.Logger
	Scenario  string // set by Run
	Customers int    // --customers
	Seed      int64  // --seed
	// Engine is the search engine a scenario that offers both measures:
	// EngineElastic or EnginePostgres (--engine; ResolveEngine picks the
	// default).
	Engine string
	Out    io.Writer
}

// Figure is one measured value.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Target is one goal of an issue and whether this run met it.
type Target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
	// Max is true when Value must be <= Target, false when >= Target.
	Max   bool `json:"max"`
	Holds bool `json:"holds"`
}

// Report is what a scenario measured.
type Report struct {
	Scenario  string `json:"scenario"`
	Customers int    `json:"customers"`
	// Engine is the search engine measured, for scenarios that offer both.
	Engine    string    `json:"engine,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Figures   []Figure  `json:"figures"`
	Targets   []Target  `json:"targets"`
}

// Add records a figure.
func (r *Report) Add(name string, value float64, unit string) {
	r.Figures = append(r.Figures, Figure{Name: name, Value: value, Unit: unit})
}

// AtMost records a target that holds when value <= target.
func (r *Report) AtMost(name string, value, target float64) {
	r.Targets = append(r.Targets, Target{Name: name, Value: value, Target: target, Max: true, Holds: value <= target})
}

// AtLeast records a target that holds when value >= target.
func (r *Report) AtLeast(name string, value, target float64) {
	r.Targets = append(r.Targets, Target{Name: name, Value: value, Target: target, Holds: value >= target})
}

// Scenario is one named benchmark.
type Scenario struct {
	Name        string
	Description string
	Run         func(ctx context.Context, env Env, r *Report) error
}

var (
	mu        sync.Mutex
	scenarios = map[string]Scenario{}
)

// Register adds a scenario; scenarios register themselves in init.
func Register(s Scenario) {
	mu.Lock()
	defer mu.Unlock()
	scenarios[s.Name] = s
}

// Names lists the registered scenarios.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Run runs the named scenario, prints its table to env.Out and returns the report.
func Run(ctx context.Context, name string, env Env) (*Report, error) {
	mu.Lock()
	s, ok := scenarios[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (have %v)", name, Names())
	}
	env.Scenario = name
	r := &Report{Scenario: name, Customers: env.Customers, StartedAt: time.Now().UTC()}
	if err := s.Run(ctx, env, r); err != nil {
		return r, fmt.Errorf("scenario %s: %w", name, err)
	}
	Print(env.Out, r)
	return r, nil
}

// Print writes r as two aligned tables.
func Print(w io.Writer, r *Report) {
	if r.Engine != "" {
		fmt.Fprintf(w, "\nscenario %s (engine %s), %d customers\n", r.Scenario, r.Engine, r.Customers)
	} else {
		fmt.Fprintf(w, "\nscenario %s, %d customers\n", r.Scenario, r.Customers)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tunit")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%.3f\t%s\n", f.Name, f.Value, f.Unit)
	}
	tw.Flush()
	if len(r.Targets) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "target\tvalue\tgoal\tholds")
		for _, t := range r.Targets {
			op := ">="
			if t.Max {
				op = "<="
			}
			fmt.Fprintf(tw, "%s\t%.3f\t%s %.3f\t%v\n", t.Name, t.Value, op, t.Target, t.Holds)
		}
		tw.Flush()
	}
}

// WriteJSON writes r to path.
func WriteJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
