package scores

import "math"

// Newton's method finishes a fit: from the maximum of a sample (close to
// the whole data's), a handful of steps on the exact gradient and Hessian
// of the log-likelihood reach the maximum over every customer, where
// Nelder-Mead from the same start needs a hundred or more evaluations of
// the whole data (docs/scores.md, "BG/NBD").

// derivs are the log-likelihood and its gradient and Hessian with respect
// to the parameters (r, alpha, a, b), summed over customers.
type derivs struct {
	ll float64
	g  [4]float64
	h  [4][4]float64 // upper triangle
}

func (d *derivs) add(o derivs) {
	d.ll += o.ll
	for i := range 4 {
		d.g[i] += o.g[i]
		for j := i; j < 4; j++ {
			d.h[i][j] += o.h[i][j]
		}
	}
}

// derivs returns the log-likelihood at p with its gradient and Hessian.
//
// Per customer the likelihood is exp(base(x)) (e^A1 + [x > 0] e^A2) with
//
//	base(x) = ln Γ(r+x) - ln Γ(r) + r ln α + ln B(a, b+x) - ln B(a, b)
//	A1 = -(r+x) ln(α+T)
//	A2 = ln a - ln(b+x-1) - (r+x) ln(α+t_x)
//
// so with w = e^A2 / (e^A1 + e^A2) the log of the sum has gradient
// (1-w)∇A1 + w∇A2 and Hessian (1-w)∇²A1 + w∇²A2 + w(1-w)(∇A2-∇A1)(∇A2-∇A1)ᵀ.
// base depends on x alone, and its digamma and trigamma differences are
// finite sums for integer x (ψ(z+x) - ψ(z) = Σ_{j<x} 1/(z+j)), so it is
// added once per distinct x.
func (l *likelihood) derivs(p Params) derivs {
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	base, ratio := l.terms(p)
	parts := split(l.cs, func(cs []Customer) derivs {
		var d derivs
		ia := 1 / a
		for _, c := range cs {
			rx := r + float64(c.X)
			lt, u1 := math.Log(alpha+c.T), 1/(alpha+c.T)
			a1 := -rx * lt
			if c.X == 0 {
				d.ll += base[c.X] + a1
				d.g[0] -= lt
				d.g[1] -= rx * u1
				d.h[0][1] -= u1
				d.h[1][1] += rx * u1 * u1
				continue
			}
			ltx, u2 := math.Log(alpha+c.Tx), 1/(alpha+c.Tx)
			a2 := ratio[c.X] - rx*ltx
			e := math.Exp(-math.Abs(a2 - a1))
			var w float64
			if a2 > a1 {
				d.ll += base[c.X] + a2 + math.Log1p(e)
				w = 1 / (1 + e)
			} else {
				d.ll += base[c.X] + a1 + math.Log1p(e)
				w = e / (1 + e)
			}
			v, ib := 1-w, 1/(b+float64(c.X)-1)
			d.g[0] -= v*lt + w*ltx
			d.g[1] -= rx * (v*u1 + w*u2)
			d.g[2] += w * ia
			d.g[3] -= w * ib
			// ∇A2 - ∇A1
			q := [4]float64{lt - ltx, rx * (u1 - u2), ia, -ib}
			wv := w * v
			for i := range 4 {
				for j := i; j < 4; j++ {
					d.h[i][j] += wv * q[i] * q[j]
				}
			}
			d.h[0][1] -= v*u1 + w*u2
			d.h[1][1] += rx * (v*u1*u1 + w*u2*u2)
			d.h[2][2] -= w * ia * ia
			d.h[3][3] += w * ib * ib
		}
		return d
	})
	var d derivs
	for _, part := range parts {
		d.add(part)
	}
	// base: Σ_x n_x ∇base(x), the finite sums running over x.
	var sr1, sr2, sb1, sb2, sab1, sab2 float64
	for x, n := range l.count {
		if x > 0 {
			j := float64(x - 1)
			sr1, sr2 = sr1+1/(r+j), sr2+1/((r+j)*(r+j))
			sb1, sb2 = sb1+1/(b+j), sb2+1/((b+j)*(b+j))
			sab1, sab2 = sab1+1/(a+b+j), sab2+1/((a+b+j)*(a+b+j))
		}
		if n == 0 {
			continue
		}
		f := float64(n)
		d.g[0] += f * (sr1 + math.Log(alpha))
		d.g[1] += f * r / alpha
		d.g[2] -= f * sab1
		d.g[3] += f * (sb1 - sab1)
		d.h[0][0] -= f * sr2
		d.h[0][1] += f / alpha
		d.h[1][1] -= f * r / (alpha * alpha)
		d.h[2][2] += f * sab2
		d.h[2][3] += f * sab2
		d.h[3][3] += f * (sab2 - sb2)
	}
	return d
}

