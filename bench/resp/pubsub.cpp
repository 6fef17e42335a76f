#include "pubsub.hpp"

#include <mutex>
#include <utility>

#include "resp.hpp"

namespace weft_resp {

weft::broadcast::Receiver<Message> PubSub::Table::subscribe(const std::string& name, std::size_t capacity) {
  std::unique_lock l(mu);
  auto it = senders.find(name);
  if (it != senders.end()) return it->second.subscribe();
  auto [tx, rx] = weft::broadcast::channel<Message>(capacity);
  senders.emplace(name, std::move(tx));
  return std::move(rx);
}

void PubSub::Table::release(const std::string& name) {
  std::unique_lock l(mu);
  auto it = senders.find(name);
  if (it != senders.end() && it->second.receiver_count() == 0) senders.erase(it);
}

std::size_t PubSub::Table::size() const {
  std::shared_lock l(mu);
  return senders.size();
}

Published::Published(std::string_view channel, std::string_view payload) {
  frame_.reserve(channel.size() + payload.size() + 48);
  frame_ = "*3\r\n$7\r\nmessage\r\n";
  tail_at_ = frame_.size();
  put_bulk(frame_, channel);
  channel_len_ = channel.size();
  channel_at_ = frame_.size() - 2 - channel_len_;  // put_bulk ends with the name and CRLF
  put_bulk(frame_, payload);
}

std::size_t PubSub::publish(const std::string& channel, std::string_view payload) {
  const auto msg = std::make_shared<const Published>(channel, payload);
  std::size_t receivers = 0;
  {
    std::shared_lock l(channels_.mu);
    auto it = channels_.senders.find(channel);
    // An error means no receiver: the last one left and has not released the channel yet.
    if (it != channels_.senders.end())
      if (auto r = it->second.send(msg)) receivers += *r;
  }
  std::shared_lock l(patterns_.mu);
  for (auto& [pattern, tx] : patterns_.senders)
    if (glob_match(pattern, msg->channel()))
      if (auto r = tx.send(msg)) receivers += *r;
  return receivers;
}

}  // namespace weft_resp
