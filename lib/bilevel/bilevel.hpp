#pragma once
/// \file
/// Umbrella header: everything a user of Bilevel needs.

#include <bilevel/config.hpp>
#include <bilevel/core/blas1.hpp>
#include <bilevel/core/error.hpp>
#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/core/metrics.hpp>
#include <bilevel/core/noise.hpp>
#include <bilevel/core/random.hpp>
#include <bilevel/core/views.hpp>
#include <bilevel/io/atomic_file.hpp>
#include <bilevel/io/batch.hpp>
#include <bilevel/io/dataset.hpp>
#include <bilevel/io/image.hpp>