// logSpace turns d, taken with respect to the parameters p, into the
// gradient and (whole, symmetric) Hessian with respect to their logarithms.
func (d derivs) logSpace(p Params) (g [4]float64, h [4][4]float64) {
	v := [4]float64{p.R, p.Alpha, p.A, p.B}
	for i := range 4 {
		g[i] = v[i] * d.g[i]
		for j := i; j < 4; j++ {
			h[i][j] = v[i] * v[j] * d.h[i][j]
			h[j][i] = h[i][j]
		}
		h[i][i] += g[i]
	}
	return g, h
}

// newton maximises l's likelihood over the log-parameters from x, which
// must be near the maximum: each step solves H Δ = -g and is halved
// until the likelihood does not fall. ok is false when the Hessian is not
// negative definite where a step starts, no step keeps the likelihood, or
// the steps do not settle within maxIter: then the caller falls back to
// Nelder-Mead. It has converged when a step moves every log-parameter by
// less than 1e-7 and the quadratic model's remaining gain is within tol of
// the log-likelihood (relative).
func newton(l *likelihood, x [4]float64, maxIter int, tol float64) ([4]float64, bool) {
	d := l.derivs(expParams(x))
	for iter := 0; iter < maxIter; iter++ {
		if math.IsNaN(d.ll) || math.IsInf(d.ll, 0) {
			return x, false
		}
		g, h := d.logSpace(expParams(x))
		for i := range 4 {
			for j := range 4 {
				h[i][j] = -h[i][j]
			}
		}
		step, ok := choleskySolve(h, g)
		if !ok {
			return x, false
		}
		var size, gain float64
		for i := range 4 {
			size = max(size, math.Abs(step[i]))
			gain += g[i] * step[i] / 2
		}
		if size < 1e-7 && gain <= tol*math.Abs(d.ll) {
			return x, true
		}
		accepted := false
		for t := 1.0; t > 1e-3; t /= 2 {
			var next [4]float64
			for i := range 4 {
				next[i] = x[i] + t*step[i]
				if next[i] < -30 || next[i] > 30 {
					return x, false
				}
			}
			nd := l.derivs(expParams(next))
			if nd.ll >= d.ll-1e-12*math.Abs(d.ll) {
				x, d, accepted = next, nd, true
				break
			}
		}
		if !accepted {
			return x, false
		}
	}
	return x, false
}

// choleskySolve solves A z = y for a symmetric positive definite A; ok is
// false when A is not positive definite.
func choleskySolve(a [4][4]float64, y [4]float64) (z [4]float64, ok bool) {
	var c [4][4]float64 // lower triangle: A = C Cᵀ
	for i := range 4 {
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= c[i][k] * c[j][k]
			}
			if i == j {
				if !(s > 0) {
					return z, false
				}
				c[i][i] = math.Sqrt(s)
			} else {
				c[i][j] = s / c[j][j]
			}
		}
	}
	var u [4]float64
	for i := range 4 {
		s := y[i]
		for k := 0; k < i; k++ {
			s -= c[i][k] * u[k]
		}
		u[i] = s / c[i][i]
	}
	for i := 3; i >= 0; i-- {
		s := u[i]
		for k := i + 1; k < 4; k++ {
			s -= c[k][i] * z[k]
		}
		z[i] = s / c[i][i]
	}
	return z, true
}
