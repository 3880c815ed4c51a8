// CronService: scheduled agent work and the heartbeat, in the front.
// - Jobs (cron.list/add/update/remove/run/runs) as upstream shapes them: schedule `at` (an ISO
//   8601 time), `every` (everyMs from an anchor, at least 1 s) or `cron` (5-field expression,
//   local time or "UTC"); payload `agentTurn` (a run in the main session, the job's own
//   isolated session agent:main:cron:<id>, or sessionTarget "session:<key>", any key a client
//   may name, refused at cron.add/update when it is not one) or `systemEvent` (a line in the
//   main session). Jobs live in
//   cron/jobs.json (atomic writes); each run is appended to cron/runs/<job>.jsonl (kept to the
//   last 500). `cron` events: added / updated / removed / started / finished.
// - The heartbeat: every `agents.defaults.heartbeat.every` (default 30m, "0m" off) a run in the
//   main session with the heartbeat prompt; the answer "HEARTBEAT_OK" means nothing to report.
//   Each beat is a `heartbeat` event and what `last-heartbeat` returns.
// Fails: bad schedules are INVALID_REQUEST naming the field; a job whose previous run is still
// going is skipped (recorded as such), never stacked; disk errors are logged and answered
// UNAVAILABLE.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "clock.hpp"
#include "core/runs.hpp"
#include "duration.hpp"
#include "log.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core {

using clawgate::parse_duration_ms;  // common/duration.hpp: the config reads durations too
// ISO 8601 date-time ("2026-11-24T20:00:00Z", offsets, fractions) -> epoch ms.
std::optional<int64_t> parse_iso_time_ms(const std::string& s);
// The first minute strictly after `after_ms` matching a 5-field cron expression, in UTC or
// local time; nullopt when the expression is malformed or never matches within a year.
std::optional<int64_t> next_cron_ms(const std::string& expr, int64_t after_ms, bool utc);

class CronService {
 public:
  static constexpr int64_t kMinEveryMs = 1000;
  static constexpr int64_t kMaxHeartbeatEveryMs = 366LL * 86'400'000;
  static constexpr size_t kMaxJobs = 500;
  static constexpr size_t kRunsKept = 500;
  static constexpr const char* kHeartbeatPrompt =
      "Heartbeat: check whether anything needs the user's attention. If nothing does, reply "
      "exactly HEARTBEAT_OK.";

  CronService(boost::asio::io_context& io, const Clock& clock, Logger& log,
              const std::string& state_dir, RunManager& runs, RunManager::Emit emit,
              const std::string& agent_config_json);
  ~CronService() { runs_.on_adopt_background(nullptr); }  // the hook holds `this`
  void start();
  // Its route table is the one list of its methods.
  static bool serves(schema::Method m);
  bool call(schema::Method method, const Json& params,
            const ReplyFn& reply);                          // false: not its method
  std::function<void(const Json& heartbeat)> on_heartbeat;  // for last-heartbeat

 private:
  struct Route {
    schema::Method method;
    Reply (*handler)(CronService& self, const Json& params);
  };
  static const Route* route(schema::Method m);

  std::optional<int64_t> next_run(const Json& job, int64_t after_ms) const;
  void arm();
  void tick();
  void run_job(const std::string& id, const std::string& trigger);
  // What ends a job's run (trigger "" for one resumed from an earlier front) and a heartbeat.
  RunManager::DoneHook job_run_done(const std::string& id, const std::string& run_id,
                                    int64_t started_ms, const std::string& session,
                                    const std::string& trigger);
  RunManager::DoneHook heartbeat_done(int64_t started_ms);
  RunManager::DoneHook adopt(const std::string& run_id, const RunManager::Origin& origin,
                             bool heartbeat, int64_t started_ms);
  void beat();
  void save();
  void record(const std::string& id, const Json& entry);
  // The session a job's agentTurn runs in (sessionTarget "main" or "current": the main session;
  // "isolated": the job's own; "session:<key>": that key), or nullopt with the reason.
  static std::optional<SessionKey> session_for(const Json& job, std::string* why);
  Json* find(const std::string& id);
  // The cron.* methods; update, remove, run and runs are given the job call() found. add is
  // also given its params as sent: they are the job's document.
  Reply m_list(const schema::params::CronList& p) const;
  Reply m_add(const schema::params::CronAdd& p, Json job);
  Reply m_update(Json& job, const schema::params::CronUpdate& p);
  Reply m_remove(const std::string& id);
  Reply m_run(const Json& job, const schema::params::CronRun& p);
  Reply m_runs(const std::string& id, const schema::params::CronRuns& p) const;
  void event(const std::string& job_id, const std::string& action, Json extra = Json::object());

  const Clock& clock_;
  Logger& log_;
  std::string dir_;
  RunManager& runs_;
  RunManager::Emit emit_;
  Json jobs_ = Json::array();
  std::set<std::string> running_;
  boost::asio::steady_timer timer_, heartbeat_timer_;
  int64_t heartbeat_every_ms_ = 30 * 60 * 1000;
  std::string heartbeat_target_ = "none";
  bool heartbeat_running_ = false;
  uint64_t counter_ = 0;
};

}  // namespace clawgate::core
