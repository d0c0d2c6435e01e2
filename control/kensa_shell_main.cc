// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-shell: the operator's interface to kensad over the control socket, and the `admin`
// user's login shell on the appliance. Interactive (line editing, history for the session,
// tab completion of command words, `help` and `COMMAND ?`) through the readline interface of
// libedit, which works on a serial console and over SSH alike; `-c "COMMAND"` for scripts
// (sshd runs a login shell that way for `ssh admin@box show status`): exit 0 done, 1 the
// command failed, 2 a usage or connection error. It only speaks the control protocol: no
// shell escape, no files beyond finding the socket (and the history stays in memory).
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#if defined(KENSA_SHELL_LIBEDIT)
#include <editline/readline.h>
#else
#include <readline/history.h>
#include <readline/readline.h>
#endif

#include "absl/strings/str_cat.h"
#include "control/command_table.h"
#include "control/control_client.h"
#include "control/control_protocol.h"
#include "control/socket_path.h"

namespace kensa::control {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
// A command may wait for every reactor, a signature load or a large import.
constexpr absl::Duration kCommandTimeout = absl::Minutes(5);

void Usage(FILE* to) {
  std::fprintf(to,
               "usage: kensa-shell [--socket PATH | --config FILE] [-c COMMAND]\n"
               "  without -c, an interactive shell; `help` lists the commands.\n"
               "  the socket: --socket, else [control] socket or <state_dir>/control.sock of\n"
               "  --config (default %s), else %s\n"
               "  -c: exit 0 done, 1 the command failed, 2 usage or connection error;\n"
               "  `subscriber import` reads its CSV from standard input.\n",
               kDefaultConfigPath, kEmbeddedDefaultSocket);
}

// One command against kensad; prints its answer. Returns the exit status of -c.
int RunOne(const std::string& socket, const std::string& line, const std::vector<std::string>& body,
           bool interactive) {
  absl::StatusOr<Response> r = SendCommand(socket, line, body, kCommandTimeout);
  if (!r.ok()) {
    std::fprintf(stderr, "%s%s\n",
                 interactive ? "% " : "kensa-shell: ", std::string(r.status().message()).c_str());
    return kExitUsage;
  }
  if (r->ok && !r->message.empty()) std::printf("%s\n", r->message.c_str());
  for (const std::string& l : r->lines) std::printf("%s\n", l.c_str());
  std::fflush(stdout);
  if (!r->ok) {
    std::fprintf(stderr, "%s%s\n", interactive ? "% " : "kensa-shell: ", r->message.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

std::string Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// "help", "help TOPIC" and "TOPIC ?" are answered here from the command table.
bool IsHelp(std::string_view line, std::string* topic) {
  const std::string t = Strip(line);
  if (t == "help" || t == "?") {
    topic->clear();
    return true;
  }
  if (t.starts_with("help ")) {
    *topic = Strip(std::string_view(t).substr(5));
    return true;
  }
  if (t.ends_with("?")) {
    *topic = Strip(std::string_view(t).substr(0, t.size() - 1));
    return true;
  }
  return false;
}

int PrintHelp(const std::string& topic) {
  std::string text = HelpText(topic);
  if (text.empty()) {
    std::fprintf(stderr, "%% no command starts with \"%s\"; try help\n", topic.c_str());
    return kExitUsage;
  }
  if (topic.empty())
    text +=
        "help [COMMAND]               this list, or the commands that start so\nexit               "
        "          leave the shell\n";
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

int RunScript(const std::string& socket, const std::string& line) {
  std::string topic;
  if (IsHelp(line, &topic)) return PrintHelp(topic);
  absl::StatusOr<ParsedCommand> cmd = ParseCommand(line);
  if (!cmd.ok()) {
    std::fprintf(stderr, "kensa-shell: %s\n", std::string(cmd.status().message()).c_str());
    return kExitUsage;
  }
  std::vector<std::string> body;
  if (cmd->spec->takes_body) {
    std::string l;
    size_t total = 0;
    while (std::getline(std::cin, l)) {
      total += l.size() + 1;
      if (total > kMaxRequestBytes) {
        std::fprintf(stderr, "kensa-shell: input longer than %zu bytes\n", kMaxRequestBytes);
        return kExitUsage;
      }
      body.push_back(l);
    }
  }
  return RunOne(socket, line, body, false);
}

// Completion: the command words that fit where the cursor is; never file names.
char* CompletionGenerator(const char* text, int state) {
  static std::vector<std::string> matches;
  static size_t next = 0;
  if (state == 0) {
    (void)text;
    matches = CompleteWord(std::string_view(rl_line_buffer, static_cast<size_t>(rl_point)));
    next = 0;
  }
  if (next >= matches.size()) return nullptr;
  return strdup(matches[next++].c_str());
}

char** Complete(const char* text, int /*start*/, int /*end*/) {
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, CompletionGenerator);
}

char* NoFileCompletion(const char*, int) { return nullptr; }

int RunInteractive(const std::string& socket) {
  // The login shell of the appliance: ^C and ^\ must not end the session or leave a core.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  rl_readline_name = const_cast<char*>("kensa-shell");
  rl_attempted_completion_function = Complete;
  rl_completion_entry_function = NoFileCompletion;
  using_history();
  std::printf("kensa-shell: connected to %s; `help` lists the commands, TAB completes.\n",
              socket.c_str());
  for (;;) {
    char* raw = readline("kensa> ");
    if (raw == nullptr) {
      std::printf("\n");
      return kExitOk;
    }
    std::string line(raw);
    std::free(raw);
    const std::string t = Strip(line);
    if (t.empty()) continue;
    add_history(line.c_str());
    if (t == "exit" || t == "quit" || t == "logout") return kExitOk;
    std::string topic;
    if (IsHelp(t, &topic)) {
      PrintHelp(topic);
      continue;
    }
    absl::StatusOr<ParsedCommand> cmd = ParseCommand(t);
    if (!cmd.ok()) {
      std::printf("%% %s\n", std::string(cmd.status().message()).c_str());
      continue;
    }
    std::vector<std::string> body;
    if (cmd->spec->takes_body) {
      std::printf("CSV, header first (address,inbound,outbound,action); a line with only . ends\n");
      for (;;) {
        char* in = readline("csv> ");
        if (in == nullptr) break;
        std::string l(in);
        std::free(in);
        if (l == ".") break;
        body.push_back(std::move(l));
      }
    }
    RunOne(socket, t, body, true);
  }
}

int Main(int argc, char** argv) {
  std::string socket, config, command;
  bool have_command = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--socket" || a == "--config" || a == "-c") && i + 1 >= argc) {
      Usage(stderr);
      return kExitUsage;
    }
    if (a == "--socket") {
      socket = argv[++i];
    } else if (a == "--config") {
      config = argv[++i];
    } else if (a == "-c") {
      command = argv[++i];
      have_command = true;
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      return kExitOk;
    } else {
      Usage(stderr);
      return kExitUsage;
    }
  }
  if (socket.empty()) {
    const bool explicit_config = !config.empty();
    if (!explicit_config) config = kDefaultConfigPath;
    if (explicit_config || access(config.c_str(), R_OK) == 0) {
      absl::StatusOr<std::string> s = ControlSocketFromConfigFile(config);
      if (!s.ok()) {
        std::fprintf(stderr, "kensa-shell: %s\n", std::string(s.status().message()).c_str());
        return kExitUsage;
      }
      socket = *s;
    } else {
      socket = kEmbeddedDefaultSocket;
    }
  }
  if (have_command) return RunScript(socket, command);
  if (!isatty(STDIN_FILENO)) {
    // Commands on standard input, one per line, as with -c each; the worst status wins.
    int worst = kExitOk;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (Strip(line).empty()) continue;
      worst = std::max(worst, RunScript(socket, line));
    }
    return worst;
  }
  return RunInteractive(socket);
}

}  // namespace
}  // namespace kensa::control

int main(int argc, char** argv) { return kensa::control::Main(argc, argv); }
