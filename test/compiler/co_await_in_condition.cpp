// g++ 12.2 miscompiles a coroutine whose body has `co_await` in an `if` condition: the
// coroutine below never starts (its first statement never runs) and `outer` never completes.
// No weft here: a minimal lazy task. clang++ 14 prints "a starts" and "done=1 value=2".
// Not part of the test suite (it would fail under g++ 12): README, "Compilers"; build it by
// hand to check a compiler:  g++ -std=c++20 -O2 test/compiler/co_await_in_condition.cpp
#include <coroutine>
#include <cstdio>
#include <utility>

template <class T>
struct Task {
  struct promise_type {
    T value{};
    std::coroutine_handle<> cont;
    Task get_return_object() { return Task{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        auto c = h.promise().cont;
        return c ? c : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_value(T v) { value = v; }
    void unhandled_exception() {}
  };
  std::coroutine_handle<promise_type> h;
  explicit Task(std::coroutine_handle<promise_type> x) : h(x) {}
  Task(Task&& o) noexcept : h(std::exchange(o.h, {})) {}
  ~Task() {
    if (h) h.destroy();
  }
  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> p) {
      h.promise().cont = p;
      return h;
    }
    T await_resume() { return h.promise().value; }
  };
  Awaiter operator co_await() && { return Awaiter{h}; }
};

Task<bool> step() { co_return true; }

Task<int> a(int& x) {
  std::puts("a starts");
  if (!co_await step()) co_return 0;  // the pattern
  ++x;
  co_return 0;
}

Task<int> outer() {
  int x = 1;
  co_await a(x);
  co_return x;
}

int main() {
  auto t = outer();
  t.h.resume();
  std::printf("done=%d value=%d\n", int(t.h.done()), t.h.promise().value);
  return t.h.done() && t.h.promise().value == 2 ? 0 : 1;
}
