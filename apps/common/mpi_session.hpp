#pragma once
// MPI for an app's lifetime (builds with Bilevel_ENABLE_MPI): initialised before Kokkos, so
// that Kokkos sees the launcher's process binding and, on GPU backends, maps each rank to a
// device by its local rank (Kokkos 4: --kokkos-map-device-id-by=mpi_rank, the default under
// a launcher; Kokkos 3.4: give --kokkos-num-devices=N), and finalised after Kokkos. Without
// MPI the session is one process and world() the trivial communicator.

#include <bilevel/parallel/communicator.hpp>
#include <cstdlib>
#if BILEVEL_HAVE_MPI
#include <mpi.h>
#endif

namespace bilevel::apps {

class MpiSession {
 public:
  MpiSession(int& argc, char**& argv) {
#if BILEVEL_HAVE_MPI
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;  // only the main thread calls MPI (Kokkos' OpenMP threads never do)
      MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
      m_owner = true;
    }
    m_world = Communicator(MPI_COMM_WORLD);
    MPI_Comm_dup(MPI_COMM_WORLD, &m_failures);  // its own channel: never mixed with the run's
#else
    (void)argc, (void)argv;
#endif
  }
  ~MpiSession() {
#if BILEVEL_HAVE_MPI
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised && m_failures != MPI_COMM_NULL) MPI_Comm_free(&m_failures);
    if (m_owner && !finalised) MPI_Finalize();
#endif
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  const Communicator& world() const { return m_world; }

  /// After a failure on this rank: true if every rank failed within `seconds` (the usual case
  /// of bad input, which all ranks read alike: then rank 0 alone reports it and all exit
  /// normally); false if some rank is still working, and may wait for this one forever.
  bool every_rank_failed(double seconds) const {
#if BILEVEL_HAVE_MPI
    if (m_world.size() == 1) return true;
    MPI_Request request;
    MPI_Ibarrier(m_failures, &request);
    const double until = MPI_Wtime() + seconds;
    int done = 0;
    while (!done && MPI_Wtime() < until) MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    return done != 0;
#else
    (void)seconds;
    return true;
#endif
  }
  /// Ends every rank (several ranks only; one process just returns its exit status).
  void abort_all(int code) const {
#if BILEVEL_HAVE_MPI
    if (m_world.size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
  }

 private:
  Communicator m_world;
  bool m_owner = false;
#if BILEVEL_HAVE_MPI
  MPI_Comm m_failures = MPI_COMM_NULL;
#endif
};

/// The session of the running app (set by run_app).
inline const MpiSession*& current_session() {
  static const MpiSession* session = nullptr;
  return session;
}
/// The ranks the running app spans (one process outside run_app or without MPI).
inline Communicator world() {
  return current_session() ? current_session()->world() : Communicator();
}

}  // namespace bilevel::apps
