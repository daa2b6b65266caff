# Runs the digest program at every thread count in THREADS (OMP_NUM_THREADS, which every host
# backend reads) and fails unless all digests are identical, printing the lines that differ.
#   cmake -DDIGEST=<program> -DTHREADS="1;2;3" -DWORK=<folder> -P thread_count_equality.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(first "")
foreach(t IN LISTS THREADS)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env OMP_NUM_THREADS=${t} OMP_PROC_BIND=false
            "${DIGEST}" "${WORK}/threads-${t}.txt" --kokkos-disable-warnings
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "digest at ${t} threads failed (${rc}): ${err}")
  endif()
  file(STRINGS "${WORK}/threads-${t}.txt" lines)
  list(LENGTH lines n)
  message(STATUS "${t} threads: ${n} digest lines")
  if(first STREQUAL "")
    set(first ${t})
    set(reference "${lines}")
  elseif(NOT lines STREQUAL reference)
    set(diff "")
    foreach(a b IN ZIP_LISTS reference lines)
      if(NOT a STREQUAL b)
        string(APPEND diff "\n  ${first} threads: ${a}\n  ${t} threads: ${b}")
      endif()
    endforeach()
    message(FATAL_ERROR "results depend on the thread count:${diff}")
  endif()
endforeach()
message(STATUS "identical bits at ${THREADS} threads")
