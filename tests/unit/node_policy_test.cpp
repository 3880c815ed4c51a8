// Unit tests: node command policy (core/node_policy.hpp): platform ids, the per-platform
// allowlists at pairing and invoke time, gateway.nodes.commands.allow/deny, the declared-
// command check and its hints, the approval scopes, and the system.run approval-flag gate.
#include <gtest/gtest.h>

#include "core/node_policy.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;

// What `openclaw node run` declares on Linux (2026.9.6).
const Strings kLinuxHost = {"fs.listDir",
                            "mcp.tools.call.v1",
                            "system.execApprovals.get",
                            "system.execApprovals.set",
                            "system.run",
                            "system.run.prepare",
                            "system.which",
                            "terminal.upload"};

TEST(NodePolicy, PlatformIdsFromPlatformAndFamily) {
  struct Case {
    const char* platform;
    const char* family;
    const char* id;
  } cases[] = {
      {"linux", "Linux", "linux"},
      {"  Linux ", "linux", "linux"},
      {"linux", "Mac", "unknown"},
      {"linux", "", "unknown"},
      {"ios", "", "ios"},
      {"iOS", "iPad", "ios"},
      {"iOS 17.2", "iPhone", "ios"},
      {"iPadOS 18", "iPad", "ios"},
      {"ios 17.2.1.4", "iPhone", "unknown"},
      {"macOS 15", "Mac", "macos"},
      {"macos", "Mac", "macos"},
      {"darwin", "Mac", "unknown"},
      {"android 14 (sdk 34)", "Android", "android"},
      {"Android 14", "Android", "android"},
      {"android 14 (sdk)", "Android", "unknown"},
      {"watchos 10", "Apple Watch", "watchos"},
      {"windows", "Windows", "windows"},
      {"", "MacBook Pro", "macos"},
      {"", "Pixel (Android)", "android"},
      {"", "", "unknown"},
      {"plan9", "linux", "unknown"},
      {"ｌｉｎｕｘ", "linux", "unknown"},  // full-width: no NFKD here, the narrow list
  };
  for (const auto& c : cases)
    EXPECT_EQ(normalize_platform_id(c.platform, c.family), c.id) << c.platform << "/" << c.family;
}

TEST(NodePolicy, LinuxInvokeAllowlistKeepsDesktopHostCommandsForApprovedSurfacesOnly) {
  const NodeCommandConfig cfg;
  PolicyNode linux{"linux", "Linux", {}, {}, std::nullopt};
  EXPECT_EQ(command_allowlist(cfg, linux), (CommandSet{"system.notify", "computer.act"}));
  linux.approved_commands = Strings{"system.which", "system.run", "camera.snap"};
  EXPECT_EQ(command_allowlist(cfg, linux),
            (CommandSet{"system.notify", "computer.act", "system.which", "system.run"}));
  // The pairing list keeps the host commands: the real node host's whole manifest is
  // declarable on Linux.
  const CommandSet pairing = pairing_command_allowlist(cfg, {"linux", "Linux", {}, kLinuxHost, {}});
  for (const auto& c : kLinuxHost) EXPECT_TRUE(pairing.count(c)) << c;
  EXPECT_FALSE(pairing.count("camera.snap"));
  EXPECT_FALSE(pairing.count("worker.launch.v1"));
}

TEST(NodePolicy, AllowAddsDangerousCommandsDenyAlwaysWins) {
  PolicyNode phone{"iOS 17.2", "iPhone", {}, {}, std::nullopt};
  NodeCommandConfig cfg;
  CommandSet plain = command_allowlist(cfg, phone);
  EXPECT_TRUE(plain.count("camera.list"));
  EXPECT_FALSE(plain.count("camera.snap"));
  EXPECT_TRUE(plain.count("watch.status"));  // iPhone relays its watch
  cfg.allow = {" camera.snap ", "worker.launch.v1"};
  CommandSet allowed = command_allowlist(cfg, phone);
  EXPECT_TRUE(allowed.count("camera.snap"));
  EXPECT_FALSE(allowed.count("worker.launch.v1"));  // private controls never
  cfg.deny = {"camera.snap", "location.get"};
  CommandSet denied = command_allowlist(cfg, phone);
  EXPECT_FALSE(denied.count("camera.snap"));
  EXPECT_FALSE(denied.count("location.get"));
  // Pairing: deny does not stop a dangerous command from being declared (approval still
  // shows it; invocation stays denied), but does remove an ordinary one.
  CommandSet pairing = pairing_command_allowlist(cfg, phone);
  EXPECT_TRUE(pairing.count("camera.snap"));
  EXPECT_FALSE(pairing.count("location.get"));
}

TEST(NodePolicy, TalkCommandsNeedATalkSurface) {
  const NodeCommandConfig cfg;
  EXPECT_FALSE(command_allowlist(cfg, {"android", "", {}, {}, {}}).count("talk.ptt.start"));
  EXPECT_TRUE(command_allowlist(cfg, {"android", "", {"Talk"}, {}, {}}).count("talk.ptt.start"));
  EXPECT_TRUE(
      command_allowlist(cfg, {"android", "", {}, {"talk.ptt.once"}, {}}).count("talk.ptt.stop"));
}

