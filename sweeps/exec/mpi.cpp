// The MPI executor: replicas of R ranks; rank 0 also runs the coordinator thread.
//
// Messages on a private duplicate of MPI_COMM_WORLD (text, so they are easy to log):
//   replica leader -> rank 0  kRequest   "<replica> <prev batch> <outcome> <model> <stopping>\n<error>"
//   rank 0 -> replica leader  kAssign    batch index, kWait or kStop
//   replica leader -> rank 0  kHeartbeat "<replica>" every heartbeat_s while a batch runs
// Waiting is done with MPI_Iprobe/MPI_Test and short sleeps, so idle ranks do not spin a core.
#include <mpi.h>
#include <unistd.h>

#include "expert_parallel/mpi_communicator.h"
#include "expert_parallel/replica.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "sweeps/exec/executor.h"
#include "sweeps/exec/worker.h"

namespace moe::sweeps {
namespace {

constexpr int kTagRequest = 101, kTagAssign = 102, kTagHeartbeat = 103;
constexpr int kWait = -1, kStop = -2;

// Sleeps that grow from 50 us to 20 ms while nothing arrives.
class Backoff {
 public:
  void reset() { us_ = 50; }
  void wait() {
    ::usleep(useconds_t(us_));
    us_ = std::min(us_ * 2, 20000);
  }

