#!/usr/bin/python3
"""The PyTorch anchor for Bilevel's CRR benchmarks (perf/regularizers/bench_crr_ops.cpp,
perf/solvers/bench_hypergradient.cpp): the same operations on the same shapes, written the way
a PyTorch user would (oneDNN convolutions, autograd for the mixed product), so that the README's
table compares ratios measured back to back on one machine.

Model: the paper's CRR (3 -> 4 -> 8 -> 64, 5 x 5 zero-padded, zero-mean filters, Xavier normal,
W~ = W / ||W v|| with v from power iteration on W^T W on 64 x 64, Huber beta = 100,
exp(s) = 1). Data: batch 8 x 3 x 64 x 64, a smooth image plus sigma = 25/255 noise (as the C++
benchmark). Algorithms as in Bilevel: batched nmAPG (Li & Lin, BB step, backtracking,
nonmonotone reference) to ||grad h_i|| <= eps, per-sample CG to ||H q - b|| <= delta with
psi''(u) precomputed, converged samples dropped from the batch, mixed product by autograd.
Written for speed: images in channels_last (NHWC) and W^T as conv2d with flipped filters, the
fastest forms on this machine (see the comments).

Needs Debian's python3-torch (1.13, oneDNN) and libjemalloc2 (see with_caching_allocator). Usage:
  /usr/bin/python3 perf/anchors/crr_pytorch.py [--threads T] [--dtype float|double] [--repeat R]
Prints one line per row: name, median milliseconds over R repeats (after warm-up calls), extra.
"""

import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

CHANNELS = [3, 4, 8, 64]
K = 5
BETA = 100.0


def xavier_zero_mean(cout, cin, gen, dtype):
    std = math.sqrt(2.0 / (cin * K * K + cout * K * K))
    w = torch.randn(cout, cin, K, K, generator=gen, dtype=dtype) * std
    return w - w.mean(dim=(1, 2, 3), keepdim=True)


