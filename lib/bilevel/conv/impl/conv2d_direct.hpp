#pragma once
/// \file
/// Direct multi-channel 2D convolution kernels (stride 1, zero padding "same", odd k x k).
///
/// Mapping. One work item computes OB output channels of a row tile of JT pixels of one sample.
/// On host backends JT is host_conv_tile_vectors vectors (Lanes) and the OB x JT accumulators are
/// register vectors (Conv2dDirectHost); on GPUs JT = 1, one thread per output pixel with OB
/// channel accumulators, consecutive threads on consecutive pixels (coalesced; Conv2dDirect).
/// Borders: on the host the input is first copied into rows with zero margins (PadRows), so the
/// shifted vector loads of every tile read it in place; on GPUs each thread copies its window of
/// each input row (k values) into a local array with zeros outside the image. Either way the FMA
/// loops are branch-free and fully unrolled (k is a template parameter for 3, 5, 7; other odd
/// sizes up to 15 use a runtime-k variant).

#include <bilevel/core/impl/host_lanes.hpp>
#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/core/sample_selection.hpp>
#include <cstdint>

namespace bilevel::impl {

inline constexpr int kMaxConvKernel = 15;

/// win[t] = row[start + t] for t < len, zero where start + t falls outside [0, width): three
/// branch-free loops (zeros, copy, zeros) instead of a bounds test per element.
template <int Cap, class Scalar>
KOKKOS_INLINE_FUNCTION void load_window(Scalar* win, const Scalar* row, int start, int len,
                                        int width) {
  int lo = -start;
  lo = lo < 0 ? 0 : (lo > len ? len : lo);
  int hi = width - start;
  hi = hi < lo ? lo : (hi > len ? len : hi);
  // BILEVEL_SIMD keeps the copy inline: GCC otherwise calls memmove for ~70 values.
  for (int t = 0; t < lo; ++t) win[t] = Scalar(0);
  BILEVEL_SIMD
  for (int t = lo; t < hi; ++t) win[t] = row[start + t];
  for (int t = hi; t < len; ++t) win[t] = Scalar(0);
}

/// Vectors of pixels in a host work item's row tile, and whether its input vectors are pinned
/// in registers (Lanes::pin). With 32 vector registers (AVX-512): 8 channels x 2 vectors = 16
/// accumulators, inputs pinned (CRR 8 -> 64 forward from padded rows, one thread, float: 197
/// GFLOP/s with 2 vectors, 180 with 4, whose 32 accumulators leave no register for the inputs;
/// double 97). With 16 (AVX2 and narrower): 8 x 1, inputs not pinned: GCC then keeps the 8
/// accumulators in registers and takes each input as the FMAs' memory operand, while pinned
/// inputs made it keep every accumulator in memory (float on a Zen 3 core, 99 GFLOP/s peak:
/// 8 x 2 pinned 26, unpinned 34-41, 8 x 1 unpinned 52-67, 4 x 2 38-54, 4 x 3 39-50).
#if BILEVEL_HOST_LANE_BYTES == 64
template <class Scalar>
inline constexpr int host_conv_tile_vectors = 2;
inline constexpr bool host_conv_pin_inputs = true;
#else
template <class Scalar>
inline constexpr int host_conv_tile_vectors = 1;
inline constexpr bool host_conv_pin_inputs = false;
#endif
/// Output channels of a host filter-gradient item (Conv2dFilterGradHost): its accumulators are
/// that many times the filter width (4 x 5 = 20 for the CRR), plus the pinned inputs. Four with
/// 32 registers; two with 16, where 20 do not fit (float on a Zen 3 core, CRR 3->4 / 4->8 /
/// 8->64: 24-31 / 26-31 / 24-33 GFLOP/s with 4, 35-42 / 30-54 / 39-50 with 2; double 15-19
/// against 19-24).
inline constexpr int host_filter_grad_block = BILEVEL_HOST_LANE_BYTES == 64 ? 4 : 2;

/// Zeros before and after each padded row: the widest filter's radius, rounded up to whole
/// vectors so that every row starts aligned like the image's.
template <class Scalar>
inline constexpr int host_row_margin =
    (kMaxConvKernel / 2 + Lanes<Scalar>::size - 1) / Lanes<Scalar>::size* Lanes<Scalar>::size;

/// The host kernels' padded input rows: the image row at offset host_row_margin, zeros
/// before it and after it up to the row stride, which covers every tile's reads. Copying the
/// input once this way replaced a window copy per (row, tap row) of each tile, whose shifted
/// vector loads of just-stored values stalled store-to-load forwarding (about half the speed).
struct PaddedRowShape {
  int margin, stride;
};
template <class Scalar>
inline PaddedRowShape padded_rows(int width) {
  constexpr int M = host_row_margin<Scalar>,
                JT = host_conv_tile_vectors<Scalar> * Lanes<Scalar>::size;
  return {M, (width + JT - 1) / JT * JT + 2 * M};
}

/// out(n, c, i, :) = the row x(n, c, i, :) with zero margins (see padded_rows), for the
/// selected samples: one item per (selected sample, channel, row).
template <class In, class Out>
struct PadRows {
  using Scalar = typename Out::non_const_value_type;
  In x;     // (N, C, H, W)
  Out out;  // (N, C, H, stride)
  SampleSelection<typename Out::memory_space> sel;
  int c, h, wd, margin, stride;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    const int i = int(e % h);
    e /= h;
    const int ch = int(e % c);
    const int n = sel.sample(int(e / c));
    const Scalar* src = &x(n, ch, i, 0);
    Scalar* dst = &out(n, ch, i, 0);
    for (int t = 0; t < margin; ++t) dst[t] = Scalar(0);
    BILEVEL_SIMD
    for (int t = 0; t < wd; ++t) dst[margin + t] = src[t];
    for (int t = margin + wd; t < stride; ++t) dst[t] = Scalar(0);
  }
};

