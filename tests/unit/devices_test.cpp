// Unit tests: role scope rules (core/scopes) and the device pairing store (core/devices):
// requests refreshed or superseded, the 5-minute TTL, approval with the caller-scope check,
// device tokens (verify, ensure, rotate, revoke), persistence and damaged files, bounds.
// Virtual time (FakeClock); each test has its own state directory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/devices.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/clawgate-devices-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

const std::string kDevice = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const std::string kKey = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

DevicePairingRequest ask(Scopes scopes, std::string role = "operator",
                         std::string device = kDevice) {
  DevicePairingRequest r;
  r.device_id = std::move(device);
  r.public_key = kKey;
  r.display_name = "laptop";
  r.platform = "linux";
  r.client_id = "cli";
  r.client_mode = "cli";
  r.role = std::move(role);
  r.scopes = std::move(scopes);
  r.remote_ip = "127.0.0.1";
  return r;
}

class DevicesTest : public ::testing::Test {
 protected:
  TempDir tmp;
  FakeClock clock;
  std::string dir = tmp.path + "/devices";
  DeviceStore store{dir, clock};

  std::string request(Scopes scopes, std::string role = "operator", std::string device = kDevice) {
    auto r = store.request(ask(std::move(scopes), std::move(role), std::move(device)));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->request.request_id : "";
  }
  // Pairs kDevice for `scopes` as an admin would.
  DeviceToken pair(Scopes scopes, std::string role = "operator") {
    const std::string id = request(std::move(scopes), role);
    DeviceApproval a = store.approve(id, Scopes{"operator.admin"});
    EXPECT_EQ(a.status, DeviceApproval::approved) << a.message;
    return a.device.tokens.at(role);
  }
};

TEST(Scopes, OperatorCoverage) {
  EXPECT_TRUE(operator_scope_satisfied("operator.pairing", {"operator.admin"}));
  EXPECT_TRUE(operator_scope_satisfied("operator.read", {"operator.write"}));
  EXPECT_TRUE(operator_scope_satisfied("operator.talk", {"operator.write"}));
  EXPECT_TRUE(operator_scope_satisfied("operator.sessions.read", {"operator.read"}));
  EXPECT_TRUE(operator_scope_satisfied("operator.sessions.read", {"operator.sessions.write"}));
  EXPECT_FALSE(operator_scope_satisfied("operator.write", {"operator.read"}));
  EXPECT_FALSE(operator_scope_satisfied("operator.pairing", {"operator.write"}));
  EXPECT_FALSE(operator_scope_satisfied("node.x", {"operator.admin"}));
}

TEST(Scopes, MissingScopeByRole) {
  EXPECT_FALSE(missing_scope("operator", {}, {}));
  EXPECT_FALSE(missing_scope("operator", {" operator.read ", ""}, {"operator.write"}));
  EXPECT_EQ(missing_scope("operator", {"operator.read", "operator.admin"}, {"operator.write"}),
            "operator.admin");
  // Other roles: prefixed and listed exactly; admin means nothing there.
  EXPECT_FALSE(missing_scope("node", {"node.camera"}, {"node.camera"}));
  EXPECT_EQ(missing_scope("node", {"node.camera"}, {"operator.admin"}), "node.camera");
  EXPECT_EQ(missing_scope("node", {"operator.read"}, {"operator.read"}), "operator.read");
}

TEST(Scopes, NormalizeAddsImpliedScopesSortedAndDeduped) {
  EXPECT_EQ(normalize_device_scopes({"operator.admin"}),
            (Scopes{"operator.admin", "operator.read", "operator.write"}));
  EXPECT_EQ(normalize_device_scopes({" operator.write", "operator.write", ""}),
            (Scopes{"operator.read", "operator.write"}));
  EXPECT_EQ(scope_outside_roles({"node"}, {"operator.read"}), "operator.read");
  EXPECT_FALSE(scope_outside_roles({"operator", "node"}, {"operator.read", "node.x"}));
  EXPECT_EQ(role_token_scopes("node", {"operator.read", "node.x"}), Scopes{"node.x"});
}

