#pragma once
// FlatIndex: the key -> slot index of ReadyStreamMap, an open-addressing hash table with
// linear probing and backward-shift deletion (no tombstones). It stores no keys: each cell
// holds a slot number and 32 bits of the key's hash, and the caller supplies the equality
// test on slots (the keys live in the map's slots). So an insert or erase allocates nothing
// unless the table grows, and the table costs 8 bytes a cell. Load factor at most 1/2.
//
// Invariants: capacity is 0 or a power of two; every stored cell lies on the probe path
// from its home position (hash & mask) with no empty cell in between (what deletion by
// backward shift preserves).
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace weft::detail {

class FlatIndex {
 public:
  static constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();

  /// 32 well-mixed bits of a std::hash value (libstdc++ hashes integers to themselves).
  static std::uint32_t mix(std::size_t h) noexcept {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(h) * 0x9E3779B97F4A7C15ull) >> 32);
  }

  FlatIndex() = default;
  FlatIndex(FlatIndex&& o) noexcept : cells_(std::move(o.cells_)), size_(std::exchange(o.size_, 0)) {}
  FlatIndex& operator=(FlatIndex&& o) noexcept {
    cells_ = std::move(o.cells_);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  void reserve(std::size_t n) {
    std::size_t want = 8;
    while (want < 2 * n) want *= 2;
    if (want > cells_.size()) rehash(want);
  }
  void clear() noexcept {
    for (auto& c : cells_) c.slot = none;
    size_ = 0;
  }

  /// The slot whose key has hash `h` and satisfies `is_key(slot)`, or `none`.
  template <class IsKey>
  [[nodiscard]] std::uint32_t find(std::uint32_t h, IsKey&& is_key) const {
    if (cells_.empty()) return none;
    for (std::size_t i = h & mask(); cells_[i].slot != none; i = (i + 1) & mask())
      if (cells_[i].hash == h && is_key(cells_[i].slot)) return cells_[i].slot;
    return none;
  }

  /// Adds `slot` under hash `h`; its key must not be present.
  void insert(std::uint32_t h, std::uint32_t slot) {
    if (2 * (size_ + 1) > cells_.size()) rehash(cells_.empty() ? 8 : 2 * cells_.size());
    place(h, slot);
    ++size_;
  }

  /// Removes the cell of the slot with hash `h` satisfying `is_key(slot)`; returns the slot
  /// or `none`.
  template <class IsKey>
  std::uint32_t erase(std::uint32_t h, IsKey&& is_key) {
    if (cells_.empty()) return none;
    std::size_t i = h & mask();
    for (; cells_[i].slot != none; i = (i + 1) & mask())
      if (cells_[i].hash == h && is_key(cells_[i].slot)) break;
    const std::uint32_t slot = cells_[i].slot;
    if (slot == none) return none;
    // Backward shift: move later cells of the cluster into the hole when the hole lies on
    // their probe path (between their home and their position).
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask(); cells_[j].slot != none; j = (j + 1) & mask()) {
      const std::size_t home = cells_[j].hash & mask();
      if (((j - home) & mask()) >= ((j - hole) & mask())) {
        cells_[hole] = cells_[j];
        hole = j;
      }
    }
    cells_[hole].slot = none;
    --size_;
    return slot;
  }

 private:
  struct Cell {
    std::uint32_t slot = none;
    std::uint32_t hash = 0;
  };
  [[nodiscard]] std::size_t mask() const noexcept { return cells_.size() - 1; }
  void place(std::uint32_t h, std::uint32_t slot) noexcept {
    std::size_t i = h & mask();
    while (cells_[i].slot != none) i = (i + 1) & mask();
    cells_[i] = Cell{slot, h};
  }
  void rehash(std::size_t capacity) {
    std::vector<Cell> old(capacity);
    old.swap(cells_);
    for (const Cell& c : old)
      if (c.slot != none) place(c.hash, c.slot);
  }

  std::vector<Cell> cells_;
  std::size_t size_ = 0;
};

}  // namespace weft::detail
