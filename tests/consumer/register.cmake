# Registers the consumer test: install this build into a scratch prefix, then configure, build
# and run tests/consumer against it with ctest --build-and-test.
set(_prefix "${CMAKE_CURRENT_BINARY_DIR}/consumer-install")
add_test(NAME consumer.install
         COMMAND ${CMAKE_COMMAND} --install "${PROJECT_BINARY_DIR}" --prefix "${_prefix}")
set_tests_properties(consumer.install PROPERTIES FIXTURES_SETUP bilevel_installed)
add_test(NAME consumer.find_package
         COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test
                 "${CMAKE_CURRENT_SOURCE_DIR}/consumer" "${CMAKE_CURRENT_BINARY_DIR}/consumer-build"
                 --build-generator "${CMAKE_GENERATOR}"
                 --build-options "-DCMAKE_PREFIX_PATH=${_prefix}"
                                 "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
                                 "-DCMAKE_BUILD_TYPE=Release"
                 --test-command consumer)
set_tests_properties(consumer.find_package PROPERTIES FIXTURES_REQUIRED bilevel_installed)