/// Filters repacked for one direction (forward or adjoint) so the OB weights of one (block,
/// input channel, a, b) are contiguous: packed[((blk * n_in + c) * k + a) * k + b][q].
/// The adjoint packs W transposed in channels and flipped in space, so both directions run
/// the same kernel. Blocks past the last output channel hold zeros.
template <class ExecSpace, bool Adjoint, int OB, class Weights, class Packed>
struct PackFilters {
  Weights w;  // (Cout, Cin, k, k)
  Packed packed;
  int n_in, n_out, k;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t e) const {
    const int q = int(e % OB);
    std::int64_t t = e / OB;
    const int b = int(t % k);
    t /= k;
    const int a = int(t % k);
    t /= k;
    const int c = int(t % n_in);
    const int o = int(t / n_in) * OB + q;
    if (o >= n_out) {
      packed(e) = 0;
    } else if constexpr (Adjoint) {
      packed(e) = w(c, o, k - 1 - a, k - 1 - b);
    } else {
      packed(e) = w(o, c, a, b);
    }
  }
};

/// What both direct kernels share: the operands, the work items (selected sample, block of OB
/// output channels, row, tile of JT pixels) and their decoding.
template <int OB, int JT, class In, class Packed, class Out>
struct DirectConvItems {
  using Selection = SampleSelection<typename Out::memory_space>;
  In x;           // (N, n_in, H, W); on the host padded rows (N, n_in, H, stride)
  Packed packed;  // see PackFilters
  Out y;          // (N, n_out, H, W)
  Selection sel;  // the samples computed
  int n_in, n_out, h, wd, k, o_blocks, j_tiles;

  DirectConvItems(const In& x_, const Packed& p_, int k_, const Out& y_, const Selection& sel_)
      : x(x_),
        packed(p_),
        y(y_),
        sel(sel_),
        n_in(int(x_.extent(1))),
        n_out(int(y_.extent(1))),
        h(int(y_.extent(2))),
        wd(int(y_.extent(3))),
        k(k_),
        o_blocks((int(y_.extent(1)) + OB - 1) / OB),
        j_tiles((int(y_.extent(3)) + JT - 1) / JT) {}

