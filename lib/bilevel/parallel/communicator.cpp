#include <algorithm>
#include <bilevel/parallel/communicator.hpp>
#include <climits>
#include <cstring>
#include <string>

namespace bilevel {

#if BILEVEL_HAVE_MPI
namespace {
void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(
      impl::concat("bilevel::Communicator: ", what, " failed: ", std::string(text, length)));
}
int as_int(std::size_t n, const char* what) {
  require(n <= std::size_t(INT_MAX), "bilevel::Communicator: ", what, " of ", n,
          " bytes exceeds MPI's int counts (use fewer or smaller samples per message)");
  return int(n);
}
}  // namespace

Communicator::Communicator(MPI_Comm comm) : m_comm(comm), m_mpi(true) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  require(initialised != 0, "bilevel::Communicator: MPI is not initialised (call MPI_Init first)");
  require(comm != MPI_COMM_NULL, "bilevel::Communicator: MPI_COMM_NULL");
  check(MPI_Comm_rank(comm, &m_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &m_size), "MPI_Comm_size");
}
#endif

void Communicator::barrier() const {
#if BILEVEL_HAVE_MPI
  if (m_mpi) check(MPI_Barrier(m_comm), "MPI_Barrier");
#endif
}

#if BILEVEL_HAVE_MPI
namespace {
// v reduced over the ranks of comm by op (MPI_IN_PLACE: no second buffer)
template <class T>
T all_reduce(MPI_Comm comm, T v, MPI_Datatype type, MPI_Op op, const char* what) {
  check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, type, op, comm), what);
  return v;
}
}  // namespace
#define BILEVEL_ALL_REDUCE(v, type, op, what) (m_mpi ? all_reduce(m_comm, v, type, op, what) : v)
#else
#define BILEVEL_ALL_REDUCE(v, type, op, what) (v)
#endif

double Communicator::max(double v) const {
  return BILEVEL_ALL_REDUCE(v, MPI_DOUBLE, MPI_MAX, "max");
}
double Communicator::min(double v) const {
  return BILEVEL_ALL_REDUCE(v, MPI_DOUBLE, MPI_MIN, "min");
}
std::uint64_t Communicator::max(std::uint64_t v) const {
  return BILEVEL_ALL_REDUCE(v, MPI_UINT64_T, MPI_MAX, "max");
}
std::uint64_t Communicator::min(std::uint64_t v) const {
  return BILEVEL_ALL_REDUCE(v, MPI_UINT64_T, MPI_MIN, "min");
}
std::int64_t Communicator::sum(std::int64_t v) const {
  return BILEVEL_ALL_REDUCE(v, MPI_INT64_T, MPI_SUM, "sum");
}
bool Communicator::any(bool flag) const {
  return BILEVEL_ALL_REDUCE(flag ? 1 : 0, MPI_INT, MPI_MAX, "any") != 0;
}
#undef BILEVEL_ALL_REDUCE

std::vector<std::size_t> Communicator::allgather_counts(std::size_t bytes) const {
  std::vector<std::size_t> counts(std::size_t(m_size), bytes);
#if BILEVEL_HAVE_MPI
  if (m_mpi) {
    std::uint64_t mine = bytes;
    std::vector<std::uint64_t> all(static_cast<std::size_t>(m_size));
    check(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, m_comm),
          "MPI_Allgather");
    std::copy(all.begin(), all.end(), counts.begin());
  }
#endif
  return counts;
}

void Communicator::allgather_bytes(const void* local, std::size_t bytes, void* out,
                                   const std::vector<std::size_t>& counts) const {
  require(counts.size() == std::size_t(m_size) && counts[std::size_t(m_rank)] == bytes,
          "bilevel::Communicator::allgather_bytes: counts do not match this rank's ", bytes,
          " bytes");
  if (!m_mpi) {
    if (bytes > 0) std::memcpy(out, local, bytes);
    return;
  }
#if BILEVEL_HAVE_MPI
  std::vector<int> sizes(counts.size()), offsets(counts.size());
  std::size_t offset = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    sizes[r] = as_int(counts[r], "a gather");
    offsets[r] = as_int(offset, "a gather");
    offset += counts[r];
  }
  check(MPI_Allgatherv(local, as_int(bytes, "a gather"), MPI_BYTE, out, sizes.data(),
                       offsets.data(), MPI_BYTE, m_comm),
        "MPI_Allgatherv");
#endif
}

void Communicator::broadcast_bytes(void* data, std::size_t bytes, int root) const {
  require(root >= 0 && root < m_size, "bilevel::Communicator::broadcast_bytes: root ", root,
          " outside 0..", m_size - 1);
#if BILEVEL_HAVE_MPI
  if (m_mpi)
    check(MPI_Bcast(data, as_int(bytes, "a broadcast"), MPI_BYTE, root, m_comm), "MPI_Bcast");
#else
  (void)data, (void)bytes;
#endif
}

}  // namespace bilevel