 private:
  int us_ = 50;
};

void send_text(MPI_Comm comm, int dest, int tag, const std::string& s) {
  MPI_CHECK(MPI_Send(s.data(), int(s.size()), MPI_CHAR, dest, tag, comm));
}

// A text message with tag `tag` from any rank, if one has arrived: matched probe and receive, so
// no other thread of this process can take it in between.
bool try_recv_text(MPI_Comm comm, int tag, std::string* text, MPI_Status* st) {
  int flag = 0;
  MPI_Message msg;
  MPI_CHECK(MPI_Improbe(MPI_ANY_SOURCE, tag, comm, &flag, &msg, st));
  if (!flag) return false;
  int n = 0;
  MPI_Get_count(st, MPI_CHAR, &n);
  text->assign(size_t(n), '\0');
  MPI_CHECK(MPI_Mrecv(text->data(), n, MPI_CHAR, &msg, MPI_STATUS_IGNORE));
  return true;
}

int recv_int_quiet(MPI_Comm comm, int src, int tag) {
  int v = 0;
  MPI_Request req;
  MPI_CHECK(MPI_Irecv(&v, 1, MPI_INT, src, tag, comm, &req));
  Backoff b;
  for (int done = 0; !done;) {
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (!done) b.wait();
  }
  return v;
}

void bcast_int_quiet(int* v, MPI_Comm comm) {
  MPI_Request req;
  MPI_CHECK(MPI_Ibcast(v, 1, MPI_INT, 0, comm, &req));
  Backoff b;
  for (int done = 0; !done;) {
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (!done) b.wait();
  }
}

struct Request {
  int replica = 0, prev = -1, outcome = 0, model = -1, stopping = 0;
  std::string error;
};

Request parse_request(const std::string& s) {
  Request r;
  std::istringstream in(s);
  in >> r.replica >> r.prev >> r.outcome >> r.model >> r.stopping;
  const size_t nl = s.find('\n');
  if (nl != std::string::npos) r.error = s.substr(nl + 1);
  return r;
}

// Rank 0's coordinator thread: serves requests until every replica has been told to stop.
void coordinate(const SweepConfig& c, const Plan& plan, Coordinator& coord, MPI_Comm ctrl,
                int replicas, StopFlag& stop, ProgressOutput& out, bool progress) {
  using clock = std::chrono::steady_clock;
  struct State {
    int group = -1;
    clock::time_point last_seen = clock::now();
    bool active = true;
  };
  std::vector<State> rs(static_cast<size_t>(replicas));
  int active = replicas;
  auto last_hb = clock::now();
  Backoff backoff;
  while (active > 0) {
    const auto now = clock::now();
    if (std::chrono::duration<double>(now - last_hb).count() >= c.execution.heartbeat_s) {
      coord.heartbeat();
      last_hb = now;
      for (size_t r = 0; r < rs.size(); ++r) {
        const double quiet = std::chrono::duration<double>(now - rs[r].last_seen).count();
        if (rs[r].active && rs[r].group >= 0 && quiet > c.execution.lease_ttl_s) {
          spdlog::warn("replica {} silent for {}: its batch {} goes back to pending", r,
                       format_duration(quiet), plan.groups[rs[r].group].id);
          coord.finished(rs[r].group, Coordinator::Outcome::kAbandoned);
          rs[r].active = false;
          rs[r].group = -1;
          --active;
        }
      }
    }
    // Only the coordinator's own tags: rank 0's replica receives its assignments on the same
    // communicator, and a probe for any tag could take one before that replica has posted its
    // receive (it would wait for it forever).
    MPI_Status st;
    std::string msg;
    if (try_recv_text(ctrl, kTagHeartbeat, &msg, &st)) {
      backoff.reset();
      const int r = std::atoi(msg.c_str());
      if (r >= 0 && r < replicas) rs[r].last_seen = clock::now();
      continue;
    }
    if (!try_recv_text(ctrl, kTagRequest, &msg, &st)) {
      if (progress) out.tick(coord.progress());
      backoff.wait();
      continue;
    }
    backoff.reset();
    const Request q = parse_request(msg);
    State& s = rs[size_t(q.replica)];
    s.last_seen = clock::now();
    if (q.prev >= 0) {
      const auto outcome = Coordinator::Outcome(q.outcome);
      coord.finished(q.prev, outcome, q.error);
      const std::string label = batch_label(c, plan, q.prev);
      if (outcome == Coordinator::Outcome::kFailed)
        spdlog::error("batch {} ({}) failed on replica {}: {}", plan.groups[q.prev].id, label,
                      q.replica, q.error);
      else if (outcome == Coordinator::Outcome::kDone && progress)
        out.event(fmt::format("done {} (replica {})", label, q.replica), coord.progress());
      s.group = -1;
    }
    if (q.stopping) stop.raise(StopLevel::kFinish);  // one replica was signalled: all stop
    int g = kStop;
    if (s.active && !stop.stopping()) {
      int next = -1;
      switch (coord.next(q.model, &next)) {
        case Coordinator::Next::kBatch: g = next; break;
        case Coordinator::Next::kWait: g = kWait; break;
        case Coordinator::Next::kDone: g = kStop; break;
      }
    }
    MPI_CHECK(MPI_Send(&g, 1, MPI_INT, st.MPI_SOURCE, kTagAssign, ctrl));
    if (g >= 0) s.group = g;
    if (g == kStop && s.active) {
      s.active = false;
      --active;
    }
  }
  if (progress) out.finish();
}

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

RunSummary run_mpi(const SweepConfig& c, const Plan& plan, results::Store& store,
                   const RunOptions& o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int R = c.models.empty() ? 1 : c.models[0].expert_parallel;
  for (const auto& m : c.models)
    if (m.expert_parallel != R)
      throw InputError(fmt::format("{}: models.{}.expert_parallel", c.source.string(), m.name),
                       fmt::format("expected the same degree for every model in one MPI run "
                                   "({}), found {}",
                                   R, m.expert_parallel));
  if (size % R != 0)
    throw InputError(fmt::format("{}: models.{}.expert_parallel", c.source.string(),
                                 c.models[0].name),
                     fmt::format("expected a divisor of the number of ranks ({}), found {}",
                                 size, R));
  // Every rank must have built the same plan.
  char hash[17] = {};
  std::snprintf(hash, sizeof(hash), "%s", plan.hash.c_str());
  MPI_CHECK(MPI_Bcast(hash, 16, MPI_CHAR, 0, MPI_COMM_WORLD));
  int mismatch = plan.hash != std::string(hash, 16), any = 0;
  MPI_Allreduce(&mismatch, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any)
    throw Error(fmt::format("ranks built different plans (rank {} has {}, rank 0 {}): start "
                            "every rank with the same config and overrides",
                            rank, plan.hash, std::string(hash, 16)));

  int provided = 0;
  MPI_CHECK(MPI_Query_thread(&provided));
  if (provided < MPI_THREAD_MULTIPLE)
    throw Error("MPI: the library does not provide MPI_THREAD_MULTIPLE (rank 0 runs the "
                "coordinator thread beside its replica)");
  // Control messages on private communicators: the coordinator's, and per replica for handing
  // a batch from its leader to its other ranks. Expert parallelism has its own (ep::Replica).
  MPI_Comm ctrl_raw, replica_ctrl_raw;
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &ctrl_raw));
  ep::MpiComm ctrl_owner(ctrl_raw);
  MPI_CHECK(MPI_Comm_split(ctrl_raw, rank / R, rank, &replica_ctrl_raw));
  ep::MpiComm replica_ctrl_owner(replica_ctrl_raw);
  const MPI_Comm ctrl = ctrl_raw, replica_comm = replica_ctrl_raw;
  const ReplicaInfo info{rank / R, size / R, rank % R, R};
  ep::ReplicaOptions ro;
  ro.expert_parallel = R;
  ro.where = c.source.string() + ": models.*.expert_parallel";
  ep::Replica replica(ep::MpiCommunicator::world()->split(rank / R, rank), ro, info.index,
                      info.count);
  const std::string owner = o.owner.empty() ? results::Leases::make_owner() : o.owner;
  StopFlag& stop = process_stop_flag();

