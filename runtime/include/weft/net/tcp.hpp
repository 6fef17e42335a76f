#pragma once
// weft::net TCP: TcpListener, TcpStream and its halves. A complete echo server:
//
// ```cpp
// #include <weft/net/tcp.hpp>
// #include <weft/weft.hpp>
//
// #include <array>
// #include <cstdio>
//
// weft::Task<void> echo(weft::net::TcpStream s) {
//   std::array<std::byte, 4096> buf;
//   while (std::size_t n = co_await s.read(buf))   // 0: the client closed its side
//     co_await s.write_all(std::span(buf).first(n));
// }
//
// weft::Task<void> serve() {
//   auto listener = weft::net::TcpListener::bind(weft::net::SocketAddr::parse("127.0.0.1:8080"));
//   std::printf("echo server on %s\n", listener.local_addr().to_string().c_str());
//   for (;;) {
//     auto [stream, peer] = co_await listener.accept();
//     (void)weft::spawn(echo(std::move(stream)));    // one task per connection
//   }
// }
//
// int main() {
//   weft::Runtime rt;
//   rt.block_on(serve());
// }
// ```
//
// (test/CMakeLists.txt builds the block above, as tcp_echo_example, so it cannot drift.)
#include "weft/net/socket_addr.hpp"
#include "weft/net/tcp_listener.hpp"
#include "weft/net/tcp_stream.hpp"