  std::int64_t items() const { return std::int64_t(sel.count) * o_blocks * h * j_tiles; }

  struct Item {
    int n, ob, i, j0;  // sample, output block, row, first pixel of the tile
  };
  KOKKOS_INLINE_FUNCTION Item decode(std::int64_t item) const {
    Item it;
    it.j0 = int(item % j_tiles) * JT;
    item /= j_tiles;
    it.i = int(item % h);
    item /= h;
    it.ob = int(item % o_blocks);
    it.n = sel.sample(int(item / o_blocks));
    return it;
  }
};

/// y(n, o, i, j) = sum_{c, a, b} packed weights x(n, c, i + a - r, j + b - r): one work item
/// (a GPU thread) per (selected sample, block of OB output channels, pixel), the OB channel
/// accumulators in registers. Samples outside the selection are neither read nor written.
template <class ExecSpace, int OB, int K, class In, class Packed, class Out>
struct Conv2dDirect : DirectConvItems<OB, 1, In, Packed, Out> {
  using Base = DirectConvItems<OB, 1, In, Packed, Out>;
  using Base::Base;
  using Scalar = typename Out::non_const_value_type;
  static constexpr int JT = 1;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t item) const {
    const auto [n, ob, i, j0] = this->decode(item);
    const auto& x = this->x;
    const auto& packed = this->packed;
    const auto& y = this->y;
    const int n_in = this->n_in, n_out = this->n_out, h = this->h, wd = this->wd, k = this->k;
    const int kk = K > 0 ? K : k, rr = kk / 2;
    constexpr int KW = K > 0 ? K : kMaxConvKernel;

    // acc[q][jj]: the pixel index is the vector lane (contiguous input), weights broadcast.
    Scalar acc[OB][JT];
    for (int q = 0; q < OB; ++q)
      for (int jj = 0; jj < JT; ++jj) acc[q][jj] = Scalar(0);
    const bool interior = j0 - rr >= 0 && j0 + JT + kk - 1 - rr <= wd;

    for (int c = 0; c < n_in; ++c) {
      const Scalar* wc = &packed((std::int64_t(ob) * n_in + c) * kk * kk * OB);
      for (int a = 0; a < kk; ++a) {
        const int ii = i + a - rr;
        if (ii < 0 || ii >= h) continue;
        // Interior tiles read the image row in place; border tiles a zero-padded copy.
        const Scalar* row = &x(n, c, ii, 0);
        Scalar win[JT + KW - 1];
        const Scalar* src = row + (j0 - rr);
        if (!interior) {
          load_window<JT + KW - 1>(win, row, j0 - rr, JT + kk - 1, wd);
          src = win;
        }
        const Scalar* wa = wc + a * kk * OB;
        for (int b = 0; b < kk; ++b) {
          const Scalar* wv = wa + b * OB;
          for (int q = 0; q < OB; ++q) {
            const Scalar wq = wv[q];
            BILEVEL_SIMD
            for (int jj = 0; jj < JT; ++jj) acc[q][jj] += wq * src[jj + b];
          }
        }
      }
    }
    const int o0 = ob * OB;
    for (int q = 0; q < OB; ++q) {
      if (o0 + q >= n_out) break;
      for (int jj = 0; jj < JT; ++jj)
        if (j0 + jj < wd) y(n, o0 + q, i, j0 + jj) = acc[q][jj];
    }
  }
};

