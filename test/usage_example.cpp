// The README usage example, built and run as a test so it keeps compiling.
#include <weft/weft.hpp>

weft::Task<int> fib(int n) {
  if (n < 2) co_return n;
  auto a = weft::spawn(fib(n - 1));  // runs in parallel on the runtime's workers
  int b = co_await fib(n - 2);      // runs inline on this task
  co_return co_await a + b;          // a JoinHandle yields the value (or throws JoinError)
}

int main() {
  weft::Runtime rt;                  // one worker per hardware thread
  return rt.block_on(fib(20)) == 6765 ? 0 : 1;
}
