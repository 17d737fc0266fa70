// srtpgate-pcap: decrypts SRTP/SRTCP captures into plain RTP/RTCP, or encrypts them.
#include <cstdio>
#include <exception>
#include <span>

#include "key_options.h"
#include "pipeline.h"

namespace {
constexpr int kExitIo = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSomeFailed = 3;
}  // namespace

int main(int argc, char** argv) {
  using namespace srtpgate::app;
  const char* program = argc > 0 ? argv[0] : "srtpgate-pcap";
  try {
    const std::span<const char* const> args(argv + (argc > 0 ? 1 : 0),
                                            static_cast<std::size_t>(argc > 0 ? argc - 1 : 0));
    auto options = parse_options(args);
    if (!options) {
      std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program, options.message().c_str(),
                   program);
      return kExitUsage;
    }
    if (options->help) {
      std::fputs(usage(program).c_str(), stdout);
      return 0;
    }
    auto summary = process_capture(*options);
    if (!summary) {
      std::fprintf(stderr, "%s: %s\n", program, summary.message().c_str());
      return kExitIo;
    }
    print_summary(stderr, *options, *summary);
    return summary->failed_total() != 0 ? kExitSomeFailed : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return kExitIo;
  }
}
