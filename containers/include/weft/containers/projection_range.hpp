#pragma once
// A minimal forward view over a container: elements that satisfy Keep, projected by Proj.
// (Used instead of std::views::filter / transform, which clang 14 cannot compile against
// libstdc++ 12's ranges.)
#include <cstddef>
#include <iterator>
#include <utility>

namespace weft::detail {

struct KeepAll {
  template <class T>
  bool operator()(const T&) const noexcept {
    return true;
  }
};

template <class It, class Proj, class Keep = KeepAll>
class ProjectionRange {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using difference_type = std::ptrdiff_t;
    using reference = decltype(std::declval<Proj&>()(*std::declval<It&>()));
    using value_type = std::remove_cvref_t<reference>;
    iterator() = default;
    iterator(It it, It end, const ProjectionRange* r) : it_(it), end_(end), r_(r) { skip(); }
    reference operator*() const { return r_->proj_(*it_); }
    iterator& operator++() {
      ++it_;
      skip();
      return *this;
    }
    iterator operator++(int) {
      iterator tmp = *this;
      ++*this;
      return tmp;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.it_ == b.it_; }

   private:
    void skip() {
      while (it_ != end_ && !r_->keep_(*it_)) ++it_;
    }
    It it_{}, end_{};
    const ProjectionRange* r_ = nullptr;
  };

  ProjectionRange(It begin, It end, Proj proj, Keep keep = {})
      : begin_(begin), end_(end), proj_(std::move(proj)), keep_(std::move(keep)) {}
  iterator begin() const { return iterator(begin_, end_, this); }
  iterator end() const { return iterator(end_, end_, this); }

 private:
  It begin_, end_;
  Proj proj_;
  Keep keep_;
};

template <class C, class Proj, class Keep = KeepAll>
auto project(C& c, Proj proj, Keep keep = {}) {
  return ProjectionRange<decltype(c.begin()), Proj, Keep>(c.begin(), c.end(), std::move(proj), std::move(keep));
}

}  // namespace weft::detail
