# Installs the library, its headers and a relocatable CMake package:
#   find_package(Bilevel REQUIRED)  ->  Bilevel::bilevel
include(CMakePackageConfigHelpers)
set(BILEVEL_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Bilevel")

install(TARGETS bilevel EXPORT BilevelTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/lib/bilevel" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/lib/bilevel/config.hpp"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bilevel)
install(EXPORT BilevelTargets NAMESPACE Bilevel:: DESTINATION ${BILEVEL_CMAKE_DIR})

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/BilevelConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/BilevelConfig.cmake" INSTALL_DESTINATION ${BILEVEL_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/BilevelConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/BilevelConfig.cmake"
              "${PROJECT_BINARY_DIR}/BilevelConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/BilevelFindKokkos.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/BilevelFindHDF5.cmake"
        DESTINATION ${BILEVEL_CMAKE_DIR})
