// In-process tests: device identity, pairing and device tokens at the handshake and through
// the device.* methods, including OpenClaw's fixed advisories (issue 9):
//  1. local trust through a proxy: forwarding headers or a foreign Host are never local;
//  2. ClawJacked: a browser page never pairs silently unless it is this gateway's own;
//  3. scopes are never self-granted: they come from the pending request, the approver must
//     cover them, and a token never serves more than its record;
//  4. a device token is always verified before it authenticates (revoked, role, scopes);
//  5. a device block is always verified, even when the shared secret is right;
//  7. a revoked token fails the next connect and closes the live socket (4001).
// Every frame the tests read is checked against clawgate's schema.
#include <gtest/gtest.h>
#include <unistd.h>

#include "inproc_gateway.hpp"
#include "protocol_gen.hpp"
#include "test_device.hpp"

namespace clawgate::inproc {
namespace {

using testing_support::ConnectSpec;
using testing_support::TestDevice;

front::PeerInfo local_peer() {
  front::PeerInfo p;
  p.socket_ip = "127.0.0.1";
  p.host = "127.0.0.1:18789";
  return p;
}
front::PeerInfo remote_peer(const std::string& ip = "203.0.113.7") {
  front::PeerInfo p;
  p.socket_ip = ip;
  p.host = "gateway.example.net:18789";
  return p;
}

Json valid(schema::Def d, const Json& v, const std::string& what) {
  schema::Errors e;
  EXPECT_TRUE(schema::validate(d, v, e)) << what << ": " << e.text() << "\n" << v.dump();
  return v;
}

struct Devices : ::testing::Test {
  explicit Devices(bool auto_approve = true) {
    WorldOptions o;
    o.state_dir = "/tmp/clawgate-inproc-devices-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name();
    o.keep_frames = true;
    o.auto_approve_local = auto_approve;
    dir = o.state_dir;
    world = std::make_unique<World>(o);
  }
  ~Devices() override {
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  struct Outcome {
    ConnId conn = 0;
    Json res;  // the connect's response frame
    bool ok() const { return res.value("ok", false); }
    Json error() const { return res.value("error", Json::object()); }
    std::string detail_code() const {
      return error().value("details", Json::object()).value("code", "");
    }
  };

  // Opens a connection from `peer` and connects as `d` (nullptr: no device block).
  Outcome connect(const front::PeerInfo& peer, const TestDevice* d, const ConnectSpec& c) {
    Outcome o;
    o.conn = world->open(peer);
    EXPECT_NE(o.conn, 0u);
    const Json challenge = world->received(o.conn).at(0);
    EXPECT_EQ(challenge.value("event", ""), "connect.challenge");
    const Json& p = challenge["payload"];
    world->deliver(o.conn, testing_support::connect_frame(d, c, p["nonce"], p["ts"]).dump());
    o.res = world->response(o.conn, "c1");
    EXPECT_TRUE(o.res.is_object()) << "no connect response";
    if (o.ok()) {
      valid(schema::Def::HelloOk, o.res["payload"], "hello-ok");
    } else {
      valid(schema::Def::ErrorShape, o.error(), "connect error");
      EXPECT_TRUE(world->closed(o.conn));
    }
    return o;
  }

  // A local operator without a device (the CLI with the shared token): what `openclaw devices`
  // does on this machine.
  ConnId admin(std::vector<std::string> scopes = {"operator.admin"}) {
    ConnectSpec c;
    c.scopes = std::move(scopes);
    c.auth = {{"token", World::kToken}};
    Outcome o = connect(local_peer(), nullptr, c);
    EXPECT_TRUE(o.ok()) << o.res.dump();
    return o.conn;
  }

  Json call(ConnId c, const std::string& method, const Json& params) {
    const std::string rid = world->request(c, method, params);
    Json r = world->response(c, rid);
    EXPECT_TRUE(r.is_object()) << method << ": no response";
    if (r.value("ok", false)) {
      const schema::MethodSpec* spec = schema::find_method(method);
      if (spec && spec->hasResult) valid(spec->result, r["payload"], method);
    }
    return r;
  }

  std::vector<Json> events(ConnId c, const std::string& name) {
    std::vector<Json> out;
    for (const auto& f : world->received(c))
      if (f.value("type", "") == "event" && f.value("event", "") == name) {
        const schema::EventSpec* spec = schema::find_event(name);
        if (spec) valid(spec->payload, f["payload"], name);
        out.push_back(f["payload"]);
      }
    return out;
  }

  std::string dir;
  std::unique_ptr<World> world;
};

struct DevicesNoAutoApprove : Devices {
  DevicesNoAutoApprove() : Devices(false) {}
};

ConnectSpec with_token(std::vector<std::string> scopes = {"operator.read", "operator.write"}) {
  ConnectSpec c;
  c.scopes = std::move(scopes);
  c.auth = {{"token", World::kToken}};
  return c;
}

TEST_F(Devices, ALocalDeviceWithTheTokenPairsSilentlyAndReconnectsWithItsDeviceToken) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  ConnectSpec c = with_token();
  c.display_name = "书房的电脑 👩‍💻";
  Outcome first = connect(local_peer(), &d, c);
  ASSERT_TRUE(first.ok()) << first.res.dump();
  const Json& auth = first.res["payload"]["auth"];
  EXPECT_EQ(auth["role"], "operator");
  EXPECT_EQ(auth["scopes"], (Json{"operator.read", "operator.write"}));
  ASSERT_TRUE(auth.contains("deviceToken"));
  EXPECT_FALSE(auth.contains("method"));
  EXPECT_TRUE(auth.contains("issuedAtMs"));
  const auto resolved = events(op, "device.pair.resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["decision"], "approved");
  EXPECT_EQ(resolved[0]["deviceId"], d.id);
  EXPECT_TRUE(events(op, "device.pair.requested").empty()) << "silent: nobody is asked";

  // Without the shared token: the device token alone authenticates.
  ConnectSpec again = c;
  again.auth = {{"deviceToken", auth["deviceToken"]}};
  Outcome second = connect(remote_peer(), &d, again);
  ASSERT_TRUE(second.ok()) << second.res.dump();
  EXPECT_EQ(second.res["payload"]["auth"]["deviceToken"], auth["deviceToken"]) << "reused";

  const Json list = call(op, "device.pair.list", Json::object());
  ASSERT_TRUE(list.value("ok", false)) << list.dump();
  ASSERT_EQ(list["payload"]["paired"].size(), 1u);
  const Json& row = list["payload"]["paired"][0];
  EXPECT_EQ(row["deviceId"], d.id);
  EXPECT_EQ(row["displayName"], "书房的电脑 👩‍💻");
  EXPECT_EQ(row["approvedVia"], "silent");
  EXPECT_EQ(row["connected"], true);
  EXPECT_FALSE(row["tokens"][0].contains("token")) << "bearer tokens are never listed";
}

TEST_F(Devices, ARemoteDeviceWaitsForApprovalThenConnects) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome o = connect(remote_peer(), &d, with_token());
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error()["code"], "NOT_PAIRED");
  EXPECT_EQ(o.error()["message"], "pairing required: device is not approved yet");
  const Json details = o.error()["details"];
  EXPECT_EQ(details["code"], "PAIRING_REQUIRED");
  EXPECT_EQ(details["reason"], "not-paired");
  EXPECT_EQ(details["deviceId"], d.id);
  EXPECT_EQ(details["requestedRole"], "operator");
  EXPECT_FALSE(details.contains("pauseReconnect")) << "only the Control UI is told to retry";
  const std::string request_id = details["requestId"];
  EXPECT_EQ(world->transport_conn(o.conn).close_code, 1008);
  EXPECT_EQ(world->transport_conn(o.conn).close_reason,
            "pairing required: device is not approved yet (requestId: " + request_id + ")");
  const auto requested = events(op, "device.pair.requested");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0]["requestId"], request_id);
  EXPECT_EQ(requested[0]["publicKey"], d.public_key);
  EXPECT_FALSE(requested[0].contains("refreshedAtMs"));

  // Retrying refreshes the same request; nobody is asked twice.
  Outcome retry = connect(remote_peer(), &d, with_token());
  EXPECT_EQ(retry.error()["details"]["requestId"], request_id);
  EXPECT_EQ(events(op, "device.pair.requested").size(), 1u);

  const Json approved = call(op, "device.pair.approve", {{"requestId", request_id}});
  ASSERT_TRUE(approved.value("ok", false)) << approved.dump();
  EXPECT_EQ(approved["payload"]["device"]["deviceId"], d.id);
  EXPECT_EQ(approved["payload"]["device"]["approvedVia"], "owner");
  EXPECT_EQ(events(op, "device.pair.resolved").back()["decision"], "approved");
  Outcome now = connect(remote_peer(), &d, with_token());
  ASSERT_TRUE(now.ok()) << now.res.dump();
  EXPECT_TRUE(now.res["payload"]["auth"].contains("deviceToken"));
  EXPECT_EQ(call(op, "device.pair.approve", {{"requestId", request_id}})["error"]["message"],
            "unknown requestId");
}

