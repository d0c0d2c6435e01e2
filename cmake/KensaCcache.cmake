# SPDX-License-Identifier: GPL-2.0-or-later
# ccache (scripts/deps installs it) as the launcher of every compile, in every preset. The
# cache lives outside the clone (ccache's default, ~/.cache/ccache, or CCACHE_DIR). base_dir
# is the source tree (build trees live under it) and the working directory is not hashed, so
# a fresh clone in another folder hits what an earlier clone compiled. ccache 4.7 has no
# KEY=VALUE arguments, hence `cmake -E env`.
option(KENSA_CCACHE "Compile through ccache when it is installed" ON)
if(KENSA_CCACHE)
  find_program(KENSA_CCACHE_PROGRAM ccache)
  if(KENSA_CCACHE_PROGRAM)
    set(launcher ${CMAKE_COMMAND} -E env
        CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${KENSA_CCACHE_PROGRAM})
    set(CMAKE_C_COMPILER_LAUNCHER ${launcher} CACHE STRING "" FORCE)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${launcher} CACHE STRING "" FORCE)
  endif()
endif()
