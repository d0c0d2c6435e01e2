# SPDX-License-Identifier: GPL-2.0-or-later
# Every third-party library comes from a Debian 12 package (scripts/deps installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing>=2.3)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
pkg_check_modules(CLAMAV REQUIRED IMPORTED_TARGET libclamav>=1.0)
# Hyperscan and Vectorscan both ship as libhs; hs_compile_lit_multi needs 5.2.
pkg_check_modules(HS REQUIRED IMPORTED_TARGET libhs>=5.2)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb>=0.9)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive>=3.6)
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt>=4.4)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl>=7.85)
# sd_notify: kensad tells systemd when it is ready, reloading and stopping (Type=notify).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd>=252)
find_package(OpenSSL 3.0 REQUIRED)
# The metrics endpoint: core (data model, text format) and pull (its HTTP server).
find_package(prometheus-cpp CONFIG REQUIRED COMPONENTS core pull)
find_package(absl REQUIRED)
if(KENSA_TESTS)
  find_package(GTest REQUIRED)
endif()
find_package(Threads REQUIRED)

add_compile_options(-Wall -Wextra -Wno-unused-parameter)
if(KENSA_SANITIZE)
  # -O1 keeps the sanitizer build's integration tests fast enough for CI; the build type
  # (Debug) keeps assertions.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1)
  add_link_options(-fsanitize=address,undefined)
  set(KENSA_JEMALLOC OFF)
endif()
if(KENSA_FUZZ)
  # Coverage for libFuzzer in every object; only the harnesses link the fuzzer's main, so the
  # same tree also builds the unit tests and the programs the integration tests drive.
  if(NOT KENSA_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  set(KENSA_JEMALLOC OFF)
endif()

# Links jemalloc into a final binary: the allocator is a property of the program, not a library.
function(kensa_link_allocator target)
  if(KENSA_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()
