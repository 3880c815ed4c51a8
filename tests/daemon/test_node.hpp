// A node for daemon tests: a fresh signed device identity connecting with role node and the
// gateway token from this machine, so the gateway pairs it silently.
// Fails: a refused connect fails the calling test (the socket is returned all the same).
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "gateway_process.hpp"
#include "test_device.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {

// The node's socket after hello-ok; the hello-ok payload goes to `hello` when given.
inline std::unique_ptr<WsClient> connect_node(const GatewayProcess& gw,
                                              nlohmann::json* hello = nullptr, int wait_ms = 5000) {
  auto ws = std::make_unique<WsClient>();
  ws->connect(gw.url());
  const nlohmann::json challenge = nlohmann::json::parse(ws->read(wait_ms).data);
  const testing_support::TestDevice device = testing_support::TestDevice::make();
  testing_support::ConnectSpec spec;
  spec.client_id = "node-host";
  spec.client_mode = "node";
  spec.role = "node";
  spec.auth = {{"token", gw.token()}};
  const nlohmann::json frame = testing_support::connect_frame(
      &device, spec, challenge["payload"]["nonce"], challenge["payload"]["ts"], "n1");
  ws->send_text(frame.dump());
  const nlohmann::json res = nlohmann::json::parse(ws->read(wait_ms).data);
  EXPECT_TRUE(res.value("ok", false)) << res.dump();
  if (hello) *hello = res.value("payload", nlohmann::json::object());
  return ws;
}

}  // namespace clawgate::test
