// A persistent CPU thread pool shared by every kernel of the addon.
//
// Determinism contract: `parallelFor(n, fn)` runs fn(i) once for each task index i in [0, n). Kernels write
// each task's results into a slot of their own and reduce the slots in index order afterwards, so results
// never depend on which thread ran which task or on how many threads there are.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace p3d {

class ThreadPool {
 public:
  static ThreadPool& instance();

  /** Number of threads that run tasks (workers plus the calling thread). */
  int threadCount() const { return threads_.load(); }
  /** Resize the pool; n <= 0 means one thread per hardware core. */
  void setThreadCount(int n);
  /**
   * Run fn(i) for i in [0, count); returns when all are done. Calls from different threads (Node worker
   * threads share this pool) are serialised; a call from inside fn is not allowed.
   */
  void parallelFor(int count, const std::function<void(int)>& fn);

  ~ThreadPool();

 private:
  ThreadPool();
  void startWorkers(int n);
  void stopWorkers();
  void workerLoop();
  void runTasks();

  std::vector<std::thread> workers_;
  std::atomic<int> threads_{1};
  std::mutex callMutex_;  // one parallelFor (or resize) at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  int jobCount_ = 0;
  int nextTask_ = 0;
  int pendingWorkers_ = 0;
  unsigned long long generation_ = 0;
  bool stopping_ = false;
};

}  // namespace p3d