TEST_F(Devices, PendingRequestsExpireAfterFiveMinutes) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome o = connect(remote_peer(), &d, with_token());
  const std::string request_id = o.error()["details"]["requestId"];
  world->clock().advance(300'001);
  EXPECT_EQ(call(op, "device.pair.approve", {{"requestId", request_id}})["error"]["message"],
            "unknown requestId");
  EXPECT_TRUE(call(op, "device.pair.list", Json::object())["payload"]["pending"].empty());
}

// Advisory 1: what looks local through a proxy is not.
TEST_F(Devices, AProxiedOrForeignHostConnectionIsNeverPairedSilently) {
  const TestDevice d = TestDevice::make();
  front::PeerInfo via_proxy = local_peer();
  via_proxy.forwarded_for = "198.51.100.9";
  Outcome proxied = connect(via_proxy, &d, with_token());
  EXPECT_EQ(proxied.detail_code(), "PROXY_ATTRIBUTION_REQUIRED");
  front::PeerInfo foreign_host = local_peer();
  foreign_host.host = "evil.example:18789";  // a DNS-rebinding page, or a proxy on this host
  Outcome rebound = connect(foreign_host, &d, with_token());
  EXPECT_EQ(rebound.detail_code(), "PAIRING_REQUIRED");
  front::PeerInfo forwarded_proto = local_peer();
  forwarded_proto.forwarded = "for=198.51.100.9";
  EXPECT_FALSE(connect(forwarded_proto, &d, with_token()).ok());
}