class Crr:
    def __init__(self, dtype, seed=0):
        gen = torch.Generator().manual_seed(seed)
        self.kernels = [xavier_zero_mean(CHANNELS[l + 1], CHANNELS[l], gen, dtype)
                        for l in range(3)]
        self.log_scale = torch.zeros(CHANNELS[-1], dtype=dtype)
        self.dtype = dtype
        self.v = None
        self.sigma = None

    def filters(self, kernels=None):
        ks = kernels if kernels is not None else self.kernels
        return [k - k.mean(dim=(1, 2, 3), keepdim=True) for k in ks]

    @staticmethod
    def forward(x, filters):
        for w in filters:
            x = F.conv2d(x, w, padding=K // 2)
        return x

    @staticmethod
    def adjoint(y, filters):
        # conv2d with the transposed, flipped filters: 8-17x faster than conv_transpose2d in
        # PyTorch 1.13 on this machine (oneDNN has no fast path for the latter here).
        for w in reversed(filters):
            y = F.conv2d(y, w.transpose(0, 1).flip(2, 3), padding=K // 2)
        return y

    def power_iteration(self, tol=1e-4, max_iter=3000, size=64):
        """sigma(W) = ||W v||, v by power iteration on W^T W until the relative eigen-residual
        <= tol (Bilevel's Lanczos stops on the same test)."""
        fs = [f.detach() for f in self.filters()]
        gen = torch.Generator().manual_seed(1)
        v = torch.randn(1, CHANNELS[0], size, size, generator=gen, dtype=self.dtype)
        v = v.contiguous(memory_format=torch.channels_last)
        v /= v.norm()
        with torch.no_grad():
            for it in range(1, max_iter + 1):
                av = self.adjoint(self.forward(v, fs), fs)
                lam = torch.dot(v.flatten(), av.flatten())
                if (av - lam * v).norm() <= tol * lam:
                    break
                v = av / av.norm()
        self.v = v
        self.sigma = self.forward(v, fs).norm().item()
        return it

    def scale(self):
        return torch.exp(self.log_scale).view(1, -1, 1, 1)

    def gradient(self, x, with_energy=True):
        """grad R(x) and (with_energy) R(x) per sample (Huber, normalised W), no autograd."""
        fs = self.filters()
        d = self.scale() / self.sigma
        u = d * self.forward(x, fs)
        energy = None
        if with_energy:
            a = u.abs()
            energy = torch.where(a > 1 / BETA, a - 0.5 / BETA, 0.5 * BETA * u * u).sum(
                dim=(1, 2, 3))
        return self.adjoint(d * torch.clamp(BETA * u, -1.0, 1.0), fs), energy

    def curvature(self, x):
        """D^2 psi''(D W x): the Hessian's middle factor at x (computed once per CG solve)."""
        fs = self.filters()
        d = self.scale() / self.sigma
        u = d * self.forward(x, fs)
        return d * d * BETA * (u.abs() <= 1 / BETA).to(x.dtype)

    def hvp(self, p, curv):
        fs = self.filters()
        return 2 * p + self.adjoint(curv * self.forward(p, fs), fs)

    def mixed_product(self, x, q):
        """d/dtheta sum <grad_x R(x), q> by autograd, sigma = ||W v|| with v fixed."""
        kernels = [k.clone().requires_grad_(True) for k in self.kernels]
        log_scale = self.log_scale.clone().requires_grad_(True)
        fs = self.filters(kernels)
        sigma = self.forward(self.v, fs).norm()
        d = torch.exp(log_scale).view(1, -1, 1, 1) / sigma
        g = self.adjoint(d * torch.clamp(BETA * d * self.forward(x, fs), -1.0, 1.0), fs)
        torch.dot(g.flatten(), q.flatten()).backward()
        return [k.grad for k in kernels] + [log_scale.grad]


def batch_dot(a, b):
    return (a * b).sum(dim=(1, 2, 3))


def h_and_grad(model, x, y):
    g, e = model.gradient(x)
    r = x - y
    return batch_dot(r, r) + e, 2 * r + g


def nmapg(model, y, x0, eps, max_iter=10000, delta=1e-4, eta=0.8, rho=0.5):
    """Batched nmAPG; converged samples leave the batch. Returns x and the summed iterations."""
    x = x0.clone()
    n = x.shape[0]
    active = torch.arange(n)
    hx, gx = h_and_grad(model, x, y)
    xs, xprev, zprev = x, x.clone(), x.clone()
    t, tprev = 1.0, 0.0
    c, qk = hx.clone(), torch.ones(n, dtype=x.dtype)
    step = torch.ones(n, dtype=x.dtype)
    yprev = gyprev = None
    iterations = 0
    for _ in range(max_iter):
        norms = gx.flatten(1).norm(dim=1)
        keep = norms > eps
        if not keep.any():
            break
        if not keep.all():  # drop the converged samples
            x0[active[~keep]] = xs[~keep]
            active, xs, xprev, zprev = active[keep], xs[keep], xprev[keep], zprev[keep]
            hx, gx, c, qk, step, y = hx[keep], gx[keep], c[keep], qk[keep], step[keep], y[keep]
            yprev, gyprev = (yprev[keep], gyprev[keep]) if yprev is not None else (None, None)
        iterations += xs.shape[0]
        yk = xs + (tprev / t) * (zprev - xs) + ((tprev - 1) / t) * (xs - xprev)
        hy, gy = h_and_grad(model, yk, y)
        if yprev is not None:  # Barzilai-Borwein
            s, r = yk - yprev, gy - gyprev
            sr = batch_dot(s, r)
            step = torch.where(sr > 0, batch_dot(s, s) / sr.clamp_min(1e-30), step)
        yprev, gyprev = yk, gy
        g2 = batch_dot(gy, gy)
        a = step.clone()
        for _ in range(60):  # backtracking on the samples that fail Armijo
            z = yk - a.view(-1, 1, 1, 1) * gy
            hz, gz = h_and_grad(model, z, y)
            bad = hz > hy - delta * a * g2
            if not bad.any():
                break
            a = torch.where(bad, a * rho, a)
        zprev = z
        accept = hz <= c - delta * batch_dot(z - yk, z - yk)
        if not accept.all():  # safeguard step from x
            v = xs - a.view(-1, 1, 1, 1) * gx
            hv, gv = h_and_grad(model, v, y)
            use_v = (~accept) & (hv < hz)
            m = use_v.view(-1, 1, 1, 1)
            z, hz, gz = torch.where(m, v, z), torch.where(use_v, hv, hz), torch.where(m, gv, gz)
        xprev, xs, hx, gx = xs, z, hz, gz
        tprev, t = t, (math.sqrt(4 * t * t + 1) + 1) / 2
        qnew = eta * qk + 1
        c = (eta * qk * c + hx) / qnew
        qk = qnew
    x0[active] = xs
    return x0, iterations


def cg(model, curv, b, tol, max_iter=10000):
    """Per-sample CG on H q = b from q = 0; converged samples leave the batch."""
    q = torch.zeros_like(b)
    active = torch.arange(b.shape[0])
    r, p, qa, cu = b.clone(), b.clone(), q.clone(), curv
    rr = batch_dot(r, r)
    iterations = 0
    for _ in range(max_iter):
        keep = rr.sqrt() > tol
        if not keep.any():
            break
        if not keep.all():
            q[active[~keep]] = qa[~keep]
            active, r, p, qa, cu, rr = (active[keep], r[keep], p[keep], qa[keep], cu[keep],
                                        rr[keep])
        iterations += r.shape[0]
        hp = model.hvp(p, cu)
        alpha = rr / batch_dot(p, hp)
        qa = qa + alpha.view(-1, 1, 1, 1) * p
        r = r - alpha.view(-1, 1, 1, 1) * hp
        rr_new = batch_dot(r, r)
        p = r + (rr_new / rr).view(-1, 1, 1, 1) * p
        rr = rr_new
    q[active] = qa
    return q, iterations


def timed(fn, repeat, warmup=3):
    for _ in range(warmup):  # allocations, oneDNN primitive caches, first-touch pages
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), out


JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"  # Debian's libjemalloc2


def with_caching_allocator():
    """PyTorch's CPU tensors come from malloc, and glibc hands large freed blocks (an 8 MiB
    tensor) back to the system, so new tensors page-fault afresh: on this VM ~10 us a page,
    20 ms for a multiply that takes 0.25 ms in warm memory, which made every elementwise op
    10-100x slower. Re-run under jemalloc with purging off (what a tuned deployment does);
    Bilevel keeps its buffers in workspaces and never pays this."""
    conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
    if os.environ.get("MALLOC_CONF") == conf:
        return
    if not os.path.exists(JEMALLOC):
        print("# warning: libjemalloc2 is not installed; elementwise times include page faults")
        return
    env = dict(os.environ, LD_PRELOAD=JEMALLOC, MALLOC_CONF=conf)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main():
    with_caching_allocator()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=["float", "double"], default="float")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    dtype = torch.float32 if args.dtype == "float" else torch.float64
    n, c, size = 8, 3, 64
    ii = torch.arange(size, dtype=torch.float64).view(1, 1, -1, 1)
    jj = torch.arange(size, dtype=torch.float64).view(1, 1, 1, -1)
    nn = torch.arange(n, dtype=torch.float64).view(-1, 1, 1, 1)
    cc = torch.arange(c, dtype=torch.float64).view(1, -1, 1, 1)
    clean = (0.5 + 0.3 * torch.cos(0.2 * ii + 0.1 * nn) * torch.cos(0.15 * jj + 0.3 * cc)).to(dtype)
    gen = torch.Generator().manual_seed(1)
    y = clean + (25 / 255) * torch.randn(clean.shape, generator=gen, dtype=dtype)
    v = 0.1 * torch.randn(clean.shape, generator=gen, dtype=dtype)
    # NHWC: oneDNN's fast layout (NCHW input made the 8 -> 64 layer 8-12x slower here).
    clean, y, v = (t.contiguous(memory_format=torch.channels_last) for t in (clean, y, v))

    print(f"# PyTorch {torch.__version__}, {args.threads} thread(s), {args.dtype}, "
          f"batch {n} x {c} x {size} x {size}, median of {args.repeat} (hypergradient and sigma: "
          f"of {max(1, args.repeat // 5)})")

    class Rows(list):
        def append(self, row):
            name, ms, extra = row
            print(f"{name:44s} {ms:10.2f} ms  {extra}", flush=True)

    model = Crr(dtype)
    rows = Rows()
    ms, products = timed(model.power_iteration, max(1, args.repeat // 5))
    rows.append(("sigma_cold (power iteration, tol 1e-4)", ms, f"{products} products"))
    fs = model.filters()
    wy = Crr.forward(y, fs)
    rows.append(("w_forward", timed(lambda: Crr.forward(y, fs), args.repeat)[0], ""))
    rows.append(("w_adjoint", timed(lambda: Crr.adjoint(wy, fs), args.repeat)[0], ""))
    rows.append(("grad_r", timed(lambda: model.gradient(y, False), args.repeat)[0], ""))
    rows.append(("value_and_grad_h", timed(lambda: h_and_grad(model, y, y), args.repeat)[0], ""))
    curv = model.curvature(y)
    rows.append(("prepared_hvp", timed(lambda: model.hvp(v, curv), args.repeat)[0], ""))
    with torch.enable_grad():
        rows.append(("mixed_product (autograd)",
                     timed(lambda: model.mixed_product(y, v), args.repeat)[0], ""))
    ms, (_, its) = timed(lambda: nmapg(model, y, y.clone(), 0.0, max_iter=20), args.repeat)
    rows.append(("nmapg iteration (20 from y)", ms / (its / n), ""))
    x, _ = nmapg(model, y, y.clone(), 1e-2)
    b = 2 * (x - clean)
    curv = model.curvature(x)
    ms, (_, its) = timed(lambda: cg(model, curv, b, 0.0, max_iter=20), args.repeat)
    rows.append(("cg iteration (20 at x_eps, prepared)", ms / (its / n), ""))

    def hypergradient(eps):
        xh, lower = nmapg(model, y, y.clone(), eps)
        bh = 2 * (xh - clean)
        q, linear = cg(model, model.curvature(xh), bh, eps)
        with torch.enable_grad():
            model.mixed_product(xh, q)
        return lower + linear

    for eps in (1e-2, 1e-3):
        ms, cost = timed(lambda: hypergradient(eps), max(1, args.repeat // 5), warmup=1)
        rows.append((f"hypergradient eps = delta = {eps:g}", ms, f"cost {cost}"))


if __name__ == "__main__":
    main()
