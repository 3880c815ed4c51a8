// HttpClient against a raw loopback server: cancelling a request whose body is still being
// written, then sending the next one on the same client (what the agent worker does when a run
// is interrupted and its connection goes back to the pool).
#include "http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace clawgate::workers {
namespace {

using boost::asio::ip::tcp;

TEST(HttpClient, ANewRequestAfterCancellingOneMidWriteIsSentWhole) {
  boost::asio::io_context server_io;
  tcp::acceptor acceptor(server_io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = acceptor.local_endpoint().port();
  std::string second_request;
  std::thread server([&] {
    tcp::socket stalled = acceptor.accept();  // never read: the first body stays unwritten
    tcp::socket s = acceptor.accept();
    boost::asio::streambuf buf;
    boost::system::error_code ec;
    boost::asio::read_until(s, buf, "\r\n\r\n", ec);
    second_request.assign(boost::asio::buffers_begin(buf.data()),
                          boost::asio::buffers_end(buf.data()));
    const std::string answer =
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n好的";
    boost::asio::write(s, boost::asio::buffer(answer), ec);
  });

  boost::asio::io_context io;
  HttpClient client(io, "http://127.0.0.1:" + std::to_string(port) + "/v1");
  std::optional<HttpResponse> first, second;
  // Larger than any socket buffer: the write is still in progress when it is cancelled.
  client.post_json("/big", std::string(32 * 1024 * 1024, 'x'), 10'000,
                   [&](HttpResponse r) { first = std::move(r); });
  io.run_for(std::chrono::milliseconds(200));
  ASSERT_FALSE(first) << "the first request finished before it could be cancelled";
  client.cancel();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->error, "cancelled");
  client.post_json("/small", R"({"text":"مرحبا 🎉"})", 10'000,
                   [&](HttpResponse r) { second = std::move(r); });
  for (int i = 0; i < 100 && !second; ++i) io.run_for(std::chrono::milliseconds(50));
  server.join();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->error, "");
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "好的");
  EXPECT_EQ(second_request.rfind("POST /v1/small HTTP/1.1\r\n", 0), 0u) << second_request;
}

}  // namespace
}  // namespace clawgate::workers
