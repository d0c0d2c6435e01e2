# SPDX-License-Identifier: GPL-2.0-or-later
# kensa_module(NAME DEPS ...): one static library per folder, from every *.cc in it except
# *_test.cc (unit tests, one gtest binary per folder), *_fuzz.cc (libFuzzer harnesses) and
# *_main.cc (programs, declared by the folder itself). Adding a file needs no CMake edit;
# the library's DEPS make the layering (core <- spool <- net <- appliance) a build error.
function(kensa_module name)
  cmake_parse_arguments(M "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "(_test|_fuzz|_main)\\.cc$")
  if(srcs)
    add_library(kensa_${name} STATIC ${srcs})
    set(scope PUBLIC)
  else()
    add_library(kensa_${name} INTERFACE)  # a folder whose sources have not landed yet
    set(scope INTERFACE)
  endif()
  target_include_directories(kensa_${name} ${scope} ${PROJECT_SOURCE_DIR})
  target_link_libraries(kensa_${name} ${scope} ${M_DEPS})
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  if(tests AND KENSA_TESTS)
    add_executable(${name}_test ${tests})
    target_link_libraries(${name}_test PRIVATE kensa_${name} ${M_TEST_DEPS} GTest::gmock GTest::gtest_main)
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()
endfunction()

# kensa_source_path_definition(FILE NAME VALUE): NAME="VALUE" (an absolute path into this
# tree) for one source file only. ccache (cmake/KensaCcache.cmake) shares objects between
# clones in different folders only while their command lines name no absolute path, so such
# a path is given to the one file that reads it, never to a whole target; for the same
# reason code never derives paths from __FILE__ (relative under ccache's base_dir).
function(kensa_source_path_definition file name value)
  set_property(SOURCE ${file} APPEND PROPERTY COMPILE_DEFINITIONS ${name}="${value}")
endfunction()
