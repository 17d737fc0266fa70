#include "cli.h"

#include <exception>
#include <string>

#include "capture_io.h"
#include "key_options.h"
#include "pipeline.h"

namespace srtpgate::app {

int run_cli(std::string_view program, std::span<const char* const> args, std::FILE* out,
            std::FILE* err) noexcept {
  const int n = static_cast<int>(program.size());
  const char* p = program.data();
  const auto fail = [&](int status, const std::string& message) {
    std::fprintf(err, "%.*s: %s\n", n, p, message.c_str());
    return status;
  };
  try {
    auto options = parse_options(args);
    if (!options) {
      std::fprintf(err, "%.*s: %s\n(see %.*s --help)\n", n, p, options.message().c_str(), n, p);
      return kExitUsage;
    }
    if (options->help) {
      std::fputs(usage(program).c_str(), out);
      return kExitOk;
    }
    // A usage error, so checked here too; process_capture() checks again for other callers.
    if (auto r = refuse_same_file(options->in_path, options->out_path); !r) {
      return fail(kExitUsage, r.message());
    }
    auto summary = process_capture(*options);
    if (!summary) {
      return fail(kExitIo, summary.message());
    }
    print_summary(err, *options, *summary);
    if (!summary->read_error.empty()) {
      return fail(kExitIo, summary->read_error);
    }
    return summary->failed_total() != 0 ? kExitSomeFailed : kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(err, "%.*s: %s\n", n, p, e.what());
    return kExitIo;
  }
}

}  // namespace srtpgate::app
