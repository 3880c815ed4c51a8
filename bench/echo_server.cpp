// clawgate-echo: a bare websocketpp 0.8.2 echo server (stock server<config::asio>, one thread,
// logs off, TCP_NODELAY like the gateway). It sends every message back unchanged. It is the
// ceiling the gateway's request throughput is compared against in bench/run.sh: the same
// framing library and event loop, with no protocol work at all.
// Usage: clawgate-echo [--port 0] [--bind 127.0.0.1]; prints "listening on ws://HOST:PORT".
// Fails: exit 2 on bad arguments or an address outside 127.0.0.0/8, exit 1 when it cannot
// listen; a failed send or a broken connection only drops that connection.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

namespace {

using Server = websocketpp::server<websocketpp::config::asio>;

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
  std::string bind = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      char* end = nullptr;
      port = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "clawgate-echo: --port must be 0..65535\n");
        return 2;
      }
    } else if (a == "--bind" && i + 1 < argc) {
      bind = argv[++i];
    } else {
      std::fprintf(stderr, "usage: clawgate-echo [--port 0] [--bind 127.0.0.1]\n");
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  raise_nofile();

  Server server;
  server.clear_access_channels(websocketpp::log::alevel::all);
  server.clear_error_channels(websocketpp::log::elevel::all);
  try {
    websocketpp::lib::asio::error_code ec;
    const auto addr = websocketpp::lib::asio::ip::make_address(bind, ec);
    if (ec || !addr.is_v4() || (addr.to_v4().to_uint() >> 24) != 127) {
      std::fprintf(stderr, "clawgate-echo: --bind must be an address in 127.0.0.0/8\n");
      return 2;
    }
    server.init_asio();
    server.set_reuse_addr(true);
    server.set_listen_backlog(1024);
    server.set_socket_init_handler(
        [](websocketpp::connection_hdl, websocketpp::lib::asio::ip::tcp::socket& s) {
          websocketpp::lib::asio::error_code ignored;
          s.set_option(websocketpp::lib::asio::ip::tcp::no_delay(true), ignored);
        });
    server.set_message_handler([&server](websocketpp::connection_hdl h, Server::message_ptr msg) {
      websocketpp::lib::error_code send_ec;
      server.send(h, msg->get_payload(), msg->get_opcode(), send_ec);
      // A failed send means the connection is going away; websocketpp closes it.
    });
    server.listen(
        websocketpp::lib::asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port)));
    server.start_accept();
    const auto local = server.get_local_endpoint(ec);
    if (ec) {
      std::fprintf(stderr, "clawgate-echo: cannot read the listening port: %s\n",
                   ec.message().c_str());
      return 1;
    }
    std::printf("listening on ws://%s:%u\n", bind.c_str(), static_cast<unsigned>(local.port()));
    std::fflush(stdout);
    server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clawgate-echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
