#!/bin/sh
# Fails if a weft source, test, benchmark or fuzz target puts co_await in an if condition:
# g++ 12.2 compiles such a coroutine into one that never starts (README, "Compilers";
# test/compiler/co_await_in_condition.cpp shows it).
cd "$(dirname "$0")/.." || exit 2
if grep -rnE '\bif \([^)]*co_await' runtime containers bench test fuzz --include='*.cpp' --include='*.hpp' \
    --exclude=co_await_in_condition.cpp; then
  echo "co_await in an if condition (above): bind the result to a variable first" >&2
  exit 1
fi
exit 0