TEST_F(DevicesTest, RequestRefreshesWhileTheSnapshotIsTheSame) {
  auto first = store.request(ask({"operator.read"}));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->expires_at_ms, clock.wall_ms() + kPairingPendingTtlMs);
  clock.advance(200'000);
  auto again = store.request(ask({"operator.read"}));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->request.request_id, first->request.request_id);
  EXPECT_EQ(again->request.ts, first->request.ts);  // ts kept, refreshedAtMs moved
  EXPECT_EQ(again->expires_at_ms, clock.wall_ms() + kPairingPendingTtlMs);
  // 250 s after the refresh (450 s after the first): still pending.
  clock.advance(250'000);
  EXPECT_TRUE(store.pending(first->request.request_id));
  EXPECT_FALSE(DeviceStore::public_pending(*store.pending(first->request.request_id))
                   .contains("refreshedAtMs"));
}

TEST_F(DevicesTest, ANarrowerRequestIsCoveredAndRefreshes) {
  const std::string id = request({"operator.admin"});
  auto narrower = store.request(ask({"operator.read"}));
  ASSERT_TRUE(narrower.ok());
  EXPECT_FALSE(narrower->created);
  EXPECT_EQ(narrower->request.request_id, id);
  EXPECT_EQ(narrower->request.scopes, Scopes{"operator.admin"});
}

TEST_F(DevicesTest, ABroaderRequestSupersedesWithTheUnion) {
  const std::string id = request({"operator.read"});
  auto wider = store.request(ask({"operator.pairing"}));
  ASSERT_TRUE(wider.ok());
  EXPECT_TRUE(wider->created);
  EXPECT_NE(wider->request.request_id, id);
  EXPECT_EQ(wider->request.scopes, (Scopes{"operator.read", "operator.pairing"}));
  ASSERT_EQ(wider->superseded.size(), 1u);
  EXPECT_EQ(wider->superseded[0].request_id, id);
  EXPECT_FALSE(store.pending(id));
  EXPECT_EQ(store.list_pending().size(), 1u);
  // A new role supersedes too, and the union keeps both roles.
  auto node = store.request(ask({}, "node"));
  ASSERT_TRUE(node.ok());
  EXPECT_TRUE(node->created);
  EXPECT_EQ(node->request.role, "node");
  EXPECT_EQ(node->request.roles, (Scopes{"operator", "node"}));
}

TEST_F(DevicesTest, RequestsExpireFiveMinutesAfterTheirLastRefresh) {
  const std::string id = request({"operator.read"});
  clock.advance(kPairingPendingTtlMs);
  EXPECT_TRUE(store.pending(id));
  clock.advance(1);
  EXPECT_FALSE(store.pending(id));
  DeviceApproval a = store.approve(id, Scopes{"operator.admin"});
  EXPECT_EQ(a.status, DeviceApproval::unknown);
  EXPECT_TRUE(store.list_pending().empty());
}

TEST_F(DevicesTest, ApprovalNeedsTheCallerToCoverTheTokenScopes) {
  const std::string id = request({"operator.admin"});
  DeviceApproval a = store.approve(id, std::nullopt);
  EXPECT_EQ(a.status, DeviceApproval::forbidden);
  EXPECT_EQ(a.message, "missing scope: operator.admin");
  a = store.approve(id, Scopes{"operator.pairing", "operator.write"});
  EXPECT_EQ(a.status, DeviceApproval::forbidden);
  EXPECT_EQ(a.message, "missing scope: operator.admin");
  EXPECT_TRUE(store.pending(id));  // a refusal changes nothing
  EXPECT_FALSE(store.paired(kDevice));
  a = store.approve(id, Scopes{"operator.admin"});
  ASSERT_EQ(a.status, DeviceApproval::approved) << a.message;
  EXPECT_EQ(a.device.approved_scopes, Scopes{"operator.admin"});
  EXPECT_EQ(a.device.tokens.at("operator").scopes,
            (Scopes{"operator.admin", "operator.read", "operator.write"}));
  EXPECT_EQ(a.device.approved_via, "owner");
  EXPECT_FALSE(store.pending(id));
}

TEST_F(DevicesTest, ScopesComeFromThePendingRecordNotTheApprover) {
  // The approver holds admin; the device asked for read: it gets read, nothing more.
  const DeviceToken t = pair({"operator.read"});
  EXPECT_EQ(t.scopes, Scopes{"operator.read"});
  EXPECT_EQ(store.verify_token(kDevice, t.token, "operator", {"operator.write"}).reason,
            "scope-mismatch");
  EXPECT_FALSE(store.ensure_token(kDevice, "operator", {"operator.admin"}));
}

