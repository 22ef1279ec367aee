package scores

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// simulate draws n customers from the BG/NBD process itself: a purchase
// rate λ ~ Gamma(r, α), a dropout probability p ~ Beta(a, b); from the
// first purchase at time 0, purchases arrive as a Poisson process of rate
// λ and after each repeat purchase the customer drops out with
// probability p. Each customer is observed for T days, uniform in
// [minT, maxT].
func simulate(rng *rand.Rand, p Params, n int, minT, maxT float64) []Customer {
	out := make([]Customer, n)
	for i := range out {
		lambda := gammaRand(rng, p.R) / p.Alpha
		drop := betaRand(rng, p.A, p.B)
		T := minT + rng.Float64()*(maxT-minT)
		c := Customer{T: T}
		for t := 0.0; ; {
			t += rng.ExpFloat64() / lambda
			if t > T {
				break
			}
			c.X++
			c.Tx = t
			if rng.Float64() < drop {
				break
			}
		}
		out[i] = c
	}
	return out
}

// gammaRand draws Gamma(shape, 1) by Marsaglia and Tsang's method.
func gammaRand(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaRand(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func betaRand(rng *rand.Rand, a, b float64) float64 {
	x := gammaRand(rng, a)
	return x / (x + gammaRand(rng, b))
}

func TestFitRecoversSimulatedParameters(t *testing.T) {
	truth := Params{R: 0.8, Alpha: 12, A: 1.4, B: 4.5}
	rng := rand.New(rand.NewPCG(14, 2005))
	cs := simulate(rng, truth, 20000, 180, 730)
	got, err := Fit(cs, FitConfig{})
	require.NoError(t, err)
	t.Logf("true %+v fitted %+v", truth, got)
	for _, c := range []struct {
		name       string
		want, have float64
	}{{"r", truth.R, got.R}, {"alpha", truth.Alpha, got.Alpha}, {"a", truth.A, got.A}, {"b", truth.B, got.B}} {
		require.InDelta(t, c.want, c.have, 0.10*c.want, "parameter %s", c.name)
	}
	// The maximum is a maximum: moving any parameter by 1% lowers the
	// likelihood.
	best := LogLikelihood(got, cs)
	for i := 0; i < 4; i++ {
		for _, f := range []float64{0.99, 1.01} {
			p := got
			switch i {
			case 0:
				p.R *= f
			case 1:
				p.Alpha *= f
			case 2:
				p.A *= f
			case 3:
				p.B *= f
			}
			require.Less(t, LogLikelihood(p, cs), best)
		}
	}
}

func TestFitFallsBack(t *testing.T) {
	_, err := Fit(make([]Customer, 10), FitConfig{})
	require.ErrorIs(t, err, ErrNoFit)
	_, err = Fit(make([]Customer, 500), FitConfig{}) // nobody came back
	require.ErrorIs(t, err, ErrNoFit)
}

func TestLogLikelihoodMatchesDirectFormula(t *testing.T) {
	p := Params{R: 0.24, Alpha: 4.41, A: 0.79, B: 2.43}
	cs := []Customer{{0, 0, 38.86}, {1, 30.43, 38.86}, {2, 1.71, 38.86}, {7, 29.43, 38.86}, {0, 0, 31}}
	var want float64
	for _, c := range cs {
		x := float64(c.X)
		beta := func(a, b float64) float64 { return math.Exp(lgamma(a) + lgamma(b) - lgamma(a+b)) }
		g := math.Exp(lgamma(p.R+x)-lgamma(p.R)) * math.Pow(p.Alpha, p.R)
		l := beta(p.A, p.B+x) / beta(p.A, p.B) * g / math.Pow(p.Alpha+c.T, p.R+x)
		if c.X > 0 {
			l += beta(p.A+1, p.B+x-1) / beta(p.A, p.B) * g / math.Pow(p.Alpha+c.Tx, p.R+x)
		}
		want += math.Log(l)
	}
	require.InDelta(t, want, LogLikelihood(p, cs), 1e-9)
}

func TestPAliveClosedForm(t *testing.T) {
	p := Params{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	for _, c := range []Customer{{0, 0, 10}, {1, 2.5, 10}, {2, 30.43, 38.86}, {5, 1.0, 38.86}, {14, 37.5, 38.86}, {3, 0.25, 200}} {
		want := 1.0
		if c.X > 0 {
			x := float64(c.X)
			want = 1 / (1 + (p.A/(p.B+x-1))*math.Pow((p.Alpha+c.T)/(p.Alpha+c.Tx), p.R+x))
		}
		require.InDelta(t, want, PAlive(p, c), 1e-9, "%+v", c)
	}
	require.Equal(t, 1.0, PAlive(p, Customer{X: 0, T: 500}))
}

func TestExpectedPurchases(t *testing.T) {
	p := Params{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	// The published CDNOW example (weeks): x=2, t_x=30.43, T=38.86 expects
	// 1.226 purchases in the next 39 weeks.
	got, err := ExpectedPurchases(p, Customer{X: 2, Tx: 30.43, T: 38.86}, 39)
	require.NoError(t, err)
	require.InDelta(t, 1.226, got, 0.001)
	// 2F1 against a closed form: 2F1(1, 1; 2; z) = -ln(1-z)/z.
	for _, z := range []float64{0, 0.1, 0.5, 0.9, 0.99} {
		h, err := Hyp2F1(1, 1, 2, z)
		require.NoError(t, err)
		want := 1.0
		if z > 0 {
			want = -math.Log(1-z) / z
		}
		require.InDelta(t, want, h, 1e-12*want)
	}
	_, err = Hyp2F1(1, 1, 2, 1)
	require.Error(t, err)
}
