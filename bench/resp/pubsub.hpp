#pragma once
// The pub/sub registry of weft_resp_server: one weft::broadcast channel per channel name and
// one per pattern, created by the first subscription and removed when its last subscriber
// leaves.
//
// A subscriber holds a broadcast::Receiver per channel or pattern (in its connection's
// StreamMap); PUBLISH sends one Message to the channel's broadcast and to the broadcast of
// every pattern that matches the channel (redis also tests every pattern on each publish).
// A Message is a shared pointer: sending it to a ring of n receivers copies a pointer, not
// the payload.
//
// Locks: a std::shared_mutex per table. PUBLISH takes them shared (publishers run in
// parallel; broadcast::Sender::send has its own lock, and never waits), SUBSCRIBE and the
// release after an unsubscribe take them exclusively, so "no receiver left, remove the
// channel" cannot race with a subscription to the same channel. Lock order: a table, then a
// channel's own lock, never the reverse.
//
// A channel's ring holds `capacity` messages (rounded up to a power of two): a subscriber
// that falls further behind sees broadcast's Lagged, and its connection closes it (redis's
// client-output-buffer-limit for pubsub clients). Each channel costs its ring, about 40
// bytes per slot, whether or not anything is published.
#include <cstddef>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "weft/sync/broadcast.hpp"

namespace weft_resp {

/// A published message, encoded once for all its subscribers: its frame is the whole reply a
/// channel subscriber gets (["message", channel, payload]), so each delivery is one append
/// (redis shares its reply objects the same way); a pattern subscriber gets a pmessage header
/// with its pattern, then the frame's tail (channel and payload).
class Published {
 public:
  Published(std::string_view channel, std::string_view payload);
  [[nodiscard]] std::string_view channel() const noexcept { return std::string_view(frame_).substr(channel_at_, channel_len_); }
  /// The encoded ["message", channel, payload] reply.
  [[nodiscard]] std::string_view message_frame() const noexcept { return frame_; }
  /// The encoded channel and payload (the end of both replies).
  [[nodiscard]] std::string_view tail() const noexcept { return std::string_view(frame_).substr(tail_at_); }

 private:
  std::string frame_;
  std::size_t tail_at_ = 0;
  std::size_t channel_at_ = 0;
  std::size_t channel_len_ = 0;
};
using Message = std::shared_ptr<const Published>;

class PubSub {
 public:
  explicit PubSub(std::size_t capacity) : capacity_(capacity) {}

  /// A receiver of the messages published to `channel` from now on.
  weft::broadcast::Receiver<Message> subscribe(const std::string& channel) {
    return channels_.subscribe(channel, capacity_);
  }
  /// Called after a receiver of `channel` was dropped: removes the channel if it has none left.
  void release(const std::string& channel) { channels_.release(channel); }
  /// A receiver of the messages published to any channel matching `pattern`.
  weft::broadcast::Receiver<Message> psubscribe(const std::string& pattern) {
    return patterns_.subscribe(pattern, capacity_);
  }
  void prelease(const std::string& pattern) { patterns_.release(pattern); }

  /// Sends to the channel's subscribers and to the matching patterns' subscribers; returns
  /// how many receivers will get it (redis's PUBLISH reply).
  std::size_t publish(const std::string& channel, std::string_view payload);

  /// Channels and patterns with subscribers (for the tests that check nothing leaks).
  [[nodiscard]] std::size_t channel_count() const { return channels_.size(); }
  [[nodiscard]] std::size_t pattern_count() const { return patterns_.size(); }

 private:
  struct Table {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, weft::broadcast::Sender<Message>> senders;
    weft::broadcast::Receiver<Message> subscribe(const std::string& name, std::size_t capacity);
    void release(const std::string& name);
    [[nodiscard]] std::size_t size() const;
  };
  std::size_t capacity_;
  Table channels_;
  Table patterns_;
};

}  // namespace weft_resp
