# Finds the HDF5 C library (checkpoints) and provides the imported target Bilevel::hdf5.
# Looks in the serial-HDF5 locations Debian and Ubuntu use (hdf5/serial) as well as the plain
# prefix layout; set HDF5_ROOT for another installation. Used by the build and by the
# installed BilevelConfig.cmake (the static library needs HDF5 at the consumer's link step).
include_guard(GLOBAL)
if(NOT TARGET Bilevel::hdf5)
  find_path(BILEVEL_HDF5_INCLUDE_DIR hdf5.h HINTS ${HDF5_ROOT} PATH_SUFFIXES include hdf5/serial include/hdf5/serial)
  find_library(BILEVEL_HDF5_LIBRARY NAMES hdf5_serial hdf5 HINTS ${HDF5_ROOT}
               PATH_SUFFIXES lib hdf5/serial lib/x86_64-linux-gnu/hdf5/serial)
  if(NOT BILEVEL_HDF5_INCLUDE_DIR OR NOT BILEVEL_HDF5_LIBRARY)
    message(FATAL_ERROR "Bilevel: the HDF5 C library was not found (checkpoints need it). Install it with: "
                        "sudo apt-get install libhdf5-dev (or set HDF5_ROOT)")
  endif()
  add_library(Bilevel::hdf5 INTERFACE IMPORTED GLOBAL)
  set_target_properties(Bilevel::hdf5 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${BILEVEL_HDF5_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${BILEVEL_HDF5_LIBRARY}")
endif()
