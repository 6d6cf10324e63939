// fio: Linux file and block-device calls Node.js does not expose.
//   fallocate(2)                      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
//   FALLOC_FL_ZERO_RANGE lseek(2)                          SEEK_DATA / SEEK_HOLE (ENXIO: no further
//   data or hole) ioctl(2) on block devices         BLKGETSIZE64, BLKSSZGET, BLKPBSZGET,
//   BLKDISCARD, BLKZEROOUT
// (include/uapi/linux/fs.h, include/uapi/linux/falloc.h). Every call takes an fd the caller
// owns; offsets and lengths are bytes, ranges half-open [offset, offset + length).
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "fileio-worker.h"

namespace {

class FallocateWorker : public FioWorker {
 public:
  FallocateWorker(Napi::Env env, int fd, int mode, int64_t offset, int64_t length)
      : FioWorker(env, "extentlog.fallocate"),
        fd_(fd),
        mode_(mode),
        offset_(offset),
        length_(length) {}

  void Execute() override {
    int rc;
    do {
      rc = fallocate(fd_, mode_, offset_, length_);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) Fail("fallocate", errno);
  }

 private:
  int fd_, mode_;
  int64_t offset_, length_;
};

// Resolves the offset SEEK_DATA/SEEK_HOLE found, or -1 when the kernel said ENXIO (no data,
// resp. no hole, at or after `offset`: the end of the file).
class SeekWorker : public FioWorker {
 public:
  SeekWorker(Napi::Env env, int fd, int64_t offset, int whence)
      : FioWorker(env, "extentlog.lseek"), fd_(fd), offset_(offset), whence_(whence) {}

  void Execute() override {
    off_t found = lseek(fd_, offset_, whence_);
    if (found >= 0) {
      result_ = found;
    } else if (errno == ENXIO) {
      result_ = -1;
    } else {
      Fail("lseek", errno);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(result_));
  }

 private:
  int fd_;
  int64_t offset_;
  int whence_;
  int64_t result_ = -1;
};

enum class BlkQuery { kSize, kSectorSizes };

class BlkQueryWorker : public FioWorker {
 public:
  BlkQueryWorker(Napi::Env env, int fd, BlkQuery query)
      : FioWorker(env, "extentlog.blkquery"), fd_(fd), query_(query) {}

  void Execute() override {
    if (query_ == BlkQuery::kSize) {
      if (ioctl(fd_, BLKGETSIZE64, &size_) != 0) Fail("ioctl(BLKGETSIZE64)", errno);
      return;
    }
    if (ioctl(fd_, BLKSSZGET, &logical_) != 0) return Fail("ioctl(BLKSSZGET)", errno);
    if (ioctl(fd_, BLKPBSZGET, &physical_) != 0) Fail("ioctl(BLKPBSZGET)", errno);
  }

  Napi::Value Result(Napi::Env env) override {
    if (query_ == BlkQuery::kSize) return Napi::Number::New(env, static_cast<double>(size_));
    Napi::Object sizes = Napi::Object::New(env);
    sizes.Set("logicalBytes", Napi::Number::New(env, logical_));
    sizes.Set("physicalBytes", Napi::Number::New(env, physical_));
    return sizes;
  }

 private:
  int fd_;
  BlkQuery query_;
  uint64_t size_ = 0;
  int logical_ = 0;
  unsigned int physical_ = 0;
};

class BlkRangeWorker : public FioWorker {
 public:
  BlkRangeWorker(Napi::Env env, int fd, unsigned long request, const char* syscall, uint64_t offset,
                 uint64_t length)
      : FioWorker(env, "extentlog.blkrange"),
        fd_(fd),
        request_(request),
        call_(syscall),
        range_{offset, length} {}

  void Execute() override {
    if (ioctl(fd_, request_, range_) != 0) Fail(call_, errno);
  }

 private:
  int fd_;
  unsigned long request_;
  const char* call_;
  uint64_t range_[2];
};

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  if (!FioCheckNumbers(info, 4)) return info.Env().Undefined();
  auto* worker = new FallocateWorker(info.Env(), static_cast<int>(FioInt64(info, 0)),
                                     static_cast<int>(FioInt64(info, 1)), FioInt64(info, 2),
                                     FioInt64(info, 3));
  worker->Queue();
  return worker->Promise();
}

Napi::Value Seek(const Napi::CallbackInfo& info) {
  if (!FioCheckNumbers(info, 3)) return info.Env().Undefined();
  auto* worker = new SeekWorker(info.Env(), static_cast<int>(FioInt64(info, 0)), FioInt64(info, 1),
                                static_cast<int>(FioInt64(info, 2)));
  worker->Queue();
  return worker->Promise();
}

Napi::Value BlkQueryCall(const Napi::CallbackInfo& info, BlkQuery query) {
  if (!FioCheckNumbers(info, 1)) return info.Env().Undefined();
  auto* worker = new BlkQueryWorker(info.Env(), static_cast<int>(FioInt64(info, 0)), query);
  worker->Queue();
  return worker->Promise();
}

Napi::Value BlkGetSize64(const Napi::CallbackInfo& info) {
  return BlkQueryCall(info, BlkQuery::kSize);
}

Napi::Value BlkSectorSizes(const Napi::CallbackInfo& info) {
  return BlkQueryCall(info, BlkQuery::kSectorSizes);
}

Napi::Value BlkRangeCall(const Napi::CallbackInfo& info, unsigned long request,
                         const char* syscall) {
  if (!FioCheckNumbers(info, 3)) return info.Env().Undefined();
  auto* worker = new BlkRangeWorker(info.Env(), static_cast<int>(FioInt64(info, 0)), request,
                                    syscall, static_cast<uint64_t>(FioInt64(info, 1)),
                                    static_cast<uint64_t>(FioInt64(info, 2)));
  worker->Queue();
  return worker->Promise();
}

Napi::Value BlkDiscard(const Napi::CallbackInfo& info) {
  return BlkRangeCall(info, BLKDISCARD, "ioctl(BLKDISCARD)");
}

Napi::Value BlkZeroOut(const Napi::CallbackInfo& info) {
  return BlkRangeCall(info, BLKZEROOUT, "ioctl(BLKZEROOUT)");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("seek", Napi::Function::New(env, Seek, "seek"));
  exports.Set("blkGetSize64", Napi::Function::New(env, BlkGetSize64, "blkGetSize64"));
  exports.Set("blkSectorSizes", Napi::Function::New(env, BlkSectorSizes, "blkSectorSizes"));
  exports.Set("blkDiscard", Napi::Function::New(env, BlkDiscard, "blkDiscard"));
  exports.Set("blkZeroOut", Napi::Function::New(env, BlkZeroOut, "blkZeroOut"));

  Napi::Object constants = Napi::Object::New(env);
  constants.Set("FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE);
  constants.Set("FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE);
  constants.Set("FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE);
  constants.Set("SEEK_DATA", SEEK_DATA);
  constants.Set("SEEK_HOLE", SEEK_HOLE);
  exports.Set("constants", constants);

  FioInitHashBlocks(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(fileio, Init)
