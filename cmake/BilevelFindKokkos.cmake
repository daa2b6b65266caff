# Finds Kokkos (and, optionally, Kokkos Kernels) and provides the imported targets
# Kokkos::kokkos and Kokkos::kokkoskernels, whichever flavour of installation is present:
#
#  * a standard Kokkos 4.x (or 3.x) install, through its own find_package(Kokkos CONFIG);
#  * Debian's Trilinos packages (libtrilinos-kokkos-dev, libtrilinos-kokkos-kernels-dev, Kokkos 3.4),
#    whose CMake files point Kokkos::kokkos at the wrong include directory and define no Kokkos
#    Kernels target: the targets are rebuilt here from the headers and libraries actually installed.
#
# Sets BILEVEL_KOKKOS_VERSION (x.y.z), BILEVEL_KOKKOS_BACKENDS (list), BILEVEL_KOKKOS_FLAVOUR
# and BILEVEL_HAVE_KOKKOSKERNELS. Used both by Bilevel's own build and by the installed
# BilevelConfig.cmake, so a downstream project gets the same targets.
include_guard(GLOBAL)

# Reads KOKKOS_VERSION and the enabled backends from KokkosCore_config.h.
function(_bilevel_kokkos_from_config_header header)
  file(STRINGS "${header}" _ver REGEX "^#define KOKKOS_VERSION [0-9]+")
  if(_ver MATCHES "KOKKOS_VERSION ([0-9]+)")
    math(EXPR _maj "${CMAKE_MATCH_1} / 10000")
    math(EXPR _min "${CMAKE_MATCH_1} / 100 % 100")
    math(EXPR _pat "${CMAKE_MATCH_1} % 100")
    set(BILEVEL_KOKKOS_VERSION "${_maj}.${_min}.${_pat}" PARENT_SCOPE)
  endif()
  file(STRINGS "${header}" _on REGEX "^#define KOKKOS_ENABLE_(SERIAL|OPENMP|THREADS|CUDA|HIP|SYCL|HPX|OPENMPTARGET)$")
  set(_backends "")
  foreach(_line IN LISTS _on)
    string(REGEX REPLACE "^#define KOKKOS_ENABLE_" "" _b "${_line}")
    list(APPEND _backends "${_b}")
  endforeach()
  set(BILEVEL_KOKKOS_BACKENDS "${_backends}" PARENT_SCOPE)
endfunction()

