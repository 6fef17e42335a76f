#include "weft/waker.hpp"

namespace weft {
namespace {
void* noop_clone(void* d) noexcept { return d; }
void noop(void*) noexcept {}
constexpr WakerVTable noop_vtable{&noop_clone, &noop, &noop, &noop};
}  // namespace

Waker::Waker() noexcept : vtable_(&noop_vtable), data_(nullptr) {}
void Waker::reset_to_noop() noexcept {
  vtable_ = &noop_vtable;
  data_ = nullptr;
}
}  // namespace weft