// Advisory 2 (ClawJacked): a browser page from an origin that is not this gateway's own never
// pairs silently, whatever client it claims to be.
TEST_F(Devices, ABrowserPageNeverPairsSilentlyUnlessItIsOurOwn) {
  const TestDevice d = TestDevice::make();
  front::PeerInfo page = local_peer();
  page.origin = "http://localhost:18789";  // allowed (local), but not the Host it came to
  ConnectSpec as_cli = with_token();
  EXPECT_EQ(connect(page, &d, as_cli).detail_code(), "PAIRING_REQUIRED");
  ConnectSpec as_webchat = with_token();
  as_webchat.client_id = "webchat-ui";
  as_webchat.client_mode = "webchat";
  EXPECT_EQ(connect(page, &d, as_webchat).detail_code(), "PAIRING_REQUIRED");
  // The WebChat page this gateway served (same origin as the Host): silent, as OpenClaw.
  // (A fresh device: a request once filed as not silent stays so while it is refreshed.)
  page.origin = "http://127.0.0.1:18789";
  const TestDevice fresh = TestDevice::make();
  Outcome own = connect(page, &fresh, as_webchat);
  EXPECT_TRUE(own.ok()) << own.res.dump();
  // Even our own origin cannot pass for the CLI.
  const TestDevice other = TestDevice::make();
  EXPECT_EQ(connect(page, &other, as_cli).detail_code(), "PAIRING_REQUIRED");
}