/// Host forward / adjoint: as Conv2dDirect, but one work item computes OB output channels of a
/// row tile of T vectors (T V pixels) with its OB x T accumulator vectors in registers (Lanes),
/// and x is padded rows (PadRows, margin M): each tap loads T input vectors in place and OB
/// broadcast weights for OB T FMAs.
template <class ExecSpace, int OB, int T, int K, class In, class Packed, class Out>
struct Conv2dDirectHost
    : DirectConvItems<OB, T * Lanes<typename Out::non_const_value_type>::size, In, Packed, Out> {
  using Scalar = typename Out::non_const_value_type;
  using L = Lanes<Scalar>;
  static constexpr int V = L::size, JT = T * V, M = host_row_margin<Scalar>;
  using Base = DirectConvItems<OB, JT, In, Packed, Out>;
  using Base::Base;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t item) const {
    const auto [n, ob, i, j0] = this->decode(item);
    const auto& x = this->x;
    const auto& packed = this->packed;
    const auto& y = this->y;
    const int n_in = this->n_in, n_out = this->n_out, h = this->h, wd = this->wd, k = this->k;
    const int kk = K > 0 ? K : k, rr = kk / 2;
    L acc[OB][T];
    for (int q = 0; q < OB; ++q)
      for (int t = 0; t < T; ++t) acc[q][t] = L::zero();
    for (int c = 0; c < n_in; ++c) {
      const Scalar* wc = &packed((std::int64_t(ob) * n_in + c) * kk * kk * OB);
      for (int a = 0; a < kk; ++a) {
        const int ii = i + a - rr;
        if (ii < 0 || ii >= h) continue;
        const Scalar* src = &x(n, c, ii, 0) + (M + j0 - rr);
        const Scalar* wa = wc + a * kk * OB;
        for (int b = 0; b < kk; ++b) {
          L xs[T];
          for (int t = 0; t < T; ++t) {
            xs[t] = L::load(src + b + t * V);
            if constexpr (host_conv_pin_inputs) xs[t].pin();
          }
          for (int q = 0; q < OB; ++q) {
            const Scalar wq = wa[b * OB + q];
            for (int t = 0; t < T; ++t) acc[q][t].fma(wq, xs[t]);
          }
        }
      }
    }
    const int o0 = ob * OB;
    for (int q = 0; q < OB; ++q) {
      if (o0 + q >= n_out) break;
      Scalar* out = &y(n, o0 + q, i, 0);
      for (int t = 0; t < T; ++t) {
        const int j = j0 + t * V;
        if (j + V <= wd) {
          acc[q][t].store(out + j);
        } else {
          for (int l = 0; j + l < wd; ++l) out[j + l] = acc[q][t][l];
        }
      }
    }
  }
};

