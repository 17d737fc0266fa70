// The srtpgate-pcap command line as a function, so that tests can check exit statuses and
// messages without starting a process.
#pragma once

#include <cstdio>
#include <span>
#include <string_view>

namespace srtpgate::app {

// Exit statuses, as usage() documents them.
constexpr int kExitOk = 0;
constexpr int kExitIo = 1;  // I/O or set-up error, also IN that ends in a truncated record
constexpr int kExitUsage = 2;
constexpr int kExitSomeFailed = 3;

// Runs srtpgate-pcap on the arguments after the program name: --help goes to `out`, the
// summary and every message to `err`. Returns the exit status.
int run_cli(std::string_view program, std::span<const char* const> args, std::FILE* out,
            std::FILE* err) noexcept;

}  // namespace srtpgate::app
