// srtpgate-pcap: decrypts SRTP/SRTCP captures into plain RTP/RTCP, or encrypts them. The command
// line, what OUT holds and the exit statuses are usage() (key_options.cc); run_cli() runs it.
#include <cstddef>
#include <span>

#include "cli.h"

int main(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "srtpgate-pcap";
  const std::span<const char* const> args(argv + (argc > 0 ? 1 : 0),
                                          static_cast<std::size_t>(argc > 0 ? argc - 1 : 0));
  return srtpgate::app::run_cli(program, args, stdout, stderr);
}
