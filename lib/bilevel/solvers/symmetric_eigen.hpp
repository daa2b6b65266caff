#pragma once
/// \file
/// Eigen-decomposition of small dense symmetric matrices on the host (cyclic Jacobi), for the
/// Lanczos tridiagonal matrices (a few dozen rows).

#include <cmath>
#include <vector>

namespace bilevel::impl {

/// \brief Eigenvalues `values` and column eigenvectors `vectors` (row-major n x n,
/// vectors[i * n + k] = component i of eigenvector k) of the symmetric n x n matrix `a`.
inline void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& values,
                            std::vector<double>& vectors) {
  vectors.assign(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) vectors[std::size_t(i) * n + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::abs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = vectors[k * n + p], vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  values.resize(n);
  for (int i = 0; i < n; ++i) values[i] = a[i * n + i];
}

}  // namespace bilevel::impl
