// A main for a fuzz target without libFuzzer, for the test suite (test/CMakeLists.txt): runs
// LLVMFuzzerTestOneInput on every file under the paths given (the committed corpus), then on
// pseudo-random inputs from a fixed seed. Deterministic, and builds with any compiler.
//
// Usage: <target>_replay [--random N] [--seed S] [--max-len L] [file-or-directory...]
// On a failure it names the input; a random input is also written to
// <target>_replay-failure.bin in the working directory, to replay with the libFuzzer build
// (`build/fuzz/fuzz/<target> <file>`) or with this program. An input that runs longer than
// 20 s (a join_next that never completes: a lost wake-up) fails the same way.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;

std::string g_program;
std::string g_input_name;
std::vector<std::uint8_t> g_input;
bool g_random_input = false;

void report_failure() {
  std::fprintf(stderr, "%s: failed on input %s (%zu bytes)\n", g_program.c_str(), g_input_name.c_str(), g_input.size());
  if (!g_random_input) return;
  const std::string out = fs::path(g_program).filename().string() + "-failure.bin";
  std::ofstream f(out, std::ios::binary);
  f.write(reinterpret_cast<const char*>(g_input.data()), static_cast<std::streamsize>(g_input.size()));
  std::fprintf(stderr, "%s: the input was written to %s\n", g_program.c_str(), out.c_str());
}

constexpr unsigned kInputSeconds = 20;

// SIGALRM: an input ran too long. Not async-signal-safe, but the process is about to die.
void on_alarm(int) {
  std::fprintf(stderr, "weft fuzz: an input ran longer than %u s (a wait that never ends?)\n", kInputSeconds);
  report_failure();
  std::_Exit(1);
}

void run_one() {
  alarm(kInputSeconds);
  LLVMFuzzerTestOneInput(g_input.data(), g_input.size());
  alarm(0);
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: %s [--random N] [--seed S] [--max-len L] [file-or-directory...]\n", g_program.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  g_program = argv[0];
  weft_fuzz::on_failure = report_failure;
  std::signal(SIGALRM, on_alarm);
  unsigned long random_inputs = 0, seed = 1, max_len = 1024;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--random" || a == "--seed" || a == "--max-len") {
      if (i + 1 == argc) usage();
      const unsigned long v = std::strtoul(argv[++i], nullptr, 10);
      (a == "--random" ? random_inputs : a == "--seed" ? seed : max_len) = v;
    } else if (fs::is_directory(a)) {
      for (const auto& e : fs::recursive_directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", g_program.c_str(), a.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::ifstream f(p, std::ios::binary);
    g_input.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    g_input_name = p.string();
    run_one();
  }
  g_random_input = true;
  std::mt19937_64 rng(seed);
  for (unsigned long n = 0; n < random_inputs; ++n) {
    g_input.resize(static_cast<std::size_t>(rng() % (max_len + 1)));
    for (auto& b : g_input) b = static_cast<std::uint8_t>(rng());
    g_input_name = "random #" + std::to_string(n) + " of seed " + std::to_string(seed);
    run_one();
  }
  std::printf("%s: %zu corpus files and %lu random inputs (seed %lu): every property held\n", g_program.c_str(),
              files.size(), random_inputs, seed);
  return 0;
}
