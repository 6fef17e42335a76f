#pragma once
// weft::net TCP: TcpListener, TcpStream and its halves. README.md ("A TCP echo server") has
// a complete echo server, built by the tests so it cannot drift.
#include "weft/net/socket_addr.hpp"
#include "weft/net/tcp_listener.hpp"
#include "weft/net/tcp_stream.hpp"