TEST_F(DevicesTest, NodeRoleApprovalAndScopesOutsideTheRole) {
  const std::string id = request({"operator.read"}, "node");
  DeviceApproval a = store.approve(id, Scopes{"operator.admin"});
  EXPECT_EQ(a.status, DeviceApproval::forbidden);
  EXPECT_EQ(a.message, "invalid scope for requested roles: operator.read");
  ASSERT_TRUE(store.reject(id));  // else the node's next request refreshes this one
  const DeviceToken t = pair({}, "node");
  EXPECT_TRUE(t.scopes.empty());
  EXPECT_TRUE(store.verify_token(kDevice, t.token, "node", {}).ok);
  EXPECT_EQ(effective_roles(*store.paired(kDevice)), Scopes{"node"});
}

TEST_F(DevicesTest, ATokenIsVerifiedInFull) {
  const DeviceToken t = pair({"operator.read", "operator.write"});
  EXPECT_EQ(t.token.size(), 43u);
  EXPECT_TRUE(store.verify_token(kDevice, t.token, "operator", {"operator.read"}).ok);
  EXPECT_EQ(store.verify_token("other", t.token, "operator", {}).reason, "device-not-paired");
  EXPECT_EQ(store.verify_token(kDevice, t.token, " ", {}).reason, "role-missing");
  EXPECT_EQ(store.verify_token(kDevice, t.token, "node", {}).reason, "token-missing");
  EXPECT_EQ(store.verify_token(kDevice, t.token + "x", "operator", {}).reason, "token-mismatch");
  EXPECT_EQ(store.verify_token(kDevice, "", "operator", {}).reason, "token-mismatch");
  EXPECT_EQ(store.verify_token(kDevice, t.token, "operator", {"operator.admin"}).reason,
            "scope-mismatch");
  EXPECT_EQ(store.paired(kDevice)->tokens.at("operator").last_used_at_ms, clock.wall_ms());
  EXPECT_EQ(store.paired(kDevice)->last_seen_reason, "device-token-auth");
}

TEST_F(DevicesTest, EnsureReusesThenMintsWhenScopesWidenInsideTheBaseline) {
  const std::string id = request({"operator.write"});
  DeviceApproval a = store.approve(id, Scopes{"operator.write"});
  ASSERT_EQ(a.status, DeviceApproval::approved) << a.message;
  const std::string first = a.device.tokens.at("operator").token;
  auto t = store.ensure_token(kDevice, "operator", {"operator.read"});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->token, first);                                                   // covered: reused
  EXPECT_FALSE(store.ensure_token(kDevice, "operator", {"operator.pairing"}));  // not approved
  EXPECT_FALSE(store.ensure_token(kDevice, "node", {}));                        // role not approved
  EXPECT_FALSE(store.ensure_token("unknown", "operator", {}));
}

TEST_F(DevicesTest, RotateReplacesTheTokenAndRevokeFailsItAtOnce) {
  const DeviceToken t = pair({"operator.read", "operator.write"});
  clock.advance(1000);
  DeviceTokenChange r =
      store.rotate_token(kDevice, "operator", std::nullopt, Scopes{"operator.write"});
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_NE(r.token.token, t.token);
  EXPECT_EQ(r.token.rotated_at_ms, clock.wall_ms());
  EXPECT_EQ(r.token.created_at_ms, t.created_at_ms);
  EXPECT_EQ(store.verify_token(kDevice, t.token, "operator", {}).reason, "token-mismatch");
  EXPECT_TRUE(store.verify_token(kDevice, r.token.token, "operator", {}).ok);

  r = store.rotate_token(kDevice, "operator", Scopes{"operator.admin"}, std::nullopt);
  EXPECT_EQ(r.reason, "scope-outside-approved-baseline");
  r = store.rotate_token(kDevice, "operator", Scopes{"operator.write"}, Scopes{"operator.read"});
  EXPECT_EQ(r.reason, "caller-missing-scope");
  EXPECT_EQ(r.scope, "operator.write");
  EXPECT_EQ(store.rotate_token(kDevice, "node", std::nullopt, std::nullopt).reason,
            "unknown-device-or-role");

  const std::string live = store.paired(kDevice)->tokens.at("operator").token;
  DeviceTokenChange v = store.revoke_token(kDevice, "operator", Scopes{"operator.read"});
  EXPECT_EQ(v.reason, "caller-missing-scope");
  v = store.revoke_token(kDevice, "operator", Scopes{"operator.admin"});
  ASSERT_TRUE(v.ok);
  EXPECT_EQ(v.token.revoked_at_ms, clock.wall_ms());
  EXPECT_EQ(store.verify_token(kDevice, live, "operator", {}).reason, "token-revoked");
  EXPECT_TRUE(effective_roles(*store.paired(kDevice)).empty());
  // Survives a restart.
  DeviceStore reloaded(dir, clock);
  EXPECT_TRUE(reloaded.load().empty());
  EXPECT_EQ(reloaded.verify_token(kDevice, live, "operator", {}).reason, "token-revoked");
}

