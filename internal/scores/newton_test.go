package scores

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDerivsMatchFiniteDifferences checks the analytic log-likelihood,
// gradient and Hessian against eval and central differences, at the true
// parameters and away from them, with customers of every x up to dozens.
func TestDerivsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	cs := simulate(rng, Params{R: 0.8, Alpha: 12, A: 1.4, B: 4.5}, 30000, 30, 730)
	l := newLikelihood(cs)
	require.Greater(t, len(l.count), 10, "the sample needs customers of many x")
	for _, p := range []Params{{R: 0.8, Alpha: 12, A: 1.4, B: 4.5}, {R: 0.3, Alpha: 40, A: 0.6, B: 9}, {R: 2.5, Alpha: 3, A: 3.1, B: 1.2}} {
		d := l.derivs(p)
		require.InDelta(t, l.eval(p), d.ll, 1e-9*math.Abs(d.ll), "log-likelihood at %+v", p)
		at := func(i int, h float64) Params {
			q := p
			switch i {
			case 0:
				q.R += h
			case 1:
				q.Alpha += h
			case 2:
				q.A += h
			case 3:
				q.B += h
			}
			return q
		}
		v := [4]float64{p.R, p.Alpha, p.A, p.B}
		for i := range 4 {
			h := 1e-5 * v[i]
			num := (l.eval(at(i, h)) - l.eval(at(i, -h))) / (2 * h)
			require.InDelta(t, num, d.g[i], 1e-5*math.Abs(num)+1e-3, "gradient %d at %+v", i, p)
			up, down := l.derivs(at(i, h)), l.derivs(at(i, -h))
			for j := range 4 {
				num := (up.g[j] - down.g[j]) / (2 * h)
				lo, hi := min(i, j), max(i, j)
				require.InDelta(t, num, d.h[lo][hi], 1e-4*math.Abs(num)+1e-3, "hessian %d,%d at %+v", i, j, p)
			}
		}
	}
}

// TestNewtonReachesNelderMeadsMaximum fits simulated companies just above
// the sample's threshold (12,000 customers: a sample of 6,000) and far
// above it (120,000: every 24th) and compares with Nelder-Mead on every
// customer from the same start: the same parameters to 1e-4 and a
// likelihood no lower; Newton's method itself converges from the
// sample's maximum.
func TestNewtonReachesNelderMeadsMaximum(t *testing.T) {
	for _, n := range []int{2*warmSample + 2000, 120000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { newtonReachesNelderMeadsMaximum(t, n) })
	}
}

func newtonReachesNelderMeadsMaximum(t *testing.T, n int) {
	rng := rand.New(rand.NewPCG(2005, uint64(n)))
	cs := simulate(rng, Params{R: 0.5, Alpha: 20, A: 0.9, B: 3}, n, 60, 900)
	got, err := Fit(cs, FitConfig{})
	require.NoError(t, err)

	cfg := FitConfig{MaxIterations: 5000, Tolerance: 1e-10}
	var meanT float64
	for _, c := range cs {
		meanT += c.T
	}
	start := [4]float64{0, math.Log(meanT / float64(len(cs))), 0, 0}
	x, err := maximise(newLikelihood(cs), start, 0.5, cfg)
	require.NoError(t, err)
	want, err := fitted(x)
	require.NoError(t, err)
	t.Logf("newton %+v nelder-mead %+v", got, want)
	for _, c := range [][2]float64{{got.R, want.R}, {got.Alpha, want.Alpha}, {got.A, want.A}, {got.B, want.B}} {
		require.InDelta(t, c[1], c[0], 1e-4*c[1])
	}
	ll, llNM := LogLikelihood(got, cs), LogLikelihood(want, cs)
	require.GreaterOrEqual(t, ll, llNM-1e-10*math.Abs(llNM))

	v, err := maximise(newLikelihood(everyKth(cs, len(cs)/warmSample)), start, 0.5, cfg)
	require.NoError(t, err)
	_, ok := newton(newLikelihood(cs), v, newtonSteps, cfg.Tolerance)
	require.True(t, ok, "Newton's method did not converge from the sample's maximum")
}

// TestNewtonNeverClaimsAnotherPoint starts Newton's method far from the
// maximum: it either reports failure (so Fit falls back to Nelder-Mead)
// or returns the maximum Fit finds, never another point.
func TestNewtonNeverClaimsAnotherPoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	cs := simulate(rng, Params{R: 0.8, Alpha: 12, A: 1.4, B: 4.5}, 5000, 30, 730)
	want, err := Fit(cs, FitConfig{})
	require.NoError(t, err)
	l := newLikelihood(cs)
	for _, x := range [][4]float64{{8, -8, 8, -8}, {-9, 9, -9, 9}, {9, 9, 9, 9}, {0, 0, 0, 0}, {-1, 1, 2, 3}} {
		v, ok := newton(l, x, newtonSteps, 1e-10)
		if !ok {
			continue
		}
		got, err := fitted(v)
		require.NoError(t, err)
		for _, c := range [][2]float64{{got.R, want.R}, {got.Alpha, want.Alpha}, {got.A, want.A}, {got.B, want.B}} {
			require.InDelta(t, c[1], c[0], 1e-4*c[1], "from %v", x)
		}
	}
}

func TestCholeskySolve(t *testing.T) {
	a := [4][4]float64{{4, 1, 0, 0.5}, {1, 3, 0.2, 0}, {0, 0.2, 2, 0.1}, {0.5, 0, 0.1, 1}}
	y := [4]float64{1, 2, 3, 4}
	z, ok := choleskySolve(a, y)
	require.True(t, ok)
	for i := range 4 {
		var s float64
		for j := range 4 {
			s += a[i][j] * z[j]
		}
		require.InDelta(t, y[i], s, 1e-12)
	}
	a[3][3] = -1
	_, ok = choleskySolve(a, y)
	require.False(t, ok)
}