/// Host filter gradient: one item per (block of OB output channels, c, a) computes dW(o, c, a,
/// 0..k-1) for the block's OB channels. x is padded rows (PadRows), read in place: for each row
/// pair (g rows i of the OB channels, x row i + a - r) every vector of V columns loads the k
/// shifted x vectors (pinned in registers) and the OB g vectors once and feeds OB x k
/// accumulator vectors held in registers (Lanes) across a chunk of rows: OB k FMAs per OB + k
/// loads. Products are summed in Scalar over at most kFlush vectors per lane (16 rows of a
/// 64-pixel row), then added in double; columns past the last full vector are summed in double
/// one by one. Fixed order per item, so the result does not depend on the thread count.
template <class ExecSpace, int K, int OB, class X, class G, class DW>
struct Conv2dFilterGradHost {
  using Scalar = typename DW::non_const_value_type;
  using L = Lanes<Scalar>;
  static constexpr int V = L::size, M = host_row_margin<Scalar>;
  static constexpr int KW = K > 0 ? K : kMaxConvKernel;
  static constexpr int kFlush = 64;  // vectors summed per lane before the double sum
  X x;                               // padded rows (N, Cin, H, stride), margin M
  G g;                               // (N, Cout, H, W)
  DW dw;                             // (Cout, Cin, k, k)
  Scalar beta;
  int n, cin, h, wd, k;

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t item) const {
    const int kk = K > 0 ? K : k, rr = kk / 2;
    const int a = int(item % kk);
    item /= kk;
    const int c = int(item % cin);
    const int o0 = int(item / cin) * OB;
    double sums[OB][KW];
    for (int q = 0; q < OB; ++q)
      for (int b = 0; b < KW; ++b) sums[q][b] = 0;
    // Output rows whose input row i + a - r is inside the image.
    const int i_lo = rr - a > 0 ? rr - a : 0, i_hi = h + rr - a < h ? h + rr - a : h;
    const int full = wd - wd % V;                     // columns in full vectors
    const std::int64_t plane = std::int64_t(h) * wd;  // g's channel stride
    // Column blocks of at most kFlush vectors, rows in chunks of at most kFlush vectors a lane.
    const int block = full / V < kFlush ? full : kFlush * V;
    for (int s = 0; s < n; ++s) {
      for (int j0 = 0; j0 < full; j0 += block) {
        const int j1 = j0 + block < full ? j0 + block : full;
        const int per_row = (j1 - j0) / V, chunk = kFlush / per_row;
        for (int i0 = i_lo; i0 < i_hi; i0 += chunk) {
          const int i1 = i0 + chunk < i_hi ? i0 + chunk : i_hi;
          L acc[OB][KW];
          for (int q = 0; q < OB; ++q)
            for (int b = 0; b < KW; ++b) acc[q][b] = L::zero();
          for (int i = i0; i < i1; ++i) {
            // xrow[j + b] = x(s, c, i + a - r, j + b - r), zero outside the image.
            const Scalar* xrow = &x(s, c, i + a - rr, 0) + (M - rr);
            const Scalar* grow = &g(s, o0, i, 0);
            for (int j = j0; j < j1; j += V) {
              L xs[KW];
              for (int b = 0; b < kk; ++b) {
                xs[b] = L::load(xrow + j + b);
                xs[b].pin();
              }
              for (int q = 0; q < OB; ++q) {
                const L gq = L::load(grow + q * plane + j);
                for (int b = 0; b < kk; ++b) acc[q][b].fma(gq, xs[b]);
              }
            }
          }
          for (int q = 0; q < OB; ++q)
            for (int b = 0; b < kk; ++b) sums[q][b] += acc[q][b].sum();
        }
      }
      for (int i = i_lo; i < i_hi; ++i) {
        const Scalar* xrow = &x(s, c, i + a - rr, 0) + (M - rr);
        for (int q = 0; q < OB; ++q) {
          const Scalar* grow = &g(s, o0 + q, i, 0);
          for (int j = full; j < wd; ++j)
            for (int b = 0; b < kk; ++b) sums[q][b] += double(grow[j]) * double(xrow[j + b]);
        }
      }
    }
    for (int q = 0; q < OB; ++q)
      for (int b = 0; b < kk; ++b) {
        Scalar& out = dw(o0 + q, c, a, b);
        out = Scalar(beta == Scalar(0) ? sums[q][b] : double(beta) * double(out) + sums[q][b]);
      }
  }
};

/// GPU filter gradient: one team per weight dW(o, c, a, b), its threads reducing over all
/// samples and pixels.
template <class ExecSpace, class X, class G, class DW>
struct Conv2dFilterGradTeam {
  using Scalar = typename DW::non_const_value_type;
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  X x;
  G g;
  DW dw;
  Scalar beta;
  int n, cin, h, wd, k;

  KOKKOS_INLINE_FUNCTION void operator()(const member_type& team) const {
    int t = team.league_rank();
    const int b = t % k;
    t /= k;
    const int a = t % k;
    t /= k;
    const int c = t % cin;
    const int o = t / cin;
    const int r = k / 2;
    const std::int64_t total = std::int64_t(n) * h * wd;
    double sum = 0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, total),
        [&](std::int64_t e, double& part) {
          const int j = int(e % wd);
          const int i = int((e / wd) % h);
          const int s = int(e / (std::int64_t(wd) * h));
          const int ii = i + a - r, jj = j + b - r;
          if (ii >= 0 && ii < h && jj >= 0 && jj < wd)
            part += double(g(s, o, i, j)) * double(x(s, c, ii, jj));
        },
        sum);
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      dw(o, c, a, b) =
          Scalar(beta == Scalar(0) ? sum : double(beta) * double(dw(o, c, a, b)) + sum);
    });
  }
};

}  // namespace bilevel::impl
