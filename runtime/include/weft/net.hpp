#pragma once
// Umbrella header of weft::net: SocketAddr, TCP (TcpListener, TcpStream) and UDP (UdpSocket),
// on the runtime's I/O driver. weft::io::AsyncFd (weft/io/async_fd.hpp) is the building block
// for other descriptors.
#include "weft/net/socket_addr.hpp"
#include "weft/net/tcp.hpp"
#include "weft/net/udp.hpp"