TEST(NodePolicy, DeclaredCommandsAreTrimmedDedupedAndFiltered) {
  const CommandSet allow = {"system.which", "system.run"};
  EXPECT_EQ(normalize_declared_commands(
                {" system.which", "system.which", "", "worker.status.v1", "sms.send", "system.run"},
                allow),
            (Strings{"system.which", "system.run"}));
  // A camera capability whose commands were all withheld is dropped; a sibling admitted keeps it.
  EXPECT_EQ(retain_fulfilled_caps({"camera", "system"}, {}, {"camera.snap"}), Strings{"system"});
  EXPECT_EQ(retain_fulfilled_caps({"camera"}, {"camera.list"}, {"camera.snap"}), Strings{"camera"});
}

TEST(NodePolicy, CommandCheckReasonsAndHints) {
  const CommandSet allow = {"system.which", "system.notify"};
  const NodeCommandConfig cfg{{}, {"system.run"}};
  EXPECT_EQ(check_node_command(" ", {}, allow).reason, "command required");
  EXPECT_EQ(check_node_command("system.run", {"system.run"}, allow).reason,
            "command not allowlisted");
  EXPECT_EQ(check_node_command("system.which", {}, allow).reason, "node did not declare commands");
  EXPECT_EQ(check_node_command("system.notify", {"system.which"}, allow).reason,
            "command not declared by node");
  EXPECT_TRUE(check_node_command("system.which", {"system.which"}, allow).ok);

  EXPECT_EQ(command_rejection_hint("node did not declare commands", "system.which", "linux",
                                   {"system.which"}, cfg),
            "node command not allowed: the node's declared command surface is pending approval; "
            "run `openclaw nodes pending`, then `openclaw nodes approve <requestId>`");
  EXPECT_EQ(command_rejection_hint("node did not declare commands", "x", "linux", {}, cfg),
            "node command not allowed: the node did not declare any supported commands");
  EXPECT_EQ(command_rejection_hint("command not allowlisted", "system.run", "linux", {}, cfg),
            "node command not allowed: \"system.run\" is blocked by gateway.nodes.commands.deny");
  EXPECT_EQ(command_rejection_hint("command not allowlisted", "sms.send", "android", {}, cfg),
            "node command not allowed: \"sms.send\" requires explicit gateway.nodes.commands.allow "
            "opt-in");
  EXPECT_EQ(command_rejection_hint("command not allowlisted", "foo.bar", "", {}, cfg),
            "node command not allowed: \"foo.bar\" is not in the allowlist for platform "
            "\"unknown\"");
  EXPECT_EQ(command_rejection_hint("command not declared by node", "camera.list", "linux", {}, cfg),
            "node command not allowed: the node (platform: linux) does not support "
            "\"camera.list\"");
}

TEST(NodePolicy, SurfaceApprovalScopes) {
  EXPECT_EQ(approve_scopes({}), (Strings{"operator.pairing"}));
  EXPECT_EQ(approve_scopes({"camera.list"}), (Strings{"operator.pairing", "operator.write"}));
  EXPECT_EQ(approve_scopes(kLinuxHost), (Strings{"operator.pairing", "operator.admin"}));
  EXPECT_EQ(approve_scopes({"browser.proxy"}), (Strings{"operator.pairing", "operator.admin"}));
}

TEST(NodePolicy, SystemRunApprovalFlagsAreRefused) {
  const auto code = [](const Json& p) -> std::string {
    auto r = sanitize_system_run_params(p);
    if (r) return "ok";
    return r.error().details.value("code", "") + " " + r.error().message;
  };
  EXPECT_EQ(code({{"command", {"id"}}, {"approved", true}}),
            "MISSING_RUN_ID approval override requires params.runId");
  EXPECT_EQ(code({{"command", {"id"}}, {"approved", true}, {"runId", "r1"}}),
            "APPROVALS_UNAVAILABLE exec approvals unavailable");
  EXPECT_EQ(code({{"command", {"id"}}, {"approvalDecision", "allow-always"}, {"runId", "r1"}}),
            "APPROVALS_UNAVAILABLE exec approvals unavailable");
  EXPECT_EQ(code({{"command", {"id"}}, {"approvalSource", "operator"}}),
            "INVALID_APPROVAL_SOURCE approval source invalid");
  EXPECT_EQ(code({{"command", {"id"}}, {"approvalSource", "ask-fallback"}, {"approved", false}}),
            "APPROVAL_SOURCE_MISMATCH approval source cannot be combined with explicit approval");
  EXPECT_EQ(code({{"rawCommand", "rm -rf /"}}),
            "MISSING_COMMAND rawCommand requires params.command");
  // Without flags: only the known keys go to the node; a smuggled flag of another name is gone.
  auto ok = sanitize_system_run_params({{"command", {"sh", "-c", "echo 你好"}},
                                        {"cwd", "/tmp"},
                                        {"approvedByUser", true},
                                        {"approved", false},
                                        {"approvalDecision", "deny"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), (Json{{"command", {"sh", "-c", "echo 你好"}}, {"cwd", "/tmp"}}));
  EXPECT_EQ(sanitize_system_run_params("not an object").value(), "not an object");
}

}  // namespace
}  // namespace clawgate::core
