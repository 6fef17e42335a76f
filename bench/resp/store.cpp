#include "store.hpp"

namespace weft_resp {

void Store::Shard::erase(Map::iterator it) {
  if (it->second.expires) deadlines.erase({*it->second.expires, &it->first});
  map.erase(it);
}

Value Store::get(std::string_view key, Instant now) {
  Shard& s = shard_of(key);
  std::lock_guard l(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return nullptr;
  if (it->second.expires && *it->second.expires <= now) {
    s.erase(it);
    return nullptr;
  }
  return it->second.value;
}

void Store::set(std::string_view key, Value value, std::optional<Instant> expires) {
  Shard& s = shard_of(key);
  Value old;  // destroyed after unlocking: freeing a large value is not done under the lock
  std::lock_guard l(s.mu);
  // The key is copied only when it is new (overwriting, the common case, allocates nothing).
  auto it = s.map.find(key);
  const bool inserted = it == s.map.end();
  if (inserted) it = s.map.emplace(std::string(key), Entry{}).first;
  Entry& e = it->second;
  if (!inserted && e.expires) s.deadlines.erase({*e.expires, &it->first});
  old = std::exchange(e.value, std::move(value));
  e.expires = expires;
  if (expires) {
    try {
      s.deadlines.emplace(*expires, &it->first);
    } catch (...) {
      e.expires.reset();  // keep the invariant (a deadline per expiring key) and report it
      s.map.erase(it);
      throw;
    }
  }
}

bool Store::del(std::string_view key, Instant now) {
  Shard& s = shard_of(key);
  std::lock_guard l(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return false;
  const bool live = !it->second.expires || *it->second.expires > now;
  s.erase(it);
  return live;
}

std::size_t Store::sweep(Instant now, std::size_t max) {
  std::size_t erased = 0;
  for (Shard& s : shards_) {
    std::lock_guard l(s.mu);
    while (erased < max && !s.deadlines.empty() && s.deadlines.begin()->first <= now) {
      auto it = s.map.find(*s.deadlines.begin()->second);
      s.erase(it);  // a deadline always names a key of the map
      ++erased;
    }
    if (erased == max) break;
  }
  return erased;
}

template <class F>
std::size_t Store::sum_over_shards(F f) const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard l(s.mu);
    n += f(s);
  }
  return n;
}

std::size_t Store::size() const {
  return sum_over_shards([](const Shard& s) { return s.map.size(); });
}

std::size_t Store::deadlines() const {
  return sum_over_shards([](const Shard& s) { return s.deadlines.size(); });
}

}  // namespace weft_resp
