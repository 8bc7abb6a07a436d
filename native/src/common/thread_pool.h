// A persistent CPU thread pool shared by every kernel of the addon.
//
// Determinism contract: `parallelFor(n, fn)` runs fn(i) once for each task index i in [0, n). Kernels write
// each task's results into a slot of their own and reduce the slots in index order afterwards, so results
// never depend on which thread ran which task or on how many threads there are.
//
// Latency: one tracker iteration makes dozens of short parallelFor calls (each kernel runs a few passes of
// well under a millisecond). Waking a sleeping thread through the kernel costs ~25 us on the virtualised
// machines we run on, which would be a large share of each pass, so idle workers first spin on an atomic
// generation counter for a bounded time (kSpinMicros, yielding the core after the first microseconds) and only
// then sleep on a condition variable; the caller likewise polls while the workers finish. With more threads
// than cores nobody polls (a poller would hold the core the thread it waits for needs). Tasks are handed out with
// one atomic increment each.
// Home ranges: the tasks of a call are split into one contiguous range per thread (the caller's first, then worker
// i's), each with its own counter on its own cache line; a thread takes the tasks of its own range first, in
// ascending order, then helps with the others' ranges. Kernels split images the same way (rows of tiles, bands,
// pixel chunks, all in ascending order), so a core mostly reads the pixels it wrote in the previous pass: with
// every task handed out from one shared counter, the two cores took alternate tasks, and each pass read about half
// of its input from the other core's cache, a cross-core transfer per cache line (which costs here as much as a
// pass's own work on it).
// A worker takes part in a call only by joining it (jobState_) while it is open; the caller, once every task is
// taken, waits only for the workers that joined and then closes the call. So a call never waits for a worker
// that is still waking up: after a gap longer than the spin window (the tracker's JavaScript phases) a kernel's
// first pass used to wait 0.05-0.2 ms for the worker's wake-up even when the caller had run every task itself.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
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
  void workerLoop(unsigned long long seen, int home);
  void runTasks(int home);

  std::vector<std::thread> workers_;
  std::atomic<int> threads_{1};
  std::mutex callMutex_;  // one parallelFor (or resize) at a time
  // Sleeping side: a worker that spun for kSpinMicros without new work waits on wake_; the caller that
  // waited as long for the last worker waits on done_. Both predicates are re-checked under mutex_.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  int sleepingWorkers_ = 0;   // guarded by mutex_
  bool callerSleeping_ = false;  // guarded by mutex_
  // Published job: written by the caller before generation_ is bumped (release), read by workers after
  // they see the new generation (acquire).
  const std::function<void(int)>* job_ = nullptr;
  // The call's home ranges, one per thread (index 0: the caller, i + 1: worker i): tasks [next, end) not yet taken.
  struct alignas(64) HomeRange {
    std::atomic<int> next{0};
    int end = 0;
  };
  std::unique_ptr<HomeRange[]> ranges_;
  int rangeCount_ = 0;
  // The call of generation g: (g << kStateShift) | kClosed (once closed) | number of workers inside it. Workers
  // join with a compare-and-swap that fails once the generation moved on or the call is closed; the caller
  // closes the call (same way) when no worker is inside, after which job_ and ranges_ may be reused.
  std::atomic<unsigned long long> jobState_{0};
  std::atomic<unsigned long long> generation_{0};
  std::atomic<bool> stopping_{false};
  bool spin_ = true;  // poll before sleeping (only when there are no more threads than cores); set by startWorkers
};

}  // namespace p3d
