# How the tests and benchmarks start R ranks: BILEVEL_MPI_LAUNCH R BILEVEL_MPI_FLAGS program.
# Open MPI also gets --oversubscribe (more ranks than cores on small machines) and
# --allow-run-as-root (CI containers run as root).
set(BILEVEL_MPI_LAUNCH ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG})
set(BILEVEL_MPI_FLAGS ${MPIEXEC_PREFLAGS})
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _bilevel_mpi_version
                ERROR_QUIET)
if(_bilevel_mpi_version MATCHES "Open MPI|OpenRTE")
  list(APPEND BILEVEL_MPI_FLAGS --oversubscribe --allow-run-as-root)
endif()
