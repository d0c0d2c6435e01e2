// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-sigtool: makes, signs, checks and compares signature bundles (feed/sigtool_cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "feed/sigtool_cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return kensa::feed::RunSigtool(args, std::cout, std::cerr);
}