# Debian/Trilinos layout: headers in <prefix>/include/trilinos, libraries libtrilinos_kokkos*.
function(_bilevel_kokkos_from_trilinos)
  find_path(BILEVEL_KOKKOS_INCLUDE_DIR KokkosCore_config.h
            HINTS ${Kokkos_INCLUDE_DIRS} PATH_SUFFIXES trilinos kokkos)
  find_library(BILEVEL_KOKKOSCORE_LIB NAMES trilinos_kokkoscore kokkoscore HINTS ${Kokkos_LIBRARY_DIRS})
  find_library(BILEVEL_KOKKOSCONTAINERS_LIB NAMES trilinos_kokkoscontainers kokkoscontainers
               HINTS ${Kokkos_LIBRARY_DIRS})
  if(NOT BILEVEL_KOKKOS_INCLUDE_DIR OR NOT BILEVEL_KOKKOSCORE_LIB OR NOT BILEVEL_KOKKOSCONTAINERS_LIB)
    return()
  endif()
  if(NOT TARGET Kokkos::kokkos)
    add_library(Kokkos::kokkos INTERFACE IMPORTED GLOBAL)
  endif()
  # Replace (not append to) what the broken config set: its include dir is <prefix>/include.
  set_target_properties(Kokkos::kokkos PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${BILEVEL_KOKKOS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${BILEVEL_KOKKOSCONTAINERS_LIB};${BILEVEL_KOKKOSCORE_LIB};${CMAKE_DL_LIBS}"
    INTERFACE_COMPILE_FEATURES "cxx_std_17"
    INTERFACE_COMPILE_OPTIONS "")
  find_path(BILEVEL_KOKKOSKERNELS_INCLUDE_DIR KokkosKernels_config.h HINTS "${BILEVEL_KOKKOS_INCLUDE_DIR}")
  find_library(BILEVEL_KOKKOSKERNELS_LIB NAMES trilinos_kokkoskernels kokkoskernels
               HINTS ${Kokkos_LIBRARY_DIRS})
  if(BILEVEL_KOKKOSKERNELS_INCLUDE_DIR AND BILEVEL_KOKKOSKERNELS_LIB AND NOT TARGET Kokkos::kokkoskernels)
    add_library(Kokkos::kokkoskernels INTERFACE IMPORTED GLOBAL)
    set_target_properties(Kokkos::kokkoskernels PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${BILEVEL_KOKKOSKERNELS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${BILEVEL_KOKKOSKERNELS_LIB};Kokkos::kokkos")
  endif()
  _bilevel_kokkos_from_config_header("${BILEVEL_KOKKOS_INCLUDE_DIR}/KokkosCore_config.h")
  set(BILEVEL_KOKKOS_VERSION "${BILEVEL_KOKKOS_VERSION}" PARENT_SCOPE)
  set(BILEVEL_KOKKOS_BACKENDS "${BILEVEL_KOKKOS_BACKENDS}" PARENT_SCOPE)
  set(BILEVEL_KOKKOS_FLAVOUR "Trilinos packages (${BILEVEL_KOKKOS_INCLUDE_DIR})" PARENT_SCOPE)
endfunction()

set(BILEVEL_KOKKOS_FLAVOUR "")
if(TARGET Kokkos::kokkos AND NOT TARGET trilinos_kokkoscore)
  # A parent project already provides Kokkos (e.g. add_subdirectory(kokkos)).
  set(BILEVEL_KOKKOS_FLAVOUR "provided by the parent project")
  set(BILEVEL_KOKKOS_VERSION "${Kokkos_VERSION}")
  set(BILEVEL_KOKKOS_BACKENDS "${Kokkos_DEVICES}")
else()
  find_package(Kokkos CONFIG QUIET)
  if(Kokkos_FOUND AND TARGET Kokkos::kokkos AND NOT TARGET trilinos_kokkoscore)
    set(BILEVEL_KOKKOS_FLAVOUR "Kokkos CMake package (${Kokkos_DIR})")
    set(BILEVEL_KOKKOS_VERSION "${Kokkos_VERSION}")
    set(BILEVEL_KOKKOS_BACKENDS "${Kokkos_DEVICES}")
  else()
    _bilevel_kokkos_from_trilinos()
  endif()
endif()

if(NOT BILEVEL_KOKKOS_FLAVOUR)
  message(FATAL_ERROR
    "Bilevel: Kokkos was not found. Either install Debian's packages\n"
    "    sudo apt-get install libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev\n"
    "or point CMake at a Kokkos 4.x installation: -DKokkos_ROOT=/path/to/kokkos/install")
endif()
if(BILEVEL_KOKKOS_VERSION VERSION_LESS 3.4)
  message(FATAL_ERROR "Bilevel: Kokkos ${BILEVEL_KOKKOS_VERSION} is too old; 3.4 or newer is needed.")
endif()

if(NOT TARGET Kokkos::kokkoskernels)
  # Kokkos Kernels is usually installed beside Kokkos (as install-kokkos-openmp.sh does).
  find_package(KokkosKernels CONFIG QUIET HINTS "${Kokkos_DIR}/../KokkosKernels")
endif()
if(TARGET Kokkos::kokkoskernels)
  set(BILEVEL_HAVE_KOKKOSKERNELS ON)
else()
  set(BILEVEL_HAVE_KOKKOSKERNELS OFF)
endif()