// Advisory 3: scopes come from the signed request; the approver must hold them.
TEST_F(Devices, ScopesAreNeverSelfGranted) {
  const ConnId pairing_only = admin({"operator.pairing"});
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome o = connect(remote_peer(), &d, with_token({"operator.admin"}));
  const std::string request_id = o.error()["details"]["requestId"];
  Json r = call(pairing_only, "device.pair.approve", {{"requestId", request_id}});
  EXPECT_EQ(r["error"]["message"], "missing scope: operator.admin");
  r = call(op, "device.pair.approve", {{"requestId", request_id}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();

  // A device paired for read cannot use its token for more, nor approve its own upgrade.
  const TestDevice reader = TestDevice::make();
  Outcome ro = connect(remote_peer(), &reader, with_token({"operator.read"}));
  call(op, "device.pair.approve", {{"requestId", ro.error()["details"]["requestId"]}});
  Outcome paired = connect(remote_peer(), &reader, with_token({"operator.read"}));
  ASSERT_TRUE(paired.ok());
  const std::string token = paired.res["payload"]["auth"]["deviceToken"];
  ConnectSpec wider;
  wider.scopes = {"operator.read", "operator.pairing"};
  wider.auth = {{"deviceToken", token}};
  Outcome refused = connect(remote_peer(), &reader, wider);
  EXPECT_EQ(refused.detail_code(), "AUTH_SCOPE_MISMATCH");
  EXPECT_EQ(refused.error()["details"]["recommendedNextStep"], "review_auth_configuration");
  // With the shared token from afar it is a scope upgrade that waits for an operator.
  Outcome upgrade =
      connect(remote_peer(), &reader, with_token({"operator.read", "operator.pairing"}));
  EXPECT_EQ(upgrade.error()["details"]["reason"], "scope-upgrade");
  EXPECT_EQ(upgrade.error()["details"]["approvedScopes"], Json{"operator.read"});
  EXPECT_EQ(upgrade.error()["details"]["approvedRoles"], Json{"operator"});
}

TEST_F(Devices, ApprovingARequestForAnotherRoleNeedsAnAdmin) {
  const ConnId pairing_only = admin({"operator.pairing"});
  const TestDevice node = TestDevice::make();
  ConnectSpec c = with_token({});
  c.client_id = "node-host";
  c.client_mode = "node";
  c.role = "node";
  Outcome o = connect(remote_peer(), &node, c);
  ASSERT_EQ(o.detail_code(), "PAIRING_REQUIRED");
  const std::string request_id = o.error()["details"]["requestId"];
  EXPECT_EQ(
      call(pairing_only, "device.pair.approve", {{"requestId", request_id}})["error"]["message"],
      "device pairing approval denied");
  EXPECT_EQ(call(pairing_only, "device.pair.approve", {{"requestId", "nope"}})["error"]["message"],
            "device pairing approval denied");
  const ConnId op = admin();
  EXPECT_TRUE(call(op, "device.pair.approve", {{"requestId", request_id}}).value("ok", false));
}

// Advisory 4: a device token is verified before it counts, and only it.
TEST_F(Devices, AWrongOrRevokedDeviceTokenNeverAuthenticates) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  ASSERT_TRUE(connect(local_peer(), &d, with_token()).ok());
  ConnectSpec wrong;
  wrong.scopes = {"operator.read"};
  wrong.auth = {{"deviceToken", "not-the-token"}};
  Outcome o = connect(remote_peer(), &d, wrong);
  EXPECT_EQ(o.detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH");
  EXPECT_EQ(o.error()["message"],
            "unauthorized: device token mismatch (rotate/reissue device token)");
  // Another device's token is no token for this one.
  const TestDevice other = TestDevice::make();
  Outcome theirs = connect(local_peer(), &other, with_token());
  ConnectSpec borrowed = wrong;
  borrowed.auth = {{"deviceToken", theirs.res["payload"]["auth"]["deviceToken"]}};
  EXPECT_EQ(connect(remote_peer(), &d, borrowed).detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH");
  // A token sent as auth.token (the fallback) with the wrong value keeps the shared reason.
  ConnectSpec fallback = wrong;
  fallback.auth = {{"token", "nope"}};
  Outcome fb = connect(remote_peer(), &d, fallback);
  EXPECT_EQ(fb.detail_code(), "AUTH_TOKEN_MISMATCH");
  EXPECT_EQ(fb.error()["details"]["canRetryWithDeviceToken"], true);
  EXPECT_EQ(fb.error()["details"]["recommendedNextStep"], "retry_with_device_token");
  (void)op;
}

// Advisory 5: the device block is checked even when the shared secret is right.
TEST_F(Devices, ADeviceBlockIsAlwaysVerified) {
  const TestDevice d = TestDevice::make();
  const ConnId c = world->open(local_peer());
  const Json ch = world->received(c).at(0)["payload"];
  Json frame = testing_support::connect_frame(&d, with_token(), ch["nonce"], ch["ts"]);
  frame["params"]["device"]["signature"] = TestDevice::make().sign("something else");
  world->deliver(c, frame.dump());
  Json res = world->response(c, "c1");
  EXPECT_EQ(res["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(res["error"]["message"], "device signature invalid");
  EXPECT_EQ(res["error"]["details"],
            (Json{{"code", "DEVICE_AUTH_SIGNATURE_INVALID"}, {"reason", "device-signature"}}));
  EXPECT_EQ(world->transport_conn(c).close_code, 1008);
  EXPECT_EQ(world->transport_conn(c).close_reason, "device signature invalid");

  struct Case {
    const char* what;
    std::function<void(Json&)> edit;
    const char* code;
  };
  const std::vector<Case> cases = {
      {"id", [](Json& dev) { dev["id"] = std::string(64, 'a'); }, "DEVICE_AUTH_DEVICE_ID_MISMATCH"},
      {"stale", [](Json& dev) { dev["signedAt"] = dev["signedAt"].get<int64_t>() - 121'000; },
       "DEVICE_AUTH_SIGNATURE_EXPIRED"},
      {"blank nonce", [](Json& dev) { dev["nonce"] = "  "; }, "DEVICE_AUTH_NONCE_REQUIRED"},
      {"other nonce", [](Json& dev) { dev["nonce"] = "another-challenge"; },
       "DEVICE_AUTH_NONCE_MISMATCH"},
  };
  for (const auto& k : cases) {
    world->next_input();  // past the limiter
    const ConnId conn = world->open(local_peer());
    const Json chal = world->received(conn).at(0)["payload"];
    Json f = testing_support::connect_frame(&d, with_token(), chal["nonce"], chal["ts"]);
    k.edit(f["params"]["device"]);
    world->deliver(conn, f.dump());
    EXPECT_EQ(world->response(conn, "c1")["error"]["details"]["code"], k.code) << k.what;
  }
  // A v2 signature still verifies; a missing nonce is a schema error.
  ConnectSpec v2 = with_token();
  v2.sign_v2 = true;
  EXPECT_TRUE(connect(local_peer(), &d, v2).ok());
  const ConnId bare = world->open(local_peer());
  const Json chal = world->received(bare).at(0)["payload"];
  Json f = testing_support::connect_frame(&d, with_token(), chal["nonce"], chal["ts"]);
  f["params"]["device"].erase("nonce");
  world->deliver(bare, f.dump());
  EXPECT_EQ(world->response(bare, "c1")["error"]["message"],
            "invalid connect params: at /device: must have required property 'nonce'");
}

TEST_F(Devices, ForgedDeviceProofsCountAgainstTheAuthLimiter) {
  const TestDevice d = TestDevice::make();
  std::string last;
  for (int i = 0; i < 12; ++i) {
    const ConnId c = world->open(remote_peer());
    const Json ch = world->received(c).at(0)["payload"];
    Json f = testing_support::connect_frame(&d, with_token(), ch["nonce"], ch["ts"]);
    f["params"]["device"]["signature"] = d.sign("forged " + std::to_string(i));
    world->deliver(c, f.dump());
    last = world->response(c, "c1")["error"]["details"].value("code", "");
  }
  EXPECT_EQ(last, "AUTH_RATE_LIMITED");
}

// Advisory 7: revoking closes the live socket at once and the token fails from then on.
TEST_F(Devices, ARevokedTokenClosesTheLiveSocketAndFailsTheNextConnect) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome live = connect(local_peer(), &d, with_token());
  ASSERT_TRUE(live.ok());
  const std::string token = live.res["payload"]["auth"]["deviceToken"];
  const Json r = call(op, "device.token.revoke", {{"deviceId", d.id}, {"role", "operator"}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  world->poll();
  EXPECT_TRUE(world->closed(live.conn));
  EXPECT_EQ(world->transport_conn(live.conn).close_code, 4001);
  EXPECT_EQ(world->transport_conn(live.conn).close_reason, "device removed");
  EXPECT_FALSE(world->closed(op)) << "only that device's sockets";
  ConnectSpec again;
  again.scopes = {"operator.read"};
  again.auth = {{"deviceToken", token}};
  EXPECT_EQ(connect(remote_peer(), &d, again).detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH");
  // Locally with the shared token the device re-pairs (its role is no longer effective).
  Outcome back = connect(local_peer(), &d, with_token());
  ASSERT_TRUE(back.ok()) << back.res.dump();
  EXPECT_NE(back.res["payload"]["auth"]["deviceToken"], token);
}

TEST_F(Devices, RemoveClosesEverySocketOfTheDeviceAndForgetsIt) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome a = connect(local_peer(), &d, with_token());
  Outcome b = connect(local_peer(), &d, with_token());
  ASSERT_TRUE(a.ok() && b.ok());
  const Json r = call(op, "device.pair.remove", {{"deviceId", d.id}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  world->poll();
  EXPECT_EQ(world->transport_conn(a.conn).close_code, 4001);
  EXPECT_EQ(world->transport_conn(b.conn).close_code, 4001);
  EXPECT_TRUE(call(op, "device.pair.list", Json::object())["payload"]["paired"].empty());
  EXPECT_EQ(call(op, "device.pair.remove", {{"deviceId", d.id}})["error"]["message"],
            "unknown deviceId");
}

TEST_F(Devices, RotatingItsOwnTokenHandsItOverThenCloses) {
  const TestDevice d = TestDevice::make();
  Outcome first = connect(local_peer(), &d, with_token({"operator.pairing"}));
  ASSERT_TRUE(first.ok()) << first.res.dump();
  ConnectSpec by_token;
  by_token.scopes = {"operator.pairing"};
  by_token.auth = {{"deviceToken", first.res["payload"]["auth"]["deviceToken"]}};
  Outcome self = connect(remote_peer(), &d, by_token);
  ASSERT_TRUE(self.ok()) << self.res.dump();
  const Json r = call(self.conn, "device.token.rotate", {{"deviceId", d.id}, {"role", "operator"}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["payload"]["tokenDelivery"], "in-band");
  ASSERT_TRUE(r["payload"].contains("token"));
  world->poll();
  EXPECT_EQ(world->transport_conn(self.conn).close_code, 4001);
  by_token.auth = {{"deviceToken", r["payload"]["token"]}};
  EXPECT_TRUE(connect(remote_peer(), &d, by_token).ok());

  // A device-token caller manages its own device only.
  const TestDevice other = TestDevice::make();
  ASSERT_TRUE(connect(local_peer(), &other, with_token()).ok());
  Outcome me = connect(remote_peer(), &d, by_token);
  ASSERT_TRUE(me.ok());
  const Json denied =
      call(me.conn, "device.token.rotate", {{"deviceId", other.id}, {"role", "operator"}});
  EXPECT_EQ(denied["error"]["message"], "device token rotation denied");
  EXPECT_EQ(call(me.conn, "device.token.revoke",
                 {{"deviceId", other.id}, {"role", "operator"}})["error"]["message"],
            "device token revocation denied");
  EXPECT_EQ(call(me.conn, "device.pair.remove", {{"deviceId", other.id}})["error"]["message"],
            "device pairing removal denied");
  const Json mine = call(me.conn, "device.pair.list", Json::object());
  ASSERT_EQ(mine["payload"]["paired"].size(), 1u) << "sees only itself";
  EXPECT_EQ(mine["payload"]["paired"][0]["deviceId"], d.id);
  // An admin rotating another device's token does not see it.
  const ConnId op = admin();
  const Json cross =
      call(op, "device.token.rotate", {{"deviceId", other.id}, {"role", "operator"}});
  ASSERT_TRUE(cross.value("ok", false)) << cross.dump();
  EXPECT_EQ(cross["payload"]["tokenDelivery"], "withheld-cross-device");
  EXPECT_FALSE(cross["payload"].contains("token"));
}

TEST_F(Devices, DevicelessConnects) {
  // A node always needs a device.
  ConnectSpec node = with_token({});
  node.client_id = "node-host";
  node.client_mode = "node";
  node.role = "node";
  Outcome n = connect(local_peer(), nullptr, node);
  EXPECT_EQ(n.error()["code"], "NOT_PAIRED");
  EXPECT_EQ(n.detail_code(), "DEVICE_IDENTITY_REQUIRED");
  // The Control UI too.
  ConnectSpec ui = with_token();
  ui.client_id = "openclaw-control-ui";
  ui.client_mode = "webchat";
  Outcome u = connect(local_peer(), nullptr, ui);
  EXPECT_EQ(u.detail_code(), "CONTROL_UI_DEVICE_IDENTITY_REQUIRED");
  EXPECT_EQ(u.error()["message"],
            "control ui requires device identity (use HTTPS or localhost secure context)");
  // No credentials and no device: device identity required (not "token missing").
  ConnectSpec bare;
  bare.scopes = {"operator.read"};
  EXPECT_EQ(connect(local_peer(), nullptr, bare).detail_code(), "DEVICE_IDENTITY_REQUIRED");
  // A wrong shared token: unauthorized.
  ConnectSpec wrong = bare;
  wrong.auth = {{"token", "nope"}};
  EXPECT_EQ(connect(local_peer(), nullptr, wrong).detail_code(), "AUTH_TOKEN_MISMATCH");
  // The token from afar: in, without scopes; locally the CLI keeps its scopes.
  Outcome far = connect(remote_peer(), nullptr, with_token({"operator.admin"}));
  ASSERT_TRUE(far.ok());
  EXPECT_TRUE(far.res["payload"]["auth"]["scopes"].empty());
  Outcome near = connect(local_peer(), nullptr, with_token({"operator.admin"}));
  ASSERT_TRUE(near.ok());
  EXPECT_EQ(near.res["payload"]["auth"]["scopes"], Json{"operator.admin"});
  EXPECT_FALSE(near.res["payload"]["auth"].contains("deviceToken"));
  // A device-less webchat page keeps nothing: it must pair like any client.
  ConnectSpec chat = with_token();
  chat.client_id = "webchat-ui";
  chat.client_mode = "webchat";
  Outcome w = connect(local_peer(), nullptr, chat);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w.res["payload"]["auth"]["scopes"].empty());
}

TEST_F(Devices, PairingEventsReachOnlyPairingOperators) {
  const ConnId reader = admin({"operator.read"});
  const ConnId pairing = admin({"operator.pairing"});
  const TestDevice d = TestDevice::make();
  connect(remote_peer(), &d, with_token());
  EXPECT_TRUE(events(reader, "device.pair.requested").empty());
  EXPECT_EQ(events(pairing, "device.pair.requested").size(), 1u);
  // A rejected request is resolved as such, and its device may ask again.
  const std::string id = events(pairing, "device.pair.requested")[0]["requestId"];
  const Json r = call(pairing, "device.pair.reject", {{"requestId", id}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["payload"]["deviceId"], d.id);
  EXPECT_EQ(events(pairing, "device.pair.resolved").back()["decision"], "rejected");
  EXPECT_TRUE(events(reader, "device.pair.resolved").empty());
  EXPECT_EQ(call(pairing, "device.pair.reject", {{"requestId", id}})["error"]["message"],
            "unknown requestId");
}

TEST_F(Devices, AWiderRequestSupersedesTheOldOneWithTheUnion) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome a = connect(remote_peer(), &d, with_token({"operator.read"}));
  Outcome b = connect(remote_peer(), &d, with_token({"operator.pairing"}));
  const std::string first = a.error()["details"]["requestId"];
  const std::string second = b.error()["details"]["requestId"];
  EXPECT_NE(first, second);
  const auto resolved = events(op, "device.pair.resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["requestId"], first);
  EXPECT_EQ(resolved[0]["decision"], "rejected");
  const Json pending = call(op, "device.pair.list", Json::object())["payload"]["pending"];
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["scopes"], (Json{"operator.read", "operator.pairing"}));
}

TEST_F(Devices, RenameTrimsAndBoundsTheLabel) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  ASSERT_TRUE(connect(local_peer(), &d, with_token()).ok());
  Json r = call(op, "device.pair.rename", {{"deviceId", d.id}, {"label", "  客厅 🛋️  "}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["payload"]["label"], "客厅 🛋️");
  EXPECT_EQ(call(op, "device.pair.list", Json::object())["payload"]["paired"][0]["operatorLabel"],
            "客厅 🛋️");
  EXPECT_EQ(
      call(op, "device.pair.rename", {{"deviceId", d.id}, {"label", "   "}})["error"]["message"],
      "label required");
  EXPECT_EQ(call(op, "device.pair.rename", {{"deviceId", "x"}, {"label", "a"}})["error"]["message"],
            "unknown deviceId");
  EXPECT_FALSE(call(op, "device.pair.rename", {{"deviceId", d.id}, {"label", std::string(65, 'a')}})
                   .value("ok", true));
}

TEST_F(Devices, AChangedPlatformIsAMetadataUpgrade) {
  const TestDevice d = TestDevice::make();
  ConnectSpec linux_cli = with_token();
  ASSERT_TRUE(connect(local_peer(), &d, linux_cli).ok());
  ConnectSpec mac = linux_cli;
  mac.platform = "macos";
  Outcome o = connect(local_peer(), &d, mac);
  EXPECT_EQ(o.error()["details"]["reason"], "metadata-upgrade");
  EXPECT_EQ(o.error()["message"],
            "pairing required: device identity changed and must be re-approved");
  // Case and surrounding space are not a change.
  ConnectSpec same = linux_cli;
  same.platform = "  LINUX ";
  EXPECT_TRUE(connect(local_peer(), &d, same).ok());
}

TEST_F(Devices, ANewKeyForAKnownDeviceIdIsNotPaired) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  ASSERT_TRUE(connect(local_peer(), &d, with_token()).ok());
  // A different key cannot claim d's id: the id is the key's hash.
  TestDevice impostor = TestDevice::make();
  impostor.id = d.id;
  EXPECT_EQ(connect(remote_peer(), &impostor, with_token()).detail_code(),
            "DEVICE_AUTH_DEVICE_ID_MISMATCH");
  (void)op;
}

TEST_F(DevicesNoAutoApprove, AutoApproveLocalFalseMakesEveryDeviceWait) {
  const ConnId op = admin();
  const TestDevice d = TestDevice::make();
  Outcome o = connect(local_peer(), &d, with_token());
  ASSERT_EQ(o.detail_code(), "PAIRING_REQUIRED");
  EXPECT_EQ(events(op, "device.pair.requested").size(), 1u);
  call(op, "device.pair.approve", {{"requestId", o.error()["details"]["requestId"]}});
  EXPECT_TRUE(connect(local_peer(), &d, with_token()).ok());
}

TEST_F(Devices, PairingSurvivesARestartOfTheFront) {
  const TestDevice d = TestDevice::make();
  Outcome o = connect(local_peer(), &d, with_token());
  ASSERT_TRUE(o.ok());
  const std::string token = o.res["payload"]["auth"]["deviceToken"];
  // A new front on the same state directory: the device and its token are still there.
  world.reset();
  WorldOptions opts;
  opts.state_dir = dir;
  opts.keep_frames = true;
  opts.keep_state = true;
  world = std::make_unique<World>(opts);
  ConnectSpec by_token;
  by_token.scopes = {"operator.read"};
  by_token.auth = {{"deviceToken", token}};
  Outcome back = connect(remote_peer(), &d, by_token);
  ASSERT_TRUE(back.ok()) << back.res.dump();
  EXPECT_EQ(back.res["payload"]["auth"]["deviceToken"], token);
}

}  // namespace
}  // namespace clawgate::inproc