  std::unique_ptr<results::Leases> leases;
  std::unique_ptr<Coordinator> coord;
  std::unique_ptr<ProgressOutput> out;
  std::thread coordinator;
  if (rank == 0) {
    leases = std::make_unique<results::Leases>(store.leases_dir(), owner, c.execution.lease_ttl_s);
    if (o.clear_failed) store.clear_all_failed();
    store.clean_tmp(c.execution.lease_ttl_s);
    coord = std::make_unique<Coordinator>(plan, store, *leases, c.execution.poll_s);
    out = std::make_unique<ProgressOutput>();
    spdlog::info("MPI: {} ranks, {} replicas of {} rank(s)", size, info.count, R);
    coordinator = std::thread([&] {
      try {
        coordinate(c, plan, *coord, ctrl, info.count, stop, *out, o.progress);
      } catch (const std::exception& e) {
        spdlog::critical("coordinator: {}", e.what());
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    });
  }
  MPI_Barrier(MPI_COMM_WORLD);  // the rank-0 store setup happens before anyone takes work

  RunnerContext ctx{&c, &plan, &store, info, &replica};
  std::unique_ptr<UnitRunner> runner;
  if (info.rank == 0) {
    int prev = -1, model = -1;
    BatchOutcome last;
    while (true) {
      const std::string req = fmt::format("{} {} {} {} {}\n{}", info.index, prev,
                                          int(last.outcome), model, int(stop.stopping()),
                                          last.error);
      send_text(ctrl, 0, kTagRequest, req);
      int g = recv_int_quiet(ctrl, 0, kTagAssign);
      prev = -1;
      last = {};
      if (g == kWait) {
        std::this_thread::sleep_for(std::chrono::duration<double>(c.execution.poll_s));
        continue;
      }
      if (R > 1) bcast_int_quiet(&g, replica_comm);
      if (g == kStop) break;
      if (!runner) {
        runner = make_runner(ctx);
        if (info.index == 0) spdlog::info("runner: {}", runner->name());
      }
      {
        Periodic hb(c.execution.heartbeat_s, [&] {
          send_text(ctrl, 0, kTagHeartbeat, std::to_string(info.index));
        });
        last = run_batch(*runner, ctx, g, stop, owner);
      }
      prev = g;
      if (plan.groups[g].model >= 0) model = plan.groups[g].model;
    }
  } else {
    while (true) {
      int g = kStop;
      bcast_int_quiet(&g, replica_comm);
      if (g == kStop) break;
      if (!runner) runner = make_runner(ctx);
      run_batch(*runner, ctx, g, stop, owner);
    }
  }
  if (coordinator.joinable()) coordinator.join();

  // Rank 0 tells everyone how the run ended, so every rank exits with the same status.
  int64_t summary[5] = {0, 0, 0, 0, 0};
  if (rank == 0) {
    coord->refresh();
    const Progress p = coord->progress();
    summary[0] = p.units_total;
    summary[1] = p.units_done;
    summary[2] = p.units_done_here;
    summary[3] = coord->failed_here();
    summary[4] = stop.stopping();
  }
  MPI_CHECK(MPI_Bcast(summary, 5, MPI_INT64_T, 0, MPI_COMM_WORLD));
  RunSummary s;
  s.units_total = summary[0];
  s.units_done = summary[1];
  s.units_done_here = summary[2];
  s.batches_failed = summary[3];
  s.stopped = summary[4] != 0;
  return s;
}

}  // namespace moe::sweeps