TEST_F(DevicesTest, ReapprovingARoleKeepsCreatedAtAndMarksRotation) {
  const DeviceToken t = pair({"operator.read"});
  clock.advance(5000);
  const DeviceToken t2 = pair({"operator.read", "operator.pairing"});
  EXPECT_NE(t2.token, t.token);
  EXPECT_EQ(t2.created_at_ms, t.created_at_ms);
  EXPECT_EQ(t2.rotated_at_ms, clock.wall_ms());
  EXPECT_EQ(t2.scopes, (Scopes{"operator.pairing", "operator.read"}));
  EXPECT_EQ(store.paired(kDevice)->approved_scopes, (Scopes{"operator.read", "operator.pairing"}));
  EXPECT_EQ(store.paired(kDevice)->created_at_ms, clock.wall_ms() - 5000);
}

TEST_F(DevicesTest, RejectRemoveRename) {
  const std::string id = request({"operator.read"});
  auto gone = store.reject(id);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->device_id, kDevice);
  EXPECT_FALSE(store.reject(id));

  pair({"operator.read"});
  EXPECT_FALSE(store.rename(kDevice, "   "));
  EXPECT_FALSE(store.rename("nope", "x"));
  EXPECT_TRUE(store.rename(kDevice, "  书房的电脑 💻 "));
  EXPECT_EQ(store.paired(kDevice)->operator_label, "书房的电脑 💻");

  request({"operator.admin"});  // a pending upgrade goes with the device
  EXPECT_TRUE(store.remove(kDevice));
  EXPECT_FALSE(store.paired(kDevice));
  EXPECT_TRUE(store.list_pending().empty());
  EXPECT_FALSE(store.remove(kDevice));
}

TEST_F(DevicesTest, FilesAreOwnerOnlyAndReloadToTheSameState) {
  const DeviceToken t = pair({"operator.read"});
  request({"operator.admin"});
  for (const char* f : {"/paired.json", "/pending.json"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  DeviceStore reloaded(dir, clock);
  EXPECT_TRUE(reloaded.load().empty());
  EXPECT_EQ(reloaded.list_pending().size(), 1u);
  ASSERT_TRUE(reloaded.paired(kDevice));
  EXPECT_EQ(reloaded.paired(kDevice)->tokens.at("operator").token, t.token);
  EXPECT_TRUE(reloaded.verify_token(kDevice, t.token, "operator", {"operator.read"}).ok);
}

TEST_F(DevicesTest, StampsWaitForFlush) {
  const DeviceToken t = pair({"operator.read"});
  clock.advance(60'000);
  ASSERT_TRUE(store.verify_token(kDevice, t.token, "operator", {}).ok);
  EXPECT_TRUE(store.dirty());
  {
    DeviceStore before(dir, clock);
    (void)before.load();
    EXPECT_FALSE(before.paired(kDevice)->tokens.at("operator").last_used_at_ms);
  }
  store.flush();
  EXPECT_FALSE(store.dirty());
  DeviceStore after(dir, clock);
  (void)after.load();
  EXPECT_EQ(after.paired(kDevice)->tokens.at("operator").last_used_at_ms, clock.wall_ms());
}

TEST_F(DevicesTest, ADamagedFileIsSetAsideAndReported) {
  make_dirs(dir);
  atomic_write_file(dir + "/paired.json", "{\"torn", 0600);
  const std::vector<std::string> problems = store.load();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("damaged"), std::string::npos) << problems[0];
  EXPECT_FALSE(std::filesystem::exists(dir + "/paired.json"));
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    aside = aside || e.path().filename().string().rfind("paired.json.damaged-", 0) == 0;
  EXPECT_TRUE(aside);
  // The store works on: a new pairing writes a fresh file.
  pair({"operator.read"});
  DeviceStore reloaded(dir, clock);
  EXPECT_TRUE(reloaded.load().empty());
  EXPECT_TRUE(reloaded.paired(kDevice));
}

TEST_F(DevicesTest, MalformedRecordsAreSkippedOthersKept) {
  pair({"operator.read"});
  Json doc = Json::parse(*read_file(dir + "/paired.json"));
  doc["bad1"] = {{"deviceId", "bad1"}};                                           // no publicKey
  doc["bad2"] = {{"deviceId", "other"}, {"publicKey", "k"}, {"createdAtMs", 1}};  // key differs
  doc["bad3"] = 42;
  Json torn = doc[kDevice];
  torn["deviceId"] = "bad4";
  torn["tokens"]["operator"]["role"] = "node";  // a token filed under the wrong role
  doc["bad4"] = torn;
  Json huge = doc[kDevice];
  huge["deviceId"] = "bad5";
  huge["displayName"] = std::string(DeviceStore::kMaxTextBytes + 1, 'x');
  doc["bad5"] = huge;
  atomic_write_file(dir + "/paired.json", doc.dump(), 0600);
  const std::vector<std::string> problems = store.load();
  EXPECT_EQ(problems.size(), 5u);
  EXPECT_TRUE(store.paired(kDevice));
  EXPECT_EQ(store.list_paired().size(), 1u);
}

TEST_F(DevicesTest, InputIsBounded) {
  Scopes many;
  for (size_t i = 0; i <= DeviceStore::kMaxScopes; ++i)
    many.push_back("operator.s" + std::to_string(i));
  auto r = store.request(ask(many));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::INVALID_REQUEST);
  DevicePairingRequest long_platform = ask({});
  long_platform.platform = std::string(DeviceStore::kMaxTextBytes + 1, 'p');
  EXPECT_FALSE(store.request(long_platform).ok());

  // A display name is cut on a code-point boundary, never refused.
  DevicePairingRequest named = ask({});
  std::string name;
  while (name.size() < 2 * DeviceStore::kMaxTextBytes) name += "中文👩‍💻";
  named.display_name = name;
  auto ok = store.request(named);
  ASSERT_TRUE(ok.ok());
  EXPECT_LE(ok->request.display_name.size(), DeviceStore::kMaxTextBytes);
  EXPECT_TRUE(utf8::valid(ok->request.display_name));
  EXPECT_EQ(name.rfind(ok->request.display_name, 0), 0u);
}

TEST_F(DevicesTest, PendingRequestsAreCounted) {
  for (size_t i = 0; i < DeviceStore::kMaxPending; ++i)
    ASSERT_FALSE(request({}, "operator", "dev-" + std::to_string(i)).empty()) << i;
  auto r = store.request(ask({}, "operator", "one-more"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().retryable);
  // A device already waiting can still refresh its request.
  EXPECT_TRUE(store.request(ask({}, "operator", "dev-7")).ok());
  clock.advance(kPairingPendingTtlMs + 1);
  EXPECT_TRUE(store.request(ask({}, "operator", "one-more")).ok());
}

TEST_F(DevicesTest, WireViewsHideBearerTokens) {
  pair({"operator.read"}, "operator");
  const std::string node = request({}, "node");
  DeviceApproval a = store.approve(node, Scopes{"operator.admin"});
  ASSERT_EQ(a.status, DeviceApproval::approved);
  const Json j = DeviceStore::redacted_paired(*store.paired(kDevice), true);
  EXPECT_FALSE(j.contains("approvedScopes"));
  EXPECT_EQ(j["connected"], true);
  ASSERT_TRUE(j["tokens"].is_array());
  ASSERT_EQ(j["tokens"].size(), 2u);
  EXPECT_EQ(j["tokens"][0]["role"], "node");  // sorted by role
  EXPECT_EQ(j["tokens"][1]["role"], "operator");
  for (const auto& t : j["tokens"]) EXPECT_FALSE(t.contains("token"));
  EXPECT_EQ(j["roles"], (Json{"operator", "node"}));
  EXPECT_EQ(j["scopes"], Json{"operator.read"});
}

TEST_F(DevicesTest, ListsAreNewestFirst) {
  request({}, "operator", "a");
  clock.advance(10);
  request({}, "operator", "b");
  const auto pending = store.list_pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].device_id, "b");
}

}  // namespace
}  // namespace clawgate::core
